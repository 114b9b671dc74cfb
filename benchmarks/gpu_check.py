"""wattprint, CodeCarbon and Zeus against NVML's energy counter, on one NVIDIA GPU.

    python benchmarks/gpu_check.py [--out PATH] [--gpu INDEX] [--quick]

On a machine with an NVIDIA GPU and torch with CUDA, it runs a fixed bf16
matmul workload with idle gaps (long busy phases, then short bursts) and
measures, each section failing on its own without stopping the rest:

* ``machine``: GPU, driver, NVML, CUDA, torch and package versions;
* ``nvml_latency_us``: median and p99 latency of the NVML calls a sampler
  makes (power, total energy, instant-power field, utilisation) and of the
  per-process queries attribution makes each tick (process list, per-process
  utilisation; the latter may answer NOT_FOUND on an idle GPU, recorded as an error);
* ``counter_update_ms``: how often the energy counter and the power readings
  really change;
* ``wattprint``: a Tracker (GPU only) around the workload; its energy, and each
  phase's window, against direct ``nvmlDeviceGetTotalEnergyConsumption`` reads
  taken at the same instants; beside it, polled instant power at 10 Hz
  integrated by wattprint's ``PowerIntegrator`` (the path of GPUs without a
  counter);
* ``wattprint_sampler_cpu``: the CPU the sampler thread uses per second of an
  idle run, at ``interval_s`` 1 and 0.1, above an interpreter with no tracker;
* ``codecarbon``: ``OfflineEmissionsTracker`` at ``measure_power_secs`` 15 and 1
  around the same workload, against the counter (if CodeCarbon is importable);
* ``zeus``: a ``ZeusMonitor`` window around the workload (if Zeus is importable).

Errors are relative to the counter over the same span, in %. The JSON goes to
``--out``, else ``$OUT/gpu_check.json`` when ``$OUT`` is set, else
``benchmarks/out/gpu_check.json``; copy it to ``benchmarks/gpu_results.json``
and rerun ``benchmarks/run.py`` to put the figures in RESULTS.md. Without a GPU
it says so, writes ``{"skipped": reason}`` and exits 0.

No package registry needed. wattprint is imported from this source tree when
it is not installed. CodeCarbon and Zeus come as wheels brought along, built
for the GPU machine's Python (e.g. 3.12) and platform::

    pip download --no-deps --python-version 3.12 --only-binary=:all: \\
      --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \\
      -d .wheels codecarbon==3.3.2 zeus==0.16.0 arrow authlib joserfc pycountry pydantic pydantic_core \\
      questionary rapidfuzz prompt_toolkit wcwidth annotated_types typing_inspection tyro docstring_parser \\
      typeguard shellingham amdsmi cryptography cffi pycparser typing_extensions annotated_doc
    # on the GPU machine, from the repository root:
    pip install -q --no-index --find-links .wheels codecarbon zeus
    python benchmarks/gpu_check.py --out benchmarks/gpu_results.json
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import sys
import threading
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

RESULTS: Dict[str, Any] = {}
SECTIONS = ("machine", "nvml_latency_us", "counter_update_ms", "wattprint", "wattprint_sampler_cpu", "codecarbon", "zeus")
_ONLY: List[str] = list(SECTIONS)


def section(name: str) -> Callable[[Callable[[], Any]], None]:
    """Run the decorated function now (if selected); store its result, or its error, under ``name``."""

    def run(fn: Callable[[], Any]) -> None:
        if name not in _ONLY:
            return
        t = time.perf_counter()
        try:
            RESULTS[name] = fn()
        except Exception as err:  # one section failing must not stop the others
            RESULTS[name] = {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()[-1500:]}
        print(f"[{name}] {time.perf_counter() - t:.1f} s  {json.dumps(RESULTS[name], default=str)[:600]}", flush=True)

    return run


def import_wattprint() -> Any:
    """``import wattprint``, or load it from this source tree (``tracker/``) when it is not installed."""
    try:
        import wattprint

        return wattprint
    except ImportError:
        pass
    init = os.path.join(ROOT, "tracker", "__init__.py")
    spec = importlib.util.spec_from_file_location("wattprint", init, submodule_search_locations=[os.path.dirname(init)])
    if spec is None or spec.loader is None:
        raise ImportError(f"wattprint is not installed and {init} is missing")
    module = importlib.util.module_from_spec(spec)
    sys.modules["wattprint"] = module
    spec.loader.exec_module(module)
    return module


def default_out() -> str:
    if os.environ.get("OUT"):
        return os.path.join(os.environ["OUT"], "gpu_check.json")
    return os.path.join(HERE, "out", "gpu_check.json")


def write(path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(RESULTS, f, indent=1, default=str)


def find_gpu(device: str = "cuda") -> Tuple[Optional[Any], Optional[Any], str]:
    """``(pynvml, handle, "")`` for the first GPU this process sees, when NVML and CUDA torch work; else ``(None, None, reason)``.

    The GPU is CUDA's device 0; ``main`` pins it with ``CUDA_VISIBLE_DEVICES``
    (and ``CUDA_DEVICE_ORDER=PCI_BUS_ID``) so that NVML, torch, wattprint,
    CodeCarbon and Zeus all see the same device.
    """
    try:
        import pynvml
    except ImportError:
        return None, None, "pynvml is not installed (pip install nvidia-ml-py)"
    try:
        pynvml.nvmlInit()
    except Exception as err:
        return None, None, f"NVML did not initialise ({type(err).__name__}: {err}): no NVIDIA driver or GPU"
    try:
        from wattprint.engine.sensors.nvidia import (
            resolve_visible_devices,
            visible_gpu_selectors,
        )

        pairs = resolve_visible_devices(pynvml, visible_gpu_selectors())
        if not pairs:
            return None, None, f"no GPU matches CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}"
        handle = pairs[0][0]
    except Exception as err:
        return None, None, f"NVML could not open the GPU ({type(err).__name__}: {err})"
    try:
        import torch
    except ImportError:
        return None, None, "torch is not installed"
    if device == "cuda" and not torch.cuda.is_available():
        return None, None, "torch sees no CUDA device (CPU-only build or no driver)"
    return pynvml, handle, ""


def pct(measured: float, truth: float) -> Optional[float]:
    return 100.0 * (measured - truth) / truth if truth else None


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description="wattprint, CodeCarbon and Zeus against NVML's energy counter")
    ap.add_argument("--out", default=None, help="JSON path (default $OUT/gpu_check.json or benchmarks/out/gpu_check.json)")
    ap.add_argument("--gpu", type=int, default=0, help="GPU index (PCI order) when CUDA_VISIBLE_DEVICES is unset (default 0)")
    ap.add_argument("--quick", action="store_true", help="a shorter workload and fewer latency calls")
    ap.add_argument("--size", type=int, default=8192, help="square bf16 matrix size (default 8192)")
    ap.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections to run (default all)")
    ap.add_argument("--time-scale", type=float, default=1.0, help="multiply every phase and idle duration (default 1)")
    ap.add_argument("--device", default="cuda", help="torch device; 'cpu' dry-runs the script's logic against whatever NVML reports")
    args = ap.parse_args(argv)
    _ONLY[:] = [x.strip() for x in args.only.split(",") if x.strip()]
    scale = args.time_scale
    out = args.out or default_out()
    quick = args.quick
    # one GPU, numbered the same way by NVML, torch and the trackers
    os.environ.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", str(args.gpu))
    wp = import_wattprint()

    N, handle, reason = find_gpu(args.device)
    if N is None:
        RESULTS["skipped"] = reason
        write(out)
        print(f"gpu_check: no usable NVIDIA GPU here: {reason}. Nothing was measured; wrote {out}.")
        print("gpu_check: run it on a machine with an NVIDIA GPU and CUDA torch (see the module docstring).")
        return 0

    import torch
    from wattprint.engine.sensors.base import Component, PowerIntegrator, Sensor
    from wattprint.engine.sensors.nvidia import NvidiaSensor

    dev = torch.device(args.device, 0) if args.device == "cuda" else torch.device(args.device)  # cuda:0 is what ``handle`` reads
    on_gpu = dev.type == "cuda"

    def sync() -> None:
        if on_gpu:
            torch.cuda.synchronize(dev)

    energy_mj = lambda: N.nvmlDeviceGetTotalEnergyConsumption(handle)  # noqa: E731
    fi_instant = getattr(N, "NVML_FI_DEV_POWER_INSTANT", 186)

    def instant_power_mw() -> Optional[float]:
        try:
            v = N.nvmlDeviceGetFieldValues(handle, [fi_instant])[0]
            if v.nvmlReturn == 0 and v.value.uiVal:
                return float(v.value.uiVal)
        except Exception:
            pass
        return None

    @section("machine")
    def _() -> Dict[str, Any]:
        import importlib.metadata as md

        def ver(d: str) -> Optional[str]:
            try:
                return md.version(d)
            except md.PackageNotFoundError:
                return None

        d: Dict[str, Any] = {
            "gpu": str(N.nvmlDeviceGetName(handle)),
            "driver": str(N.nvmlSystemGetDriverVersion()),
            "nvml": str(N.nvmlSystemGetNVMLVersion()),
            "gpu_count": N.nvmlDeviceGetCount(),
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "torch_device": torch.cuda.get_device_name(dev) if on_gpu else str(dev),
            "python": platform.python_version(),
            "cpu_logical": os.cpu_count(),
            "versions": {d: ver(d) for d in ("wattprint", "codecarbon", "zeus", "nvidia-ml-py", "psutil")},
            "wattprint_loaded_from": os.path.dirname(getattr(wp, "__file__", "") or ""),
        }
        try:
            d["power_limit_w"] = N.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0
        except Exception as err:
            d["power_limit_w"] = repr(err)
        d["instant_power_field"] = instant_power_mw() is not None
        from wattprint.engine.host import cpu_model_name

        d["cpu_model"] = cpu_model_name() or None
        return d

    @section("nvml_latency_us")
    def _() -> Dict[str, Any]:
        n = 300 if quick else 2000
        calls: Dict[str, Callable[[], Any]] = {
            "power_usage": lambda: N.nvmlDeviceGetPowerUsage(handle),
            "total_energy": energy_mj,
            "field_power_instant": lambda: N.nvmlDeviceGetFieldValues(handle, [fi_instant]),
            "utilization": lambda: N.nvmlDeviceGetUtilizationRates(handle),
            # attribution's per-GPU queries, once a tick at the defaults (attribution="job"): a process list always,
            # per-process utilisation when more than one process shares the GPU
            "compute_processes": lambda: N.nvmlDeviceGetComputeRunningProcesses(handle),
            "process_utilization": lambda: N.nvmlDeviceGetProcessUtilization(handle, 0),
        }
        out: Dict[str, Any] = {}
        for name, fn in calls.items():
            try:
                lat = []
                for _ in range(n):
                    t = time.perf_counter_ns()
                    fn()
                    lat.append((time.perf_counter_ns() - t) / 1000.0)
                lat.sort()
                out[name] = {"median": statistics.median(lat), "p99": lat[int(0.99 * (len(lat) - 1))], "n": n}
            except Exception as err:
                out[name] = {"error": f"{type(err).__name__}: {err}"}
        return out

    # -- the workload -------------------------------------------------------------
    size = args.size
    a = torch.randn(size, size, device=dev, dtype=torch.bfloat16 if on_gpu else torch.float32)
    b = torch.randn_like(a)

    def matmuls(k: int) -> None:
        for _ in range(k):
            a @ b
        sync()

    matmuls(5)  # warm-up (kernels, clocks)
    done, t = 0, time.perf_counter()
    while done < 20 or time.perf_counter() - t < 0.5 * scale:  # calibrate over at least 20 matmuls and half a (scaled) second
        matmuls(10)
        done += 10
    per_s = done / (time.perf_counter() - t)
    # phases: (name, matmuls, idle seconds after); the matmul counts are fixed once, so every tool sees the same work
    long_s, mid_s = ((1.5, 1.0) if quick else (4.0, 2.0))
    bursts = 4 if quick else 10
    phases: List[Tuple[str, int, float]] = [("busy_long", max(1, int(per_s * long_s * scale)), scale * (1.0 if quick else 2.0)),
                                           ("busy_mid", max(1, int(per_s * mid_s * scale)), scale * 1.0)]
    phases += [(f"burst_{i}", max(1, int(per_s * 0.2 * scale)), 0.3 * scale) for i in range(bursts)]
    phases.append(("idle_tail", 0, scale * (1.0 if quick else 2.0)))
    RESULTS["workload"] = {
        "matrix": f"{size}x{size} {a.dtype}",
        "device": str(dev),
        "time_scale": scale,
        "matmuls_per_s": per_s,
        "tflops": 2 * size**3 * per_s / 1e12,
        "phases": [{"name": n, "matmuls": k, "idle_after_s": s} for n, k, s in phases],
    }

    def workload(on_phase: Optional[Callable[[str], Any]] = None) -> None:
        for name, k, idle_s in phases:
            ctx = on_phase(name) if on_phase else None
            if ctx is not None:
                with ctx:
                    matmuls(k)
                    time.sleep(idle_s)
            else:
                matmuls(k)
                time.sleep(idle_s)

    class PolledInstantPower(Sensor):
        """Instant power (NVML field, else the 1 s average) polled at 10 Hz and integrated by wattprint's PowerIntegrator."""

        name = "nvml.polled"
        mode = "power"  # the sampler polls power sensors at power_interval_s (10 Hz)
        poll_interval_s = 0.1

        def __init__(self) -> None:
            super().__init__()
            self._int = PowerIntegrator()
            self.source = "nvml.power_instant" if instant_power_mw() is not None else "nvml.power_average"

        def components(self) -> List[Component]:
            return [Component(id="gpu:polled", kind="gpu", name="polled power", source=self.source, measured=True, scope="device")]

        def read(self, now_s: float) -> Dict[str, float]:
            mw = instant_power_mw() if self.source == "nvml.power_instant" else None
            if mw is None:
                mw = float(N.nvmlDeviceGetPowerUsage(handle))
            return {"gpu:polled": self._int.add(mw / 1000.0, now_s)}

    @section("counter_update_ms")
    def _() -> Dict[str, Any]:
        seen: Dict[str, List[float]] = {"energy": [], "power_usage": [], "power_instant": []}
        last: Dict[str, Any] = {}
        stop = time.perf_counter() + 2.0 * scale
        th = threading.Thread(target=matmuls, args=(max(1, int(per_s * 2.0 * scale)),))
        th.start()
        while time.perf_counter() < stop:
            now = time.perf_counter()
            for key, val in (("energy", energy_mj()), ("power_usage", N.nvmlDeviceGetPowerUsage(handle)), ("power_instant", instant_power_mw())):
                if val is not None and last.get(key) is not None and val != last[key]:
                    seen[key].append(now)
                last[key] = val
            time.sleep(0.001)
        th.join()
        out = {}
        for key, ts in seen.items():
            gaps = sorted(1000.0 * (y - x) for x, y in zip(ts, ts[1:], strict=False))
            out[key] = {"median_ms": statistics.median(gaps), "changes": len(ts)} if gaps else {"median_ms": None, "changes": len(ts)}
        return out

    @section("wattprint")
    def _() -> Dict[str, Any]:
        truth_marks: Dict[str, List[float]] = {}

        class Phase:
            def __init__(self, tracker: Any, name: str) -> None:
                self.tracker, self.name = tracker, name

            def __enter__(self) -> None:
                self.win = self.tracker.window(self.name)
                self.rec = self.win.__enter__()
                truth_marks[self.name] = [energy_mj()]

            def __exit__(self, *exc: Any) -> None:
                truth_marks[self.name].append(energy_mj())
                self.win.__exit__(*exc)

        t = time.perf_counter()
        tracker = wp.Tracker("gpu-check", save=False, sensors=[NvidiaSensor(), PolledInstantPower()], handle_signals=False)
        tracker.start()
        start_s = time.perf_counter() - t
        e0 = energy_mj()
        workload(lambda name: Phase(tracker, name))
        e1 = energy_mj()
        t = time.perf_counter()
        fp = tracker.stop()
        stop_s = time.perf_counter() - t
        doc = fp.to_dict()
        comp = {c["id"]: c for c in doc["components"]}
        truth_j = (e1 - e0) / 1000.0
        windows = []
        for w in doc["windows"]:
            mark = truth_marks.get(w["name"])
            tj = (mark[1] - mark[0]) / 1000.0 if mark and len(mark) == 2 else None
            counter_j = w["components"].get("gpu:0")
            polled_j = w["components"].get("gpu:polled")
            windows.append({
                "name": w["name"], "duration_s": w["duration_s"], "truth_j": tj, "counter_j": counter_j, "polled_j": polled_j,
                "counter_err_pct": pct(counter_j, tj) if tj and counter_j is not None else None,
                "polled_err_pct": pct(polled_j, tj) if tj and polled_j is not None else None,
            })
        bursts_truth = sum(w["truth_j"] or 0 for w in windows if w["name"].startswith("burst"))
        bursts_polled = sum(w["polled_j"] or 0 for w in windows if w["name"].startswith("burst"))
        return {
            "start_s": start_s,
            "stop_s": stop_s,
            "source": comp.get("gpu:0", {}).get("source"),
            "run_truth_j": truth_j,
            "run_counter_j": comp["gpu:0"]["energy_j"],
            "run_counter_err_pct": pct(comp["gpu:0"]["energy_j"], truth_j),
            "run_polled_j": comp["gpu:polled"]["energy_j"],
            "run_polled_err_pct": pct(comp["gpu:polled"]["energy_j"], truth_j),
            "polled_source": comp["gpu:polled"]["source"],
            "bursts_polled_err_pct": pct(bursts_polled, bursts_truth),
            "note": "run_* spans start()..stop(); truth spans the workload inside it (start/stop add idle energy of a few ms)",
            "windows": windows,
        }

    @section("wattprint_sampler_cpu")
    def _() -> Dict[str, Any]:
        seconds = (3.0 if quick else 10.0) * scale
        out: Dict[str, Any] = {}
        for label, kw in (("none", None), ("interval_1s", {}), ("interval_0.1s", {"interval_s": 0.1})):
            tracker = wp.Tracker("gpu-check", save=False, handle_signals=False, **kw) if kw is not None else None
            if tracker is not None:
                tracker.start()
            sampler = getattr(tracker, "_sampler", None)
            k0 = getattr(sampler, "ticks", 0)
            c0, w0 = cpu_s(), time.monotonic()
            time.sleep(seconds)
            c1, w1 = cpu_s(), time.monotonic()
            k1 = getattr(sampler, "ticks", 0)
            srcs = None
            if tracker is not None:
                fp = tracker.stop()
                srcs = [c["source"] for c in fp.to_dict()["components"]]
            out[label] = {"cpu_ms_per_s": 1000.0 * (c1 - c0) / (w1 - w0), "ticks_per_s": (k1 - k0) / (w1 - w0), "sources": srcs}
        return out

    def codecarbon_run(interval_s: float) -> Dict[str, Any]:
        from codecarbon import OfflineEmissionsTracker

        t = time.perf_counter()
        tr = OfflineEmissionsTracker(country_iso_code="USA", measure_power_secs=interval_s, save_to_file=False, log_level="error")
        tr.start()
        start_s = time.perf_counter() - t
        e0 = energy_mj()
        workload()
        e1 = energy_mj()
        t = time.perf_counter()
        tr.stop()
        stop_s = time.perf_counter() - t
        fd = tr.final_emissions_data
        truth_j = (e1 - e0) / 1000.0
        gpu_j = fd.gpu_energy * 3.6e6  # kWh -> J (pue 1.0 by default)
        return {"start_s": start_s, "stop_s": stop_s, "gpu_j": gpu_j, "truth_j": truth_j, "err_pct": pct(gpu_j, truth_j),
                "cpu_kwh": fd.cpu_energy, "ram_kwh": fd.ram_energy, "gpu_power_w": fd.gpu_power,
                "gpu_count": getattr(fd, "gpu_count", None), "gpu_model": getattr(fd, "gpu_model", None)}

    @section("codecarbon")
    def _() -> Dict[str, Any]:
        try:
            import codecarbon
        except ImportError as err:
            return {"error": f"not importable ({err}); bring its wheels (see the module docstring)"}
        out: Dict[str, Any] = {"version": getattr(codecarbon, "__version__", None)}
        for interval in (15.0, 1.0):
            try:
                out[f"measure_power_secs_{interval:g}"] = codecarbon_run(interval)
            except Exception as err:
                out[f"measure_power_secs_{interval:g}"] = {"error": f"{type(err).__name__}: {err}"}
        return out

    @section("zeus")
    def _() -> Dict[str, Any]:
        try:
            from zeus.monitor import ZeusMonitor
        except ImportError as err:
            return {"error": f"not importable ({err}); bring its wheels (see the module docstring)"}
        t = time.perf_counter()
        monitor = ZeusMonitor(gpu_indices=[0], sync_execution_with="torch") if on_gpu else ZeusMonitor(gpu_indices=[0])
        init_s = time.perf_counter() - t
        e0 = energy_mj()
        monitor.begin_window("workload")
        workload()
        m = monitor.end_window("workload")
        e1 = energy_mj()
        truth_j = (e1 - e0) / 1000.0
        gpu_j = list(m.gpu_energy.values())[0]
        return {"init_s": init_s, "gpu_j": gpu_j, "truth_j": truth_j, "err_pct": pct(gpu_j, truth_j), "time_s": m.time}

    write(out)
    print(f"gpu_check: wrote {out}")
    return 0


def _main_writing_on_failure() -> int:
    """``main()``, but an unexpected failure outside the sections still leaves the JSON (with ``fatal``) behind."""
    try:
        return main()
    except Exception as err:
        RESULTS["fatal"] = {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()[-2000:]}
        out = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--out=")), None)
        if out is None and "--out" in sys.argv[:-1]:
            out = sys.argv[sys.argv.index("--out") + 1]
        write(out or default_out())
        print(f"gpu_check: failed outside any section: {RESULTS['fatal']['error']}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(_main_writing_on_failure())
