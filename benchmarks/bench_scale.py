"""The costs that grow with the work (issue 20): GPUs, windows, ticks, checkpoints, runs in a folder; window edges vs Zeus.

    python benchmarks/bench_scale.py [--quick] [--out benchmarks/out/scale.json]
    python benchmarks/bench_scale.py --ticks-1e8 --out benchmarks/out/scale_1e8.json

Everything runs in this process on a simulated clock (``ManualClock``) against the fake
NVML library (``wattprint.testing.fake_pynvml``), so a "minute" of run costs what its
ticks and checkpoint cost, not a minute. Each figure is the median of repeated
batches with its quartiles (IQR). Sections:

* ``edges``: one window's begin+end (``Tracker.window``; and with its result read at once,
  and the caller-thread reads of an injected clock) against Zeus 0.16
  ``ZeusMonitor.begin_window``/``end_window`` (``sync_execution=False``) on the same fake
  library (Zeus needs two extra attributes it checks: ``_nvmlGetFunctionPointer`` and
  ``nvmlDeviceGetArchitecture``), at 1, 8, 64 GPUs, alternating batches; wall and process
  CPU (all threads) per pair.
* ``steady``: CPU per simulated minute at the real defaults (1 s ticks, 60 s checkpoints,
  files on) against ``save=False``, at 0 (a replay CPU sensor), 8 and 64 GPUs, over a
  run already 2,048 points long; and one checkpoint's cost and JSON size. A third arm, ``files only``,
  writes the same checkpoint files with the document built and encoded once in advance: the share of
  the checkpoint that is file-system work and journal lines, not building and encoding.
* ``windows``: building the footprint after 10, 10^3, 10^5 windows.
* ``timeline``: appends per second and the shape (points, stride, the least and most
  populated tenth of the run) after 10^3 ... 10^7 ticks; ``--ticks-1e8`` (alone) pushes 10^8
  ticks through a run's timeline, then writes its footprint and validates it against the schema.
* ``report``: ``wattprint report --summary`` over 10^3 and 10^4 small footprints in a
  folder, in a child process: wall time and peak RSS (``VmHWM``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List

import wattprint as wp
from wattprint.engine import clock as wp_clock
from wattprint.engine.sensors.nvidia import NvidiaSensor
from wattprint.testing import ManualClock, StepEvent  # StepEvent(ticks=0): the sampler thread ticks never; ticks are driven here
from wattprint.testing.fake_pynvml import FakeGpu, make_fake_nvml


def q(values: List[float]) -> Dict[str, float]:
    v = sorted(values)
    qs = statistics.quantiles(v, n=4, method="inclusive") if len(v) > 1 else [v[0]] * 3
    return {"median": statistics.median(v), "q1": qs[0], "q3": qs[2], "n": len(v)}


def gpus(n: int) -> List[FakeGpu]:
    return [FakeGpu(uuid=f"GPU-{i:08x}-0000-0000-0000-000000000000") for i in range(n)]


def _sensors(n_gpus: int, nvml: Any = None) -> List[Any]:
    cpu = wp.ReplaySensor([(0, 65.0)], component_id="cpu:package-0", kind="cpu")
    if n_gpus == 0:
        return [cpu]
    return [NvidiaSensor(nvml or make_fake_nvml(gpus(n_gpus))), cpu]


# -- window edges vs Zeus ---------------------------------------------------------------


def edges(n_gpus: int, batches: int, per: int) -> Dict[str, Any]:
    """One window's begin+end, wattprint against Zeus on the same fake NVML, alternating batches.

    Arms: ``wattprint_us``: ``with t.window("w"): pass`` (the caller's cost: the edges queue
    their readings for the edge reader and return; edges queued together share a reading);
    ``wattprint_result_us``: the same, then ``w["energy_j"]`` read at once (the caller waits
    for the end edge's reading: every window gets its own two readings, like Zeus's);
    ``zeus_us``: ``begin_window``/``end_window`` (``sync_execution=False``), which read on the
    caller's thread and return the measurement. ``*_cpu_us``: process CPU (all threads) per pair.
    ``wattprint_injected_clock_us``: the caller-thread reads used with an injected clock."""
    import pynvml as real

    fleet = gpus(n_gpus)
    nvml = make_fake_nvml(fleet)
    plain = nvml.nvmlDeviceGetTotalEnergyConsumption

    def moving(h: Any) -> int:  # every read sees the counter move (Zeus warns on zero-energy windows), for both tools
        h.gpu.energy_mj += 1
        return plain(h)

    nvml.nvmlDeviceGetTotalEnergyConsumption = moving
    out: Dict[str, Any] = {"gpus": n_gpus}
    t = wp.Tracker(sensors=[NvidiaSensor(nvml)], interval_s=math.inf, save=False, handle_signals=False)
    t.start()
    sync = wp.Tracker(sensors=[NvidiaSensor(nvml)], interval_s=math.inf, save=False, handle_signals=False, clock=_SysLike())
    sync.start()
    zeus = None
    try:
        nvml._nvmlGetFunctionPointer = lambda name: None  # Zeus refuses a pynvml without it
        nvml.nvmlDeviceGetArchitecture = lambda h: real.NVML_DEVICE_ARCH_HOPPER

        def not_supported(*args: Any) -> Any:
            raise real.NVMLError(real.NVML_ERROR_NOT_SUPPORTED)

        nvml.nvmlDeviceGetC2cModeInfoV = not_supported  # "not a Grace Hopper"
        saved = sys.modules.get("pynvml")
        sys.modules["pynvml"] = nvml
        try:
            for name in [m for m in sys.modules if m.startswith("zeus")]:
                del sys.modules[name]
            from zeus.monitor import ZeusMonitor

            zeus = ZeusMonitor(gpu_indices=list(range(n_gpus)), cpu_indices=[])
        finally:
            if saved is not None:
                sys.modules["pynvml"] = saved
    except Exception as err:  # Zeus missing or refusing the fake
        out["zeus_error"] = f"{type(err).__name__}: {err}"

    def arm_wp() -> None:
        for _ in range(per):
            with t.window("w"):
                pass

    def arm_result() -> None:
        for _ in range(per):
            with t.window("w") as w:
                pass
            w["energy_j"]

    def arm_sync() -> None:
        for _ in range(per):
            with sync.window("w"):
                pass

    def arm_zeus() -> None:
        assert zeus is not None
        for _ in range(per):
            zeus.begin_window("w", sync_execution=False)
            zeus.end_window("w", sync_execution=False)

    arms = {"wattprint": arm_wp, "wattprint_result": arm_result, "wattprint_injected_clock": arm_sync}
    if zeus is not None:
        arms["zeus"] = arm_zeus
    wall: Dict[str, List[float]] = {k: [] for k in arms}
    cpu: Dict[str, List[float]] = {k: [] for k in arms}
    ratios: Dict[str, List[float]] = {k: [] for k in arms if k != "zeus"}
    for _ in range(batches):
        for k, arm in arms.items():
            with t.window("settle") as w:  # the reader has caught up before each batch
                pass
            w["energy_j"]
            c0, t0 = time.process_time(), time.perf_counter()
            arm()
            wall[k].append((time.perf_counter() - t0) / per * 1e6)
            cpu[k].append((time.process_time() - c0) / per * 1e6)
        if zeus is not None:
            for k in ratios:
                ratios[k].append(wall[k][-1] / wall["zeus"][-1])
    t.stop()
    sync.stop()
    for k in arms:
        out[f"{k}_us"], out[f"{k}_cpu_us"] = q(wall[k]), q(cpu[k])
    if zeus is not None:
        out["ratio"] = q(ratios["wattprint"])
        out["ratio_result"] = q(ratios["wattprint_result"])
        out["ratio_injected_clock"] = q(ratios["wattprint_injected_clock"])
    return out


class _SysLike:
    """The system's clocks as an injected clock: the tracker then reads window edges on the caller's thread."""

    monotonic = staticmethod(time.monotonic)

    @staticmethod
    def utc_now() -> Any:
        return wp_clock.SYSTEM_CLOCK.utc_now()


# -- steady background CPU with checkpoints -----------------------------------------------


def steady(n_gpus: int, minutes: int, workdir: str) -> Dict[str, Any]:
    """CPU ms per simulated minute, save on (defaults) vs off (and the ``files`` arm), after a 2,048-point
    warm-up. The trackers run in the same process and take turns minute by minute (the order rotates), so
    drift in the machine's speed falls on every arm alike."""
    res: Dict[str, Any] = {"gpus": n_gpus}
    arms: Dict[Any, Any] = {}
    for save in (True, False, "files"):  # "files": the checkpoint's file work alone (see _files_only)
        fleet = gpus(n_gpus)
        clock = ManualClock()
        out = tempfile.mkdtemp(dir=workdir)
        t = wp.Tracker(run_id="steady", output_dir=out, save=bool(save), sensors=_sensors(n_gpus, make_fake_nvml(fleet)),
                       clock=clock, interval_s=1.0, handle_signals=False, event=StepEvent(clock, ticks=0))  # fmt: skip
        t.start()
        sampler = t._sampler

        def tick(fleet: List[FakeGpu] = fleet, clock: ManualClock = clock, sampler: Any = sampler) -> None:
            for g in fleet:
                g.energy_mj += 300_000
            clock.advance(1.0)
            sampler.tick()

        for _ in range(2048 + 30):
            tick()
        if save == "files":
            _files_only(t, clock)
        arms[save] = (t, clock, tick, out, [])
    orders = [(True, False, "files"), ("files", False, True), (False, True, "files"), ("files", True, False)]
    for k in range(minutes):
        for save in orders[k % len(orders)]:
            tick, per_min = arms[save][2], arms[save][4]
            c0 = time.process_time()
            for _ in range(60):
                tick()
            per_min.append(time.process_time() - c0)
    for save in (True, False, "files"):
        t, clock, _tick, out, per_min = arms[save]
        res["files_only" if save == "files" else "save" if save else "nosave"] = {"cpu_ms_per_min": q([x * 1e3 for x in per_min])}
        if save == "files":
            del t._build  # the real builder again, for stop()
        if save is True:
            # one checkpoint, and the old whole-document write beside it
            fp = t._build(clock.monotonic(), "partial", final=False)
            c = []
            for _ in range(5):
                c0 = time.process_time()
                t._files.write_checkpoint(fp, t._ledger)
                c.append((time.process_time() - c0) * 1e3)
            w = []
            for _ in range(3):
                fp = t._build(clock.monotonic(), "partial", final=False)
                c0 = time.process_time()
                t._files.write_json(fp)
                w.append((time.process_time() - c0) * 1e3)
            res["checkpoint_ms"] = q(c)
            res["whole_json_ms"] = q(w)
            res["checkpoint_bytes"] = len(json.dumps(fp.to_dict(), indent=2))
            res["whole_json_bytes"] = os.path.getsize(t.json_path)
        t.stop()
        shutil.rmtree(out, ignore_errors=True)
    nosave = res["nosave"]["cpu_ms_per_min"]["median"]
    res["ratio"] = res["save"]["cpu_ms_per_min"]["median"] / nosave
    res["files_only_ratio"] = res["files_only"]["cpu_ms_per_min"]["median"] / nosave
    return res


