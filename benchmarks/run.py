"""wattprint against CodeCarbon, in one run: cost, memory and accuracy.

    python benchmarks/run.py            # full run, a few minutes; writes benchmarks/RESULTS.md and results.json
    python benchmarks/run.py --quick    # smoke run, seconds; writes benchmarks/out/quick/

What is measured (CodeCarbon is ``OfflineEmissionsTracker(country_iso_code="USA",
save_to_file=False, log_level="error")``; outbound network is refused in every
probe and attempts are counted):

* ``import`` time and resident memory (RSS) added, and cold
  construct + ``start()`` + ``stop()`` latency with the RSS it adds, each in a
  fresh interpreter, the tools alternating round by round; wattprint both with
  ``save=False`` and with its JSON and CSV files written;
* background CPU per second of run while the main thread sleeps, at each
  tool's defaults and at 10 Hz (wattprint ``interval_s=0.1``, CodeCarbon
  ``measure_power_secs=0.1``), all tools in parallel processes over the same
  wall-clock window so they see the same machine;
* memory after a million simulated samples (wattprint: ``sample_now()`` with
  a ManualClock and a ReplaySensor; CodeCarbon: its 1 s and 15 s measurement
  methods called directly, fewer times, with the growth per sample reported);
* the PyTorch hook's per-step overhead, from ``benchmarks/bench_hook.py`` when
  it exists (its JSON is ``benchmarks/out/hook.json``);
* accuracy on synthetic traces (``benchmarks/accuracy.py``).

Medians with min–max over the repeats; ratios are of medians. The targets
are reported, never asserted. Exit status is 0 unless the runner itself broke.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as _dt
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROBES = os.path.join(HERE, "_probes.py")
sys.path.insert(0, HERE)

import accuracy  # noqa: E402  (benchmarks/accuracy.py)

MIB = 1024.0 * 1024.0


# -- small helpers ----------------------------------------------------------------


def summary(values: Sequence[float]) -> Dict[str, Any]:
    """Median, min, max, quartiles and n of ``values`` (``None`` entries dropped)."""
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return {"n": 0, "median": None, "min": None, "max": None, "q1": None, "q3": None}
    q = statistics.quantiles(vals, n=4, method="inclusive") if len(vals) >= 2 else [vals[0]] * 3
    return {"n": len(vals), "median": statistics.median(vals), "min": vals[0], "max": vals[-1], "q1": q[0], "q3": q[2], "values": vals}


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a is not None and b not in (None, 0) else None


def _fmt(value: Optional[float], unit: str, scale: float = 1.0, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    return f"{value * scale:.{digits}f} {unit}".strip()


def fmt_summary(s: Dict[str, Any], unit: str, scale: float = 1.0, digits: int = 1) -> str:
    """``median [min–max]`` (or ``n/a``)."""
    if not s or s.get("median") is None:
        return "n/a"
    if s["n"] == 1:
        return _fmt(s["median"], unit, scale, digits)
    return f"{s['median'] * scale:.{digits}f} [{s['min'] * scale:.{digits}f}–{s['max'] * scale:.{digits}f}] {unit}".strip()


def version_of(dist: str) -> Optional[str]:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def probe(args: List[str], timeout_s: float = 600.0, env_changes: Optional[Dict[str, Optional[str]]] = None) -> Dict[str, Any]:
    """Run one ``_probes.py`` measurement in a fresh interpreter; its last stdout line is JSON.
    ``env_changes``: variables set for this probe (``None`` removes one)."""
    env = dict(os.environ, PYTHONHASHSEED="0", CODECARBON_LOG_LEVEL="error", WATTPRINT_OUTPUT_DIR=tempfile.gettempdir())
    for key, value in (env_changes or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    try:
        proc = subprocess.run(
            [sys.executable, PROBES, *args], capture_output=True, text=True, timeout=timeout_s, cwd=ROOT, env=env
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s", "args": args}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-600:]}", "args": args}
    return json.loads(lines[-1])


def rotate(items: Sequence[str], k: int) -> List[str]:
    k %= len(items)
    return list(items[k:]) + list(items[:k])


def _loadavg() -> Optional[float]:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def codecarbon_available() -> bool:
    return version_of("codecarbon") is not None


# -- the machine -----------------------------------------------------------------------


def describe_machine() -> Dict[str, Any]:
    """CPU model, cores, RAM, OS, Python, package versions, and which power sensors exist."""
    from wattprint.engine.host import cpu_model_name

    cpu_model = cpu_model_name() or "unknown"
    info: Dict[str, Any] = {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_model": cpu_model,
        "logical_cpus": os.cpu_count(),
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }
    try:
        import psutil

        info["physical_cores"] = psutil.cpu_count(logical=False)
        info["ram_gb"] = round(psutil.virtual_memory().total / 1e9, 1)
    except Exception:
        info["physical_cores"] = info["ram_gb"] = None
    info["versions"] = {
        d: version_of(d) for d in ("wattprint", "codecarbon", "psutil", "nvidia-ml-py", "torch", "zeus", "pandas")
    }
    try:
        from wattprint.engine.sensors.rapl import zone_summary

        root, zones = zone_summary()
        info["rapl"] = f"{len(zones)} zone(s) under {root}" if zones else f"none readable under {root}"
    except Exception as err:
        info["rapl"] = f"none ({type(err).__name__}: {err})"
    try:
        import pynvml

        pynvml.nvmlInit()
        info["gpus"] = [str(pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(i))) for i in range(pynvml.nvmlDeviceGetCount())]
        pynvml.nvmlShutdown()
    except Exception as err:
        info["gpus"] = []
        info["gpu_note"] = f"no NVIDIA GPU ({type(err).__name__})"
    return info


# -- the benchmarks ----------------------------------------------------------------------


def bytecode_condition(cache: bool) -> str:
    """How the start-up probes load Python code (editable checkouts have no ``.pyc`` of their own)."""
    if cache:
        return "bytecode cache: every module from a .pyc (a private PYTHONPYCACHEPREFIX, filled by one discarded round), as an installed package loads"
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return ("PYTHONDONTWRITEBYTECODE is set: a module without a .pyc beside it (all of an editable checkout's) is compiled "
                "from source in every probe; installed packages load their .pyc")  # fmt: skip
    return "the interpreter's default bytecode caching (__pycache__ beside each module)"


def bench_startup(repeats: int, workdir: str, parallel: bool, bytecode_cache: bool = False) -> Dict[str, Any]:
    """Import, RSS and cold start+stop, one fresh process each, tools alternating (see :func:`bytecode_condition`)."""
    tools = ["wattprint", "codecarbon", "wattprint_files", "none"]
    if not codecarbon_available():
        tools.remove("codecarbon")
    env: Optional[Dict[str, Optional[str]]] = None
    if bytecode_cache:
        env = {"PYTHONDONTWRITEBYTECODE": None, "PYTHONPYCACHEPREFIX": os.path.join(workdir, "pycache")}
        for tool in tools:  # the discarded round that writes the .pyc files
            probe(["startup", tool, workdir], env_changes=env)
    jobs = [(r, tool) for r in range(repeats) for tool in rotate(tools, r)]
    runs: List[Dict[str, Any]] = []
    if parallel:
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            runs = list(pool.map(lambda j: dict(probe(["startup", j[1], workdir], env_changes=env), round=j[0]), jobs))
    else:
        for r, tool in jobs:
            runs.append(dict(probe(["startup", tool, workdir], env_changes=env), round=r))
    out: Dict[str, Any] = {"runs": runs, "tools": {}, "bytecode": bytecode_condition(bytecode_cache)}
    base = [x for x in runs if x.get("tool") == "none" and "error" not in x]
    base_import = summary([x["import_s"] for x in base])
    for tool in tools:
        ok = [x for x in runs if x.get("tool") == tool and "error" not in x]
        out["tools"][tool] = {
            key: summary([x.get(key) for x in ok])
            for key in ("import_s", "rss_import_bytes", "init_s", "start_s", "stop_s", "start_stop_s", "rss_total_bytes", "warm_start_stop_s")
        }
        out["tools"][tool]["errors"] = [x["error"] for x in runs if x.get("args", [None, None])[1:2] == [tool] and "error" in x]
    out["baseline_import_s"] = base_import
    return out


def bench_idle(seconds: float, repeats: int, workdir: str, lead_s: float) -> Dict[str, Any]:
    """Background CPU while idle: every tool in its own process, over the same wall-clock window."""
    tools = ["wattprint_defaults_8gpu", "wattprint", "codecarbon", "wattprint_10hz", "codecarbon_10hz", "bare_thread_10hz", "none"]
    if not codecarbon_available():
        tools = [t for t in tools if not t.startswith("codecarbon")]
    runs: List[Dict[str, Any]] = []
    for r in range(repeats):
        start_at = time.time() + lead_s
        order = rotate(tools, r)
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(order)) as pool:
            futures = [
                pool.submit(probe, ["idle", tool, str(seconds), f"{start_at:.3f}", workdir], seconds + lead_s + 120) for tool in order
            ]
            for tool, fut in zip(order, futures, strict=True):
                res = fut.result()
                res.setdefault("tool", tool)
                runs.append(dict(res, round=r))
    out: Dict[str, Any] = {"seconds": seconds, "runs": runs, "tools": {}}
    for tool in tools:
        ok = [x for x in runs if x.get("tool") == tool and "error" not in x]
        out["tools"][tool] = {
            "cpu_ms_per_s": summary([x["cpu_ms_per_s"] for x in ok]),
            "samples_per_s": summary([x.get("samples_per_s") for x in ok]),
            "late_s_max": max([x.get("late_s", 0.0) for x in ok], default=None),
            "errors": [x["error"] for x in runs if x.get("tool") == tool and "error" in x],
        }
    return out


def bench_memory(wp_samples: int, cc_samples: int, parallel: bool) -> Dict[str, Any]:
    """Memory after many samples (see ``_probes.memory``)."""
    jobs = [("wattprint", wp_samples)]
    if codecarbon_available() and cc_samples > 0:
        jobs.append(("codecarbon", cc_samples))
    if parallel:
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda j: probe(["memory", j[0], str(j[1])], 1200), jobs))
    else:
        results = [probe(["memory", tool, str(n)], 1200) for tool, n in jobs]
    out: Dict[str, Any] = {}
    for (tool, _n), res in zip(jobs, results, strict=True):
        if "error" not in res and len(res["points"]) >= 2:
            p = res["points"]
            # growth per sample over the second half of the run, after warm-up
            a, b = p[-2], p[-1]
            res["traced_bytes_per_sample"] = (b["traced_bytes"] - a["traced_bytes"]) / (b["samples"] - a["samples"])
            res["traced_bytes_at_1e6"] = (
                b["traced_bytes"] if b["samples"] >= 1_000_000 else b["traced_bytes"] + res["traced_bytes_per_sample"] * (1_000_000 - b["samples"])
            )
            res["extrapolated"] = b["samples"] < 1_000_000
        out[tool] = res
    return out


def bench_hook(run_it: bool, timeout_s: float = 900.0) -> Dict[str, Any]:
    """Run ``benchmarks/bench_hook.py`` (another module's benchmark) and read ``benchmarks/out/hook.json``."""
    script = os.path.join(HERE, "bench_hook.py")
    path = os.path.join(HERE, "out", "hook.json")
    out: Dict[str, Any] = {"script_present": os.path.exists(script)}
    if run_it and out["script_present"]:
        try:
            proc = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=timeout_s, cwd=ROOT)
            out["exit_code"] = proc.returncode
            if proc.returncode != 0:
                out["error"] = proc.stderr.strip()[-600:]
        except subprocess.TimeoutExpired:
            out["error"] = f"bench_hook.py timed out after {timeout_s:.0f} s"
    if os.path.exists(path):
        try:
            with open(path) as f:
                out["result"] = json.load(f)
            out["result_mtime_utc"] = _dt.datetime.fromtimestamp(os.path.getmtime(path), _dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        except (OSError, ValueError) as err:
            out["error"] = f"could not read {path}: {err}"
    out["overhead_pct"] = find_overhead_pct(out.get("result"))
    return out


def bench_growth(quick: bool) -> Dict[str, Any]:
    """``bench_tick.py``, ``bench_scale.py`` and ``bench_ranks.py`` in child processes (smaller in quick mode); the 10^8-tick
    figure is taken from ``out/scale_1e8.json`` when present (``bench_scale.py --ticks-1e8``: minutes, not run here)."""
    out: Dict[str, Any] = {}
    flag = ["--quick"] if quick else []
    ranks = ["--ranks", "2", "8", "--repeats", "1"] if quick else ["--ranks", "2", "8", "64", "256", "1024", "--repeats", "3"]
    for name, script, args in (("tick", "bench_tick.py", flag), ("scale", "bench_scale.py", flag), ("ranks", "bench_ranks.py", ranks)):
        path = os.path.join(HERE, "out", f"{name}{'_quick' if quick else ''}.json")
        try:
            proc = subprocess.run([sys.executable, os.path.join(HERE, script), *args, "--out", path], capture_output=True,
                                  text=True, timeout=900, cwd=ROOT)  # fmt: skip
            if proc.returncode != 0:
                out[name] = {"error": proc.stderr[-2000:]}
                continue
            with open(path) as fh:
                out[name] = json.load(fh)
        except Exception as err:
            out[name] = {"error": f"{type(err).__name__}: {err}"}
    try:
        with open(os.path.join(HERE, "out", "scale_1e8.json")) as fh:
            out["ticks_1e8"] = json.load(fh).get("ticks_1e8")
    except (OSError, ValueError):
        out["ticks_1e8"] = None
    return out


def _iqr(s: Dict[str, Any], digits: int = 1, scale: float = 1.0) -> str:
    if not s or s.get("median") is None:
        return "n/a"
    return f"{s['median'] * scale:.{digits}f} [{s['q1'] * scale:.{digits}f}–{s['q3'] * scale:.{digits}f}]"


def growth_markdown(g: Dict[str, Any]) -> str:
    """The growth-curve tables (medians with interquartile ranges)."""
    if not g:
        return ""
    L = ["", "## Costs that grow with the work", "",
         "From `benchmarks/bench_tick.py`, `benchmarks/bench_scale.py` and `benchmarks/bench_ranks.py` (simulated clock, fake NVML library; "
         "median [IQR] over batches; same process, alternating batches, so both sides see the same contention). "
         "CodeCarbon has no equivalent of these rows (no windows, no timeline, no per-run files to report on).", ""]
    tick, scale = g.get("tick") or {}, g.get("scale") or {}
    if tick.get("ticks"):
        L += ["### Sampler tick against the raw NVML calls it makes", "",
              "| scope | GPUs | tick µs | raw NVML µs | ratio | target |", "|---|---:|---:|---:|---:|---|"]
        for r in tick["ticks"]:
            L.append(f"| {r['scope']} | {r['gpus']} | {_iqr(r['tick_us'])} | {_iqr(r['raw_nvml_us'])} | {_iqr(r['ratio'], 2)} | ≤ 3× |")
        rp = tick.get("rapl") or {}
        if rp:
            L += ["", f"RAPL zone read (kept descriptor, `os.pread`): {_iqr(rp['zone_read_us'], 2)} µs against a bare `pread` "
                  f"{_iqr(rp['pread_us'], 2)} µs: ratio {_iqr(rp['ratio'], 2)} (target ≤ 3×; a regular file, not sysfs).", ""]
    if scale.get("edges"):
        L += ["### Window edges (begin + end) against Zeus `begin_window`/`end_window`, same fake NVML", "",
              "wattprint's edges queue their readings for the edge reader and return (edges queued together share one reading); "
              "`figures read at once` also reads `w[\"energy_j\"]` after each window, so the caller waits for that window's own "
              "end reading (a thread handoff), as Zeus's `end_window` returns its measurement; `injected clock` is the caller-thread "
              "read kept for tests' clocks. CPU: process CPU (all threads) per pair. In the tight `edges` loop the reader gets the "
              "GIL about once per switch interval (5 ms), so most edges there share readings; windows far apart get two readings "
              "each, and the reader thread then spends about the `figures read` CPU per window, off the caller's thread only while "
              "the caller releases the GIL (e.g. waiting on the GPU).", "",
              "| GPUs | wattprint edges µs | Zeus µs | ratio | figures read at once µs | ratio | injected clock µs | CPU µs: edges / figures read / Zeus | target |",
              "|---:|---:|---:|---:|---:|---:|---:|---|---|"]
        for r in scale["edges"]:
            cpu = " / ".join(f"{r.get(k, {}).get('median', float('nan')):.1f}" for k in ("wattprint_cpu_us", "wattprint_result_cpu_us", "zeus_cpu_us"))
            L.append(f"| {r['gpus']} | {_iqr(r['wattprint_us'])} | {_iqr(r.get('zeus_us', {}))} | {_iqr(r.get('ratio', {}), 2)} | "
                     f"{_iqr(r.get('wattprint_result_us', {}))} | {_iqr(r.get('ratio_result', {}), 2)} | "
                     f"{_iqr(r.get('wattprint_injected_clock_us', {}))} | {cpu} | edges ≤ Zeus |")
        L.append("")
    if scale.get("steady"):
        L += ["### Steady background CPU at the defaults (1 s ticks, 60 s checkpoints) against `save=False`", "",
              "| GPUs | CPU ms per simulated minute, save on | save=False | ratio | files only: ms, ratio | one checkpoint ms (bytes) | whole-document write ms (bytes), before | target |",
              "|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in scale["steady"]:
            fo = r.get("files_only")
            files = f"{_iqr(fo['cpu_ms_per_min'])}, {r['files_only_ratio']:.2f}" if fo else "–"
            L.append(f"| {r['gpus']} | {_iqr(r['save']['cpu_ms_per_min'])} | {_iqr(r['nosave']['cpu_ms_per_min'])} | {r['ratio']:.2f} | {files} | "
                     f"{_iqr(r['checkpoint_ms'], 2)} ({r['checkpoint_bytes']:,}) | {_iqr(r['whole_json_ms'])} ({r['whole_json_bytes']:,}) | ≤ 1.5× |")
        L += ["", "`files only`: the same checkpoint files (the document renamed over the last one, the journal's new points) with the "
              "document built and encoded once in advance: what the file system and the journal lines cost without the builder and the encoder.", ""]
    if scale.get("windows"):
        L += ["### Windows", "", "| windows | edge pair µs (mean) | footprint build ms | JSON bytes |", "|---:|---:|---:|---:|"]
        for r in scale["windows"]:
            L.append(f"| {r['windows']:,} | {r['edge_pair_us']:.1f} | {_iqr(r['build_ms'], 2)} | {r['json_bytes']:,} |")
        L.append("")
    if scale.get("timeline"):
        L += ["### Timeline shape by run length (1 s ticks, max 2,048 points)", "",
              "| ticks | append µs | points | stride | least / most populated tenth of the run | target |", "|---:|---:|---:|---:|---|---|"]
        for r in scale["timeline"]:
            L.append(f"| {r['ticks']:,} | {r['append_us']:.2f} | {r['points']:,} | {r['stride']:,} | "
                     f"{r['tenth_min_pct']:.1f} % / {r['tenth_max_pct']:.1f} % | 5–15 % each |")
        t8 = g.get("ticks_1e8")
        if t8:
            L += ["", f"10^8 ticks (`bench_scale.py --ticks-1e8`): appended in {t8['append_s']:.0f} s; the footprint was written "
                  f"({t8['points']:,} points, stride {t8['stride']:,}, status {t8['status']}, {t8['schema_errors']} schema errors)."]
        L.append("")
    if scale.get("report"):
        L += ["### `wattprint report --summary` over a folder", "", "| runs | file bytes | wall s | peak RSS MiB | target |", "|---:|---:|---:|---:|---|"]
        for r in scale["report"]:
            L.append(f"| {r['runs']:,} | {r['file_bytes']:,} | {r['wall_s']:.1f} | {r['peak_rss_mib']:.0f} | < 150 MiB at 10,000 |")
        L.append("")
    rk = g.get("ranks") or {}
    if rk.get("rows"):
        L += ["### Job footprint of many ranks (`bench_ranks.py`)", "",
              f"Simulated ranks, {rk['ranks_per_node']} to a node, each a real rank footprint ({rk['timeline_points']:,} timeline points, "
              f"{rk['windows']} windows); the ranks publish summaries (no timeline) and the last one assembles the job footprint: "
              f"that step's wall and CPU time (median [min–max] over {rk['repeats']} repeats) and the bytes it reads, against "
              "gathering every rank's whole footprint.", "",
              "| ranks | nodes | assembly s | its CPU s | received MB | per rank kB | whole footprints MB | job file kB | target |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in rk["rows"]:
            L.append(f"| {r['ranks']:,} | {r['nodes']} | {r['assembly_s_median']:.3f} [{r['assembly_s_min']:.3f}–{r['assembly_s_max']:.3f}] | "
                     f"{r['assembly_cpu_s_median']:.3f} | {r['received_bytes'] / 1e6:.2f} | {r['received_per_rank_bytes'] / 1e3:.1f} | "
                     f"{r['full_footprints_bytes'] / 1e6:.1f} | {r['job_footprint_bytes'] / 1e3:.0f} | < 10 s and < 50 MB at 1,024 |")
        L.append("")
    for key in ("tick", "scale", "ranks"):
        if (g.get(key) or {}).get("error"):
            L += [f"`{key}` failed: {g[key]['error'][-300:]}", ""]
    return "\n".join(L) + "\n"


def find_overhead_pct(doc: Any) -> Optional[float]:
    """The per-step overhead in % from bench_hook's JSON, found by key name (``overhead`` and ``pct``/``percent``)."""
    if not isinstance(doc, dict):
        return None
    for key, value in doc.items():
        k = key.lower()
        if "overhead" in k and ("pct" in k or "percent" in k) and isinstance(value, (int, float)):
            return float(value)
    for value in doc.values():
        if isinstance(value, dict):
            found = find_overhead_pct(value)
            if found is not None:
                return found
    return None


def load_gpu_results() -> Optional[Dict[str, Any]]:
    """``benchmarks/gpu_results.json`` (written by ``gpu_check.py`` on a GPU machine), if present."""
    for path in (os.path.join(HERE, "gpu_results.json"), os.path.join(HERE, "out", "gpu_check.json")):
        if os.path.exists(path):
            try:
                with open(path) as f:
                    doc = json.load(f)
                doc["_path"] = os.path.relpath(path, ROOT)
                return doc
            except (OSError, ValueError):
                continue
    return None


# -- the report ------------------------------------------------------------------------------


def targets(res: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Each target: the figures, the ratio, and whether it is met (``None`` when not measured)."""
    st = res["startup"]["tools"]
    wp, wpf, cc = st.get("wattprint", {}), st.get("wattprint_files", {}), st.get("codecarbon", {})
    idle = res["idle"]["tools"]
    med = lambda d, k: (d.get(k) or {}).get("median")  # noqa: E731
    rows: List[Dict[str, Any]] = []

    r = ratio(med(cc, "start_stop_s"), med(wp, "start_stop_s"))
    rows.append(dict(metric="start()+stop() latency, cold, save=False", wattprint=fmt_summary(wp.get("start_stop_s", {}), "ms", 1e3),
                     codecarbon=fmt_summary(cc.get("start_stop_s", {}), "ms", 1e3), ratio=f"{r:.0f}× faster" if r else "n/a",
                     target="≥ 20× faster", met=None if r is None else r >= 20))
    r = ratio(med(cc, "start_stop_s"), med(wpf, "start_stop_s"))
    rows.append(dict(metric="start()+stop() latency, cold, files written", wattprint=fmt_summary(wpf.get("start_stop_s", {}), "ms", 1e3),
                     codecarbon=fmt_summary(cc.get("start_stop_s", {}), "ms", 1e3), ratio=f"{r:.0f}× faster" if r else "n/a",
                     target="≥ 20× faster", met=None if r is None else r >= 20))
    wi, ci = med(wp, "import_s"), med(cc, "import_s")
    r = ratio(ci, wi)
    rows.append(dict(metric="`import` time", wattprint=fmt_summary(wp.get("import_s", {}), "ms", 1e3),
                     codecarbon=fmt_summary(cc.get("import_s", {}), "ms", 1e3), ratio=f"{r:.1f}× faster" if r else "n/a",
                     target="no slower", met=None if r is None else wi <= ci))
    r = ratio(med(wp, "rss_total_bytes"), med(cc, "rss_total_bytes"))
    rows.append(dict(metric="RSS added by import + start() + stop()", wattprint=fmt_summary(wp.get("rss_total_bytes", {}), "MiB", 1 / MIB),
                     codecarbon=fmt_summary(cc.get("rss_total_bytes", {}), "MiB", 1 / MIB), ratio=f"{r:.2f} of CodeCarbon's" if r is not None else "n/a",
                     target="≤ 0.25 of CodeCarbon's", met=None if r is None else r <= 0.25))
    r = ratio(med(wp, "rss_import_bytes"), med(cc, "rss_import_bytes"))
    rows.append(dict(metric="RSS added by `import` alone", wattprint=fmt_summary(wp.get("rss_import_bytes", {}), "MiB", 1 / MIB),
                     codecarbon=fmt_summary(cc.get("rss_import_bytes", {}), "MiB", 1 / MIB), ratio=f"{r:.2f} of CodeCarbon's" if r is not None else "n/a",
                     target="(information)", met=None))
    r = ratio(med(cc, "warm_start_stop_s"), med(wp, "warm_start_stop_s"))
    rows.append(dict(metric="start()+stop() latency, warm (a second tracker in the process), save=False",
                     wattprint=fmt_summary(wp.get("warm_start_stop_s", {}), "ms", 1e3),
                     codecarbon=fmt_summary(cc.get("warm_start_stop_s", {}), "ms", 1e3), ratio=f"{r:.1f}× faster" if r else "n/a",
                     target="(information: the cold ratio includes CodeCarbon's one-time CPU probe)", met=None))
    wd, cd = idle.get("wattprint_defaults_8gpu", {}), idle.get("codecarbon", {})
    wcpu, ccpu = med(wd, "cpu_ms_per_s"), med(cd, "cpu_ms_per_s")
    rate = med(wd, "samples_per_s")
    r = ratio(wcpu, ccpu)
    rows.append(dict(metric=f"background CPU at real defaults over {res['idle']['seconds']:.0f} s: wattprint with files, its 60 s checkpoint "
                            "inside the window and 8 fake-NVML GPUs; CodeCarbon 15 s + its 1 s monitor (it sees no GPU)",
                     wattprint=fmt_summary(wd.get("cpu_ms_per_s", {}), "ms/s", 1, 2) + (f", {rate:.2f} samples/s" if rate else ""),
                     codecarbon=fmt_summary(cd.get("cpu_ms_per_s", {}), "ms/s", 1, 2), ratio=f"{r:.2f} of CodeCarbon's" if r is not None else "n/a",
                     target="≤ CodeCarbon's, sampling ≥ 1/s", met=None if r is None or rate is None else (wcpu <= ccpu and rate >= 0.99)))
    wd, cd = idle.get("wattprint", {}), idle.get("codecarbon", {})
    wcpu, ccpu = med(wd, "cpu_ms_per_s"), med(cd, "cpu_ms_per_s")
    rate = med(wd, "samples_per_s")
    r = ratio(wcpu, ccpu)
    rows.append(dict(metric="background CPU, wattprint save=False and no GPU (the earlier headline row), CodeCarbon at defaults",
                     wattprint=fmt_summary(wd.get("cpu_ms_per_s", {}), "ms/s", 1, 2) + (f", {rate:.2f} samples/s" if rate else ""),
                     codecarbon=fmt_summary(cd.get("cpu_ms_per_s", {}), "ms/s", 1, 2), ratio=f"{r:.2f} of CodeCarbon's" if r is not None else "n/a",
                     target="(information)", met=None))
    wd10, cd10 = idle.get("wattprint_10hz", {}), idle.get("codecarbon_10hz", {})
    r = ratio(med(wd10, "cpu_ms_per_s"), med(cd10, "cpu_ms_per_s"))
    rate10 = med(wd10, "samples_per_s")
    rows.append(dict(metric="background CPU at 10 Hz (interval_s=0.1 / measure_power_secs=0.1)",
                     wattprint=fmt_summary(wd10.get("cpu_ms_per_s", {}), "ms/s", 1, 2) + (f", {rate10:.1f} samples/s" if rate10 else ""),
                     codecarbon=fmt_summary(cd10.get("cpu_ms_per_s", {}), "ms/s", 1, 2), ratio=f"{r:.2f} of CodeCarbon's" if r is not None else "n/a",
                     target="(information)", met=None))
    mem = res["memory"]
    wm, cm = mem.get("wattprint", {}), mem.get("codecarbon", {})
    pts = wm.get("points") or []
    if len(pts) >= 2:
        grow = pts[-1]["traced_bytes"] - pts[-2]["traced_bytes"]
        wtxt = f"{pts[-1]['traced_bytes'] / 1024:.0f} KiB after {pts[-1]['samples']:,} (Δ {grow / 1024:+.1f} KiB since {pts[-2]['samples']:,})"
        # a leak of even one float per sample is >= 24 B/sample; the bounded timeline's halving swings far less
        wmet = wm.get("traced_bytes_per_sample", 1e9) < 1.0 if pts[-1]["samples"] >= 100_000 else None
    else:
        wtxt, wmet = "n/a", None
    if cm.get("traced_bytes_at_1e6") is not None:
        ctxt = f"{cm['traced_bytes_per_sample']:.0f} B/sample → {cm['traced_bytes_at_1e6'] / MIB:.0f} MiB at 1,000,000" + (
            " (extrapolated)" if cm.get("extrapolated") else "")
    else:
        ctxt = "n/a"
    rows.append(dict(metric="traced memory after 1,000,000 samples", wattprint=wtxt, codecarbon=ctxt, ratio="",
                     target="constant in run length", met=wmet))
    hook = res["hook"]
    hp = hook.get("overhead_pct")
    doc = hook.get("result") if isinstance(hook.get("result"), dict) else {}
    ab = doc.get("overhead_pct", {}).get("hook") if isinstance(doc.get("overhead_pct"), dict) else None
    direct = doc.get("direct_overhead_pct")
    if isinstance(ab, (int, float)) and isinstance(direct, (int, float)):
        step_ms = (doc.get("step_ms_median") or {}).get("off")
        res_pct = (doc.get("overhead_pct_iqr") or {}).get("hook")
        resolves = isinstance(res_pct, (int, float)) and res_pct <= 1.0
        htxt = f"direct call {doc.get('hook_call_us', float('nan')):.2f} µs = {direct:.3f} %" + (
            f" of a {step_ms:.2f} ms step" if isinstance(step_ms, (int, float)) else "") + (
            f"; A/B {ab:+.2f} % with IQR {res_pct:.1f} %" if isinstance(res_pct, (int, float)) else f"; A/B {ab:+.2f} %") + (
            "" if resolves else ": this A/B cannot resolve 1 % on this machine, so the row is judged on the direct call alone")
        hmet = (direct <= 1.0 and ab <= 1.0) if resolves else None
    elif hp is not None:
        htxt, hmet = _fmt(hp, "%", 1, 2), hp <= 1.0
    else:
        htxt, hmet = ("not measured" if not hook.get("script_present") else "see below"), None
    rows.append(dict(metric="PyTorch hook overhead per 2 ms step (bench_hook.py)", wattprint=htxt, codecarbon="(no per-step hook)", ratio="",
                     target="≤ 1 %", met=hmet))
    acc = res["accuracy"]["max_abs_err_pct"]
    rows.append(dict(metric="synthetic-trace energy error, max over ordinary traces",
                     wattprint=f"{acc['wattprint_counter']:.3f} % (counter, default); {acc['wattprint_power_10hz']:.3f} % (polled power, 10 Hz)",
                     codecarbon=f"{acc['snapshot_15s']:.2f} % (15 s snapshot); {acc['mean_1s_over_15s']:.2f} % (15 s of 1 s means)",
                     ratio="", target="≤ 0.5 % at defaults",
                     met=acc["wattprint_counter"] <= 0.5 and acc["wattprint_power_10hz"] <= 0.5))
    return rows


def _slower(mem: Dict[str, Any]) -> str:
    w = (mem.get("wattprint") or {}).get("us_per_tick_traced")
    c = (mem.get("codecarbon") or {}).get("us_per_tick_traced")
    if w and c:
        return f"it takes {c:.0f} µs against wattprint's {w:.0f} µs (both under tracemalloc)"
    return "it is much slower"


def _mark(met: Optional[bool]) -> str:
    return "—" if met is None else ("**met**" if met else "**missed**")


def render_markdown(res: Dict[str, Any]) -> str:
    m = res["machine"]
    v = m["versions"]
    L: List[str] = []
    L.append("# wattprint benchmarks: cost, memory and accuracy, beside CodeCarbon")
    L.append("")
    L.append(f"Reproduce: `{res['command']}` (about {res['elapsed_s'] / 60:.0f} min here). Generated {m['date_utc']}. "
             "Raw figures: `benchmarks/results.json`." if not res["quick"] else
             f"Quick smoke run (`{res['command']}`): too few repeats to quote. Generated {m['date_utc']}.")
    L.append("")
    L.append("## Machine")
    L.append("")
    L.append(f"- CPU: {m['cpu_model']}, {m['logical_cpus']} logical CPUs ({m.get('physical_cores')} physical cores); RAM {m.get('ram_gb')} GB")
    L.append(f"- OS: {m['os']}; Python: {m['python']}")
    L.append(f"- 1-minute load average at the start and the end of the run: {m.get('load_avg_1min_start')} / "
             f"{m.get('load_avg_1min_end')} for {m['logical_cpus']} CPUs. Other work on the machine stretches every latency; "
             "the tools alternate, so the ratios suffer less than the absolute figures.")
    L.append(f"- Power sensors: RAPL {m['rapl']}; GPUs: {', '.join(m['gpus']) or m.get('gpu_note', 'none')}. "
             "wattprint therefore ran on its CPU and RAM estimates, CodeCarbon on its CPU load model and RAM estimate.")
    L.append("- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val) + "; not installed: " +
             (", ".join(k for k, val in v.items() if not val) or "none"))
    L.append(f"- CodeCarbon: `OfflineEmissionsTracker(country_iso_code=\"USA\", save_to_file=False, log_level=\"error\")`. "
             f"Outbound network was refused inside every probe; attempts seen: {res['net_attempts']}.")
    L.append("")
    L.append("## Summary")
    L.append("")
    L.append("Median [min–max] over the repeats; ratios are of medians.")
    L.append("")
    L.append("| metric | wattprint | CodeCarbon 3.3.2 | ratio | target | |")
    L.append("|---|---|---|---|---|---|")
    for row in res["targets"]:
        L.append(f"| {row['metric']} | {row['wattprint']} | {row['codecarbon']} | {row['ratio']} | {row['target']} | {_mark(row['met'])} |")
    L.append("")
    missed = [r["metric"] for r in res["targets"] if r["met"] is False]
    # a row with a target but no verdict: not measured, or measured without the resolution to judge it (the row says which)
    unjudged = [r["metric"] for r in res["targets"] if r["met"] is None and not str(r["target"]).startswith("(information")]
    if missed:
        L.append("Missed: " + "; ".join(missed) + ". See the notes below.")
    if unjudged:
        L.append("Not judged in this run (the row says why): " + "; ".join(unjudged) + ".")
    if missed or unjudged:
        L.append("")

    st = res["startup"]
    L.append("## Start-up: import, start(), stop()")
    L.append("")
    L.append(f"Each cell is one fresh interpreter per repeat ({res['settings']['startup_repeats']} repeats, tools alternating). "
             "`import` is timed inside the process (interpreter start-up excluded); RSS is read from `/proc/self/statm` "
             "before the import and after the first `stop()`. \"cold\" is construct + `start()` + `stop()` of the first tracker "
             "in the process, \"warm\" of a second one (both tools cache hardware discovery). "
             f"Code loading: {st.get('bytecode') or bytecode_condition(False)}.")
    L.append("")
    L.append("| tool | import | RSS + import | construct | start() | stop() | cold total | RSS + all | warm total |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for tool, s in st["tools"].items():
        if tool == "none":
            continue
        L.append(f"| {tool} | {fmt_summary(s['import_s'], 'ms', 1e3)} | {fmt_summary(s['rss_import_bytes'], 'MiB', 1 / MIB)} | "
                 f"{fmt_summary(s['init_s'], 'ms', 1e3, 2)} | {fmt_summary(s['start_s'], 'ms', 1e3)} | {fmt_summary(s['stop_s'], 'ms', 1e3, 2)} | "
                 f"{fmt_summary(s['start_stop_s'], 'ms', 1e3)} | {fmt_summary(s['rss_total_bytes'], 'MiB', 1 / MIB)} | "
                 f"{fmt_summary(s['warm_start_stop_s'], 'ms', 1e3, 2)} |")
    errs = {t: s["errors"] for t, s in st["tools"].items() if s.get("errors")}
    if errs:
        L.append("")
        L.append(f"Errors: {errs}")
    L.append("")

    idle = res["idle"]
    L.append("## Background CPU while the training loop sleeps")
    L.append("")
    L.append(f"CPU time (user + system, all threads, `getrusage`) over a {idle['seconds']:g} s `time.sleep` after `start()`, per second "
             f"of run; {res['settings']['idle_repeats']} rounds, all configurations in parallel processes over the same wall-clock window. "
             "`none` is an interpreter with no tracker; `bare_thread_10hz` a thread that wakes 10 times a second and does nothing, "
             "the floor for any 10 Hz sampler on this machine.")
    L.append("")
    L.append("| configuration | CPU ms per s of run | % of one core | sampler reads per s |")
    L.append("|---|---|---|---|")
    for tool, s in idle["tools"].items():
        c = s["cpu_ms_per_s"]
        pct = fmt_summary(c, "%", 0.1, 3)
        L.append(f"| {tool} | {fmt_summary(c, '', 1, 3)} | {pct} | {fmt_summary(s['samples_per_s'], '', 1, 2) if s['samples_per_s']['n'] else '—'} |")
    L.append("")

    mem = res["memory"]
    L.append("## Memory in run length")
    L.append("")
    L.append("wattprint: `Tracker(sensors=[ReplaySensor(...)], clock=ManualClock(), interval_s=math.inf)`, then `clock.advance(1)` and "
             "`sample_now()` per sample (a ledger read and a timeline point each). CodeCarbon: its 1 s `_monitor_power()` per sample and "
             f"`_measure_power_and_energy()` every 15th, with its scheduler threads stopped; {_slower(mem)} per sample, so it "
             "runs fewer samples and the growth per sample is extrapolated. Memory is Python allocations traced by `tracemalloc` "
             "since the first sample; RSS growth is shown beside it.")
    L.append("")
    L.append("| tool | samples | traced memory held | RSS growth |")
    L.append("|---|---|---|---|")
    for tool, r in mem.items():
        if "error" in r:
            L.append(f"| {tool} | error: {r['error'][:200]} | | |")
            continue
        for p in r["points"]:
            L.append(f"| {tool} | {p['samples']:,} | {p['traced_bytes'] / 1024:,.1f} KiB | {p['rss_bytes'] / 1024:,.0f} KiB |")
    L.append("")
    L.append("wattprint's timeline keeps at most `max_timeline_points` (2048) points and halves itself when full, so its memory stops "
             "growing after about 2,000 samples; CodeCarbon appends CPU, RAM (and GPU) utilisation to lists once a second for the "
             "whole run.")
    L.append("")

    hook = res["hook"]
    L.append("## PyTorch hook overhead")
    L.append("")
    if hook.get("result") is not None:
        L.append(f"From `benchmarks/bench_hook.py` (`benchmarks/out/hook.json`, {hook.get('result_mtime_utc')}):")
        L.append("")
        L.append("```json")
        L.append(json.dumps(hook["result"], indent=1, default=str)[:3000])
        L.append("```")
    elif hook.get("script_present"):
        L.append(f"`benchmarks/bench_hook.py` did not leave `benchmarks/out/hook.json`: {hook.get('error', 'not run in quick mode')}")
    else:
        L.append("`benchmarks/bench_hook.py` (the PyTorch integration's benchmark) is not in the tree yet; this row is empty until it is.")
    L.append("")

    L.append("## Accuracy on synthetic traces")
    L.append("")
    L.append("Error of the energy against the exact integral of the trace, in %. Traces are step functions played through "
             "`ReplaySensor` and the whole Tracker pipeline with a `ManualClock` (instant and exact). Power changes are placed "
             f"{accuracy.PHASE_S * 1000:.1f} ms off the whole second so that no sampler grid sits on a transition. The two 15 s "
             "columns are integrators implemented in `benchmarks/accuracy.py` that model CodeCarbon's sampling: a power reading "
             "every 15 s times 15 s, and the mean of 1 s readings times 15 s (CodeCarbon 3.3's path for GPUs without an energy "
             "counter and for its CPU load model). Where a device has an energy counter (NVML on Volta and newer, RAPL) both "
             "tools use it, and both are exact up to the counter's own accuracy.")
    L.append("")
    L.append(accuracy.markdown(res["accuracy"]))
    L.append("")
    for r in res["accuracy"]["traces"]:
        L.append(f"- `{r['trace']}`: {r['description']}")
    L.append("")
    L.append("The adversarial trace shows the limit of any power poller: bursts that always fall between polls are invisible to it. "
             "Counters see them. It is excluded from the maximum.")
    L.append("")

    L.append("## GPU")
    L.append("")
    gpu = res.get("gpu")
    if gpu and not gpu.get("skipped"):
        L.append(f"From `{gpu.get('_path')}` (`benchmarks/gpu_check.py` on {gpu.get('machine', {}).get('gpu', 'a GPU machine')}):")
        L.append("")
        L.append("```json")
        L.append(json.dumps({k: v for k, v in gpu.items() if k != "_path"}, indent=1, default=str)[:6000])
        L.append("```")
    else:
        L.append("Not run: this machine has no NVIDIA GPU. On one, `python benchmarks/gpu_check.py --out benchmarks/gpu_results.json` "
                 "measures wattprint, CodeCarbon and Zeus against direct NVML energy-counter reads on a fixed bf16 matmul workload "
                 "with idle gaps, plus the sampler's CPU cost and NVML call latencies; `run.py` then adds its figures here. "
                 "See `docs/performance.md` for running it on a machine without a package registry.")
    L.append("")
    L.append("## Method notes")
    L.append("")
    L.append("- Every start-up figure comes from a fresh interpreter started by `benchmarks/_probes.py`; the order of the tools rotates "
             "each round.")
    L.append("- CodeCarbon's `start()` runs `py-cpuinfo`, which starts a child Python; that child's CPU and memory are not in "
             "CodeCarbon's figures here (they would make it look worse).")
    L.append("- The 10 Hz rows read the CPU and RAM estimates at 10 Hz; on a GPU machine wattprint reads NVML's energy counter at "
             "`interval_s` and polls power only for GPUs without one.")
    L.append("- Targets are reported, never asserted in tests: timing on shared machines is noisy.")
    return "\n".join(L) + "\n"


# -- main ------------------------------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: one repeat, 1 s idle, 10,000 samples, in parallel")
    ap.add_argument("--out", default=None, help="folder for RESULTS.md and results.json (default benchmarks/, or benchmarks/out/quick with --quick)")
    ap.add_argument("--repeats", type=int, default=None, help="start-up repeats per tool (default 7)")
    ap.add_argument("--idle-s", type=float, default=None, help="idle window per background-CPU run, seconds (default 20)")
    ap.add_argument("--idle-repeats", type=int, default=None, help="background-CPU rounds (default 3)")
    ap.add_argument("--samples", type=int, default=None, help="simulated samples for wattprint's memory run (default 1,000,000)")
    ap.add_argument("--skip-hook", action="store_true", help="do not run bench_hook.py (its last JSON is still read)")
    ap.add_argument("--startup-only", action="store_true", help="only the start-up rows (import, cold and warm start+stop), printed; no file written")
    ap.add_argument("--bytecode-cache", action="store_true", help="start-up probes load every module from a .pyc (see bytecode_condition)")
    args = ap.parse_args(argv)
    if args.startup_only:
        return startup_only(args.repeats or 9, args.bytecode_cache)
    quick = args.quick
    outdir = args.out or (os.path.join(HERE, "out", "quick") if quick else HERE)
    os.makedirs(outdir, exist_ok=True)
    settings = {
        "startup_repeats": args.repeats or (1 if quick else 7),
        "idle_s": args.idle_s or (1.0 if quick else 65.0),  # 65 s: wattprint's default 60 s checkpoint falls inside
        "idle_repeats": args.idle_repeats or (1 if quick else 2),
        "wp_samples": args.samples or (10_000 if quick else 1_000_000),
        "cc_samples": 500 if quick else 20_000,
        "lead_s": 4.0 if quick else 8.0,
    }
    t0 = time.monotonic()
    cmd = "python benchmarks/run.py" + (" --quick" if quick else "")
    res: Dict[str, Any] = {"command": cmd, "quick": quick, "settings": settings, "machine": describe_machine()}
    res["machine"]["load_avg_1min_start"] = _loadavg()
    with tempfile.TemporaryDirectory(prefix="wattprint-bench-") as work:
        log = (lambda msg: print(f"[{time.monotonic() - t0:6.1f} s] {msg}", flush=True))
        if quick:
            # smoke mode: everything at once; the figures are not for quoting
            with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
                f_start = pool.submit(bench_startup, settings["startup_repeats"], work, True, args.bytecode_cache)
                f_idle = pool.submit(bench_idle, settings["idle_s"], settings["idle_repeats"], work, settings["lead_s"])
                f_mem = pool.submit(bench_memory, settings["wp_samples"], settings["cc_samples"], True)
                res["accuracy"] = accuracy.run_all()
                res["startup"], res["idle"], res["memory"] = f_start.result(), f_idle.result(), f_mem.result()
            res["hook"] = bench_hook(run_it=False)
        else:
            log("accuracy on synthetic traces")
            res["accuracy"] = accuracy.run_all()
            log(f"start-up: {settings['startup_repeats']} rounds")
            res["startup"] = bench_startup(settings["startup_repeats"], work, False, args.bytecode_cache)
            log(f"background CPU: {settings['idle_repeats']} rounds of {settings['idle_s']:g} s")
            res["idle"] = bench_idle(settings["idle_s"], settings["idle_repeats"], work, settings["lead_s"])
            log(f"memory: {settings['wp_samples']:,} samples")
            res["memory"] = bench_memory(settings["wp_samples"], settings["cc_samples"], False)
            log("PyTorch hook (bench_hook.py)")
            res["hook"] = bench_hook(run_it=not args.skip_hook)
        if not quick:  # minutes on a busy machine: not part of the smoke run
            log("growth curves (bench_tick.py, bench_scale.py)")
            res["growth"] = bench_growth(quick)
    res["machine"]["load_avg_1min_end"] = _loadavg()
    res["gpu"] = load_gpu_results()
    attempts = []
    for section in ("startup", "idle"):
        for run in res[section]["runs"]:
            attempts.extend(run.get("net_attempts", []))
    for run in res["memory"].values():
        attempts.extend(run.get("net_attempts", []))
    res["net_attempts"] = len(attempts)
    res["targets"] = targets(res)
    res["elapsed_s"] = time.monotonic() - t0
    md = render_markdown(res) + growth_markdown(res.get("growth") or {})
    with open(os.path.join(outdir, "RESULTS.md"), "w") as f:
        f.write(md)
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump(res, f, indent=1, default=str)
    print()
    print("| metric | wattprint | CodeCarbon | ratio | target | |")
    for row in res["targets"]:
        print(f"| {row['metric']} | {row['wattprint']} | {row['codecarbon']} | {row['ratio']} | {row['target']} | {_mark(row['met'])} |")
    print(f"\nwrote {os.path.join(outdir, 'RESULTS.md')} and results.json in {res['elapsed_s']:.0f} s")
    return 0


def startup_only(repeats: int, bytecode_cache: bool) -> int:
    """``--startup-only``: the start-up probes alone (one process at a time), medians printed."""
    with tempfile.TemporaryDirectory(prefix="wattprint-bench-") as work:
        st = bench_startup(repeats, work, False, bytecode_cache)
    print(f"{repeats} rounds, tools alternating; {st['bytecode']}")
    print("| tool | import | construct | start() | stop() | cold total (construct+start+stop) | import + cold | warm total |")
    for tool, s in st["tools"].items():
        if tool == "none":
            continue
        both = summary([x["import_s"] + x["start_stop_s"] for x in st["runs"] if x.get("tool") == tool and "start_stop_s" in x])
        print(f"| {tool} | {fmt_summary(s['import_s'], 'ms', 1e3)} | {fmt_summary(s['init_s'], 'ms', 1e3)} | {fmt_summary(s['start_s'], 'ms', 1e3)} | "
              f"{fmt_summary(s['stop_s'], 'ms', 1e3, 2)} | {fmt_summary(s['start_stop_s'], 'ms', 1e3)} | {fmt_summary(both, 'ms', 1e3)} | "
              f"{fmt_summary(s['warm_start_stop_s'], 'ms', 1e3, 2)} |")
        if s.get("errors"):
            print(f"  errors: {s['errors']}")
    cc, wp = st["tools"].get("codecarbon"), st["tools"]["wattprint"]
    r = ratio((cc or {}).get("start_stop_s", {}).get("median"), wp["start_stop_s"]["median"])
    print(f"cold start+stop, CodeCarbon / wattprint: {f'{r:.1f}x' if r else 'n/a (CodeCarbon not installed)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
