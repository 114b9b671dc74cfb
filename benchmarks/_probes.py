"""Measurements that need a fresh interpreter; ``run.py`` starts one process per measurement.

    python benchmarks/_probes.py startup TOOL OUTDIR
    python benchmarks/_probes.py idle TOOL SECONDS START_AT_EPOCH OUTDIR
    python benchmarks/_probes.py memory TOOL SAMPLES

TOOL is ``wattprint`` (``save=False``), ``wattprint_files`` (footprint JSON
and CSV written), ``codecarbon``, ``wattprint_10hz``, ``codecarbon_10hz``,
``none``, or (idle only) ``bare_thread_10hz``, a thread that wakes at 10 Hz
and does nothing. Each prints one JSON object on its last line of stdout. Outbound
network is refused inside the probe (loopback and Unix sockets stay allowed)
and every attempt is counted in ``net_attempts``.

Units: seconds (``*_s``), bytes (``*_bytes``), CPU seconds (``cpu_s``).
"""

from __future__ import annotations

import json
import os
import resource
import socket
import sys
import time

_NET_ATTEMPTS = []


def _block_network() -> None:
    """Refuse non-loopback connections and DNS lookups, counting each attempt."""
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def _is_local(host: object) -> bool:
        return isinstance(host, str) and (host in ("localhost", "::1") or host.startswith("127."))

    def connect(self, address):  # type: ignore[no-untyped-def]
        if self.family == getattr(socket, "AF_UNIX", None) or (isinstance(address, tuple) and _is_local(address[0])):
            return real_connect(self, address)
        _NET_ATTEMPTS.append(f"connect {address!r}")
        raise OSError("network blocked by the benchmark")

    def getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host is None or _is_local(host):
            return real_getaddrinfo(host, *args, **kwargs)
        _NET_ATTEMPTS.append(f"getaddrinfo {host!r}")
        raise socket.gaierror("network blocked by the benchmark")

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]


def rss_bytes() -> int:
    """Resident set size now, bytes (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cpu_s() -> float:
    """CPU time of this process (all threads, user + system), seconds."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _quiet_logs() -> None:
    import logging

    logging.getLogger("codecarbon").setLevel(logging.ERROR)


def _fake_gpus(n: int) -> None:
    """``pynvml`` is the fake NVML library with ``n`` GPUs (counters advancing at 300 W each)."""
    import time as _time

    from wattprint.testing.fake_pynvml import FakeGpu, make_fake_nvml

    fleet = [FakeGpu(uuid=f"GPU-{i:08x}-0000-0000-0000-000000000000") for i in range(n)]
    nvml = make_fake_nvml(fleet)
    real_energy = nvml.nvmlDeviceGetTotalEnergyConsumption
    t0 = _time.monotonic()

    def energy(h: object) -> int:
        h.gpu.energy_mj = 10_000_000 + int((_time.monotonic() - t0) * 300_000)  # type: ignore[attr-defined]
        return real_energy(h)

    nvml.nvmlDeviceGetTotalEnergyConsumption = energy
    sys.modules["pynvml"] = nvml


def _import(tool: str) -> object:
    if tool.endswith("_8gpu"):
        _fake_gpus(8)
    if tool.startswith("wattprint"):
        import wattprint

        return wattprint
    if tool.startswith("codecarbon"):
        import codecarbon

        return codecarbon
    return None


def _make(tool: str, module: object, outdir: str) -> object:
    """A tracker as a user would build it (CodeCarbon offline, no files)."""
    if tool == "wattprint":
        return module.Tracker("bench", save=False)  # type: ignore[attr-defined]
    if tool == "wattprint_defaults_8gpu":  # the real defaults: files, 60 s checkpoints, 1 s ticks; 8 (fake) GPUs
        return module.Tracker("bench", output_dir=outdir)  # type: ignore[attr-defined]
    if tool == "wattprint_files":
        return module.Tracker("bench", output_dir=outdir)  # type: ignore[attr-defined]
    if tool == "wattprint_10hz":
        return module.Tracker("bench", save=False, interval_s=0.1)  # type: ignore[attr-defined]
    if tool == "codecarbon":
        return module.OfflineEmissionsTracker(country_iso_code="USA", save_to_file=False, log_level="error")  # type: ignore[attr-defined]
    if tool == "codecarbon_10hz":
        return module.OfflineEmissionsTracker(  # type: ignore[attr-defined]
            country_iso_code="USA", save_to_file=False, log_level="error", measure_power_secs=0.1
        )
    raise ValueError(f"unknown tool {tool!r}")


def startup(tool: str, outdir: str) -> dict:
    """Import time, RSS added, cold and warm construct+start+stop latency."""
    rss0 = rss_bytes()
    t = time.perf_counter()
    module = _import(tool)
    import_s = time.perf_counter() - t
    rss_import = rss_bytes()
    out = {"tool": tool, "import_s": import_s, "rss_import_bytes": rss_import - rss0}
    if module is None:
        return out
    _quiet_logs()
    t = time.perf_counter()
    tracker = _make(tool, module, outdir)
    t1 = time.perf_counter()
    tracker.start()  # type: ignore[attr-defined]
    t2 = time.perf_counter()
    tracker.stop()  # type: ignore[attr-defined]
    t3 = time.perf_counter()
    out.update(init_s=t1 - t, start_s=t2 - t1, stop_s=t3 - t2, start_stop_s=t3 - t)
    out["rss_total_bytes"] = rss_bytes() - rss0
    # a second tracker in the same process (both tools cache hardware discovery)
    t = time.perf_counter()
    tracker = _make(tool, module, outdir)
    tracker.start()  # type: ignore[attr-defined]
    tracker.stop()  # type: ignore[attr-defined]
    out["warm_start_stop_s"] = time.perf_counter() - t
    return out