class _Encoded:
    """A footprint stand-in whose JSON is already encoded (the ``files`` arm)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def to_json(self, **_kw: Any) -> str:
        return self.text


def _files_only(t: Any, clock: ManualClock) -> None:
    """The ``files`` arm: checkpoints write the same files (the document, renamed over the last, and
    the journal's new points) but the document is built and encoded once, here, not at each checkpoint,
    so the arm costs the ticks plus the checkpoint's file-system work and journal lines alone."""
    doc = _Encoded(t._build(clock.monotonic(), "partial", final=False).to_json(timeline=False, indent=None))
    t._build = lambda *a, **k: doc


# -- windows --------------------------------------------------------------------------------


def windows(n_windows: int) -> Dict[str, Any]:
    clock = ManualClock()
    t = wp.Tracker(sensors=_sensors(8), clock=clock, interval_s=math.inf, save=False, handle_signals=False)
    t.start()
    c0 = time.process_time()
    for i in range(n_windows):
        with t.window(f"w{i % 10}"):
            clock.advance(0.01)
    edge_us = (time.process_time() - c0) / n_windows * 1e6
    builds = []
    for _ in range(5):
        c0 = time.process_time()
        fp = t.snapshot()
        builds.append((time.process_time() - c0) * 1e3)
    size = len(fp.to_json(timeline=True))
    t.stop()
    return {"windows": n_windows, "edge_pair_us": edge_us, "build_ms": q(builds), "json_bytes": size}


# -- timeline --------------------------------------------------------------------------------


def timeline(n_ticks: int) -> Dict[str, Any]:
    from wattprint.engine.timeline import Timeline

    tl = Timeline(["gpu:0"], 2048)
    append = tl.append
    t0 = time.perf_counter()
    for i in range(n_ticks):
        append(float(i), i, (float(i),))
    dt = time.perf_counter() - t0
    d = tl.to_dict()
    counts = [0] * 10
    for x in d["t_s"]:
        counts[min(9, int(x * 10 // n_ticks))] += 1
    shares = [c / len(d["t_s"]) for c in counts]
    return {"ticks": n_ticks, "append_us": dt / n_ticks * 1e6, "points": len(d["t_s"]), "stride": d["downsample_stride"],
            "tenth_min_pct": 100 * min(shares), "tenth_max_pct": 100 * max(shares)}  # fmt: skip


def ticks_1e8(workdir: str) -> Dict[str, Any]:
    """10^8 one-second ticks through a Ledger's timeline, then a footprint written and validated."""
    import jsonschema

    from wattprint.footprint.schema import footprint_schema

    n = 100_000_000
    clock = ManualClock()
    t = wp.Tracker(run_id="long", output_dir=workdir, sensors=_sensors(0), clock=clock, interval_s=math.inf,
                   handle_signals=False)  # fmt: skip
    t.start()
    ledger = t._ledger
    tl = ledger.timeline
    e = [0.0]
    t0 = time.perf_counter()
    append = tl.append
    for i in range(1, n):
        append(float(i), i, e)
    t1 = time.perf_counter()
    clock.advance(float(n))
    fp = t.stop()
    with open(t.json_path) as fh:
        doc = json.load(fh)
    errors = list(jsonschema.Draft202012Validator(footprint_schema()).iter_errors(doc))
    return {"ticks": n, "append_s": t1 - t0, "points": len(doc["timeline"]["t_s"]), "stride": doc["timeline"]["downsample_stride"],
            "schema_errors": len(errors), "status": fp.status if fp else None}  # fmt: skip


# -- report over a folder ---------------------------------------------------------------------


def report(n_runs: int, workdir: str) -> Dict[str, Any]:
    folder = os.path.join(workdir, f"runs{n_runs}")
    os.makedirs(folder, exist_ok=True)
    clock = ManualClock()
    t = wp.Tracker(run_id="tmpl", output_dir=folder, sensors=_sensors(1), clock=clock, interval_s=math.inf, handle_signals=False)
    t.start()
    for _ in range(300):
        clock.advance(1.0)
        t.sample_now()
        t._on_tick(clock.monotonic())
    t.step(100, tokens=10_000)
    t.stop()
    with open(os.path.join(folder, "tmpl.json")) as fh:
        text = fh.read()
    os.unlink(os.path.join(folder, "tmpl.json"))
    os.unlink(os.path.join(folder, "runs.csv"))
    for k in range(n_runs):
        with open(os.path.join(folder, f"r{k:05d}.json"), "w") as fh:
            fh.write(text.replace('"tmpl"', f'"r{k:05d}"', 1))
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the (bigger) parent
    code = ("import sys, time\nfrom wattprint.cli.app import main\nt=time.perf_counter()\n"
            "rc=main(['report', sys.argv[1], '--summary'])\n"
            "hwm=[l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
            "sys.stderr.write('%f %s\\n' % (time.perf_counter()-t, hwm))\n")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code, folder], capture_output=True, text=True, timeout=900)
    wall, rss_kb = proc.stderr.strip().splitlines()[-1].split()
    shutil.rmtree(folder, ignore_errors=True)
    return {"runs": n_runs, "file_bytes": len(text), "wall_s": float(wall), "peak_rss_mib": int(rss_kb) / 1024.0, "rc": proc.returncode}


def run(quick: bool, with_1e8: bool) -> Dict[str, Any]:
    work = tempfile.mkdtemp(prefix="wattprint-scale-")
    res: Dict[str, Any] = {"quick": quick}
    step: Callable[[str], None] = lambda s: print(f"bench_scale: {s}", file=sys.stderr, flush=True)  # noqa: E731
    try:
        if with_1e8:  # on its own: a minute or two
            step("10^8 ticks")
            res["ticks_1e8"] = ticks_1e8(work)
            return res
        step("edges")
        res["edges"] = [edges(n, 3 if quick else 9, max(5, (100 if quick else 600) // n)) for n in (1, 8, 64)]
        step("steady")
        res["steady"] = [steady(n, 2 if quick else 20, work) for n in (0, 8, 64)]
        step("windows")
        res["windows"] = [windows(n) for n in ((10, 1000) if quick else (10, 1000, 100_000))]
        step("timeline")
        res["timeline"] = [timeline(n) for n in ((10**3, 10**5) if quick else (10**3, 10**4, 10**5, 10**6, 10**7))]
        step("report")
        res["report"] = [report(n, work) for n in ((100,) if quick else (1000, 10_000))]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res["loadavg"] = os.getloadavg()[0]
    return res


def main(argv: Any = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--ticks-1e8", action="store_true", help="only push 10^8 ticks through a run's timeline and write its footprint "
                    "(a minute or two; run.py reads out/scale_1e8.json)")
    ap.add_argument("--out", default=None, help="JSON output (default out/scale.json, or out/scale_1e8.json with --ticks-1e8, "
                    "where run.py reads it)")
    args = ap.parse_args(argv)
    if args.out is None:
        args.out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out", "scale_1e8.json" if args.ticks_1e8 else "scale.json")
    res = run(args.quick, args.ticks_1e8)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(res, fh, indent=2)
    print(json.dumps(res, indent=1)[:6000])
    return 0


if __name__ == "__main__":
    _ = resource
    sys.exit(main())