class _BareThread:
    """The floor for any sampler: a thread that wakes at 10 Hz and does nothing."""

    def __init__(self, period_s: float = 0.1) -> None:
        import threading

        self.period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            pass

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def idle(tool: str, seconds: float, start_at: float, outdir: str) -> dict:
    """CPU used by the tracker's background threads while the main thread sleeps."""
    if tool == "bare_thread_10hz":
        module, tracker = None, _BareThread(0.1)
    else:
        module = _import(tool)
        _quiet_logs()
        tracker = _make(tool, module, outdir) if module is not None else None
    if tracker is not None:
        tracker.start()  # type: ignore[attr-defined]
    late_s = max(0.0, time.time() - start_at)
    time.sleep(max(0.0, start_at - time.time()))
    sampler = getattr(tracker, "_sampler", None)
    ticks0 = getattr(sampler, "ticks", None)
    c0, w0 = cpu_s(), time.monotonic()
    time.sleep(seconds)
    c1, w1 = cpu_s(), time.monotonic()
    ticks1 = getattr(sampler, "ticks", None)
    if tracker is not None:
        tracker.stop()  # type: ignore[attr-defined]
    out = {"tool": tool, "cpu_s": c1 - c0, "wall_s": w1 - w0, "late_s": late_s}
    out["cpu_ms_per_s"] = 1000.0 * out["cpu_s"] / out["wall_s"]
    if ticks0 is not None and ticks1 is not None:
        out["samples_per_s"] = (ticks1 - ticks0) / out["wall_s"]
    return out


def memory(tool: str, samples: int) -> dict:
    """Memory held after ``samples`` sampler ticks, driven without sleeping.

    wattprint: a Tracker with a counter ReplaySensor and a ManualClock; each
    tick advances the clock by 1 s and calls ``sample_now()`` (ledger read,
    timeline point). CodeCarbon: its 1 s ``_monitor_power`` and, every 15th
    tick, ``_measure_power_and_energy``, with its scheduler threads stopped.
    Traced Python memory (tracemalloc) and RSS are recorded at checkpoints.
    """
    import math
    import tracemalloc

    checkpoints = sorted({c for c in (1_000, 10_000, 100_000, 1_000_000, samples, samples // 2) if 0 < c <= samples})
    if tool == "wattprint":
        import wattprint
        from wattprint.testing import ManualClock

        clock = ManualClock()
        sensor = wattprint.ReplaySensor([(0.0, 120.0), (7.5, 310.0), (19.0, 80.0)], component_id="gpu:0", kind="gpu")
        tracker = wattprint.Tracker("bench", sensors=[sensor], clock=clock, interval_s=math.inf, save=False, handle_signals=False)
        tracker.start()

        def tick(i: int) -> None:
            clock.advance(1.0)
            tracker.sample_now()

        def finish() -> None:
            tracker.stop()

    elif tool == "codecarbon":
        import codecarbon

        _quiet_logs()
        tracker = codecarbon.OfflineEmissionsTracker(country_iso_code="USA", save_to_file=False, log_level="error")
        tracker.start()
        tracker._scheduler.stop()
        tracker._scheduler_monitor_power.stop()

        def tick(i: int) -> None:
            tracker._monitor_power()
            if i % 15 == 14:
                tracker._measure_power_and_energy()

        def finish() -> None:
            tracker.stop()

    else:
        raise ValueError(f"unknown tool {tool!r}")
    tracemalloc.start()
    base_traced = tracemalloc.get_traced_memory()[0]
    base_rss = rss_bytes()
    points = []
    t0 = time.perf_counter()
    done = 0
    for target in checkpoints:
        for i in range(done, target):
            tick(i)
        done = target
        points.append(
            {
                "samples": target,
                "traced_bytes": tracemalloc.get_traced_memory()[0] - base_traced,
                "rss_bytes": rss_bytes() - base_rss,
            }
        )
    elapsed = time.perf_counter() - t0
    tracemalloc.stop()
    finish()
    return {"tool": tool, "samples": samples, "points": points, "us_per_tick_traced": 1e6 * elapsed / max(samples, 1)}


def main(argv: list) -> int:
    _block_network()
    kind, tool = argv[0], argv[1]
    if kind == "startup":
        res = startup(tool, argv[2])
    elif kind == "idle":
        res = idle(tool, float(argv[2]), float(argv[3]), argv[4])
    elif kind == "memory":
        res = memory(tool, int(argv[2]))
    else:
        raise SystemExit(f"unknown probe {kind!r}")
    res["net_attempts"] = list(_NET_ATTEMPTS)
    sys.stdout.write("\n" + json.dumps(res) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
