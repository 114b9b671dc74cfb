"""Sampler background CPU with attribution on (process lists every tick) against today's path.

    python benchmarks/bench_attribution.py [--ticks 2000] [--repeats 5] [--quick]

For each arm a Tracker is started (``interval_s=inf``: no thread, the loop drives the
ticks) and ``Sampler.tick(force=True)`` is called ``--ticks`` times; the CPU time of this
thread per tick is the sampler's background cost per tick (at the default ``interval_s=1``
the sampler ticks once a second, so µs per tick = µs of CPU per second). Arms:

* ``today``: the ledger's attribution hook detached (the read path as before attribution);
* ``node``: ``attribution="node"`` (hook on, no process reads);
* ``job``: ``attribution="job"`` with the usage sample forced on every tick (the default
  samples at most once per ``interval_s``, i.e. every tick at defaults): ``/proc/stat``,
  ``/proc/meminfo``, this process's ``stat``, its tree walked every 10 s, the cgroup files.

Two sensor sets: ``discovered`` (what this machine has: RAPL or the CPU/RAM estimates) and
``fake-gpu`` (a fake NVML GPU shared with another process, with process lists and per-process
SM utilisation each tick, plus a fake RAPL package): NVML calls on a real driver cost more than
the fake's Python, so that arm bounds our own overhead, not the driver's.

Writes ``benchmarks/out/attribution.json`` and prints a summary; the ratio ``job / today`` is
the figure the issue bounds (<= 2 at defaults).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Dict, List

import wattprint as wp
from wattprint.engine.sensors.nvidia import NvidiaSensor
from wattprint.engine.sensors.rapl import RaplSensor
from wattprint.testing import FakePowercap
from wattprint.testing.fake_pynvml import FakeGpu, FakeProcess, make_fake_nvml


def _sensors(kind: str, tmp: str) -> Any:
    if kind == "discovered":
        return None
    FakePowercap(os.path.join(tmp, "rapl"), sockets=1)
    gpu = FakeGpu(uuid="GPU-1", processes=[FakeProcess(os.getpid()), FakeProcess(os.getppid())],
                  sm_util={os.getpid(): 75, os.getppid(): 25})  # fmt: skip
    return [NvidiaSensor(nvml=make_fake_nvml([gpu]), env={}), RaplSensor(os.path.join(tmp, "rapl"))]


def per_tick_us(arm: str, kind: str, ticks: int, tmp: str) -> float:
    t = wp.Tracker(save=False, interval_s=math.inf, handle_signals=False, sensors=_sensors(kind, tmp),
                   attribution="node" if arm == "node" else "job")  # fmt: skip
    t.start()
    ledger, sampler, att = t._ledger, t._sampler, t._attributor
    if arm == "today":
        ledger.observer = None
    if arm == "job":
        att.usage_interval_s = 0.0  # a usage sample (process lists) on every tick
    for _ in range(50):
        sampler.tick(force=True)
    c0 = time.thread_time()
    for _ in range(ticks):
        sampler.tick(force=True)
    c1 = time.thread_time()
    t.stop()
    return (c1 - c0) / ticks * 1e6


def main(argv: List[str] | None = None) -> Dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="200 ticks, 2 repeats (smoke test)")
    args = ap.parse_args(argv)
    ticks, repeats = (200, 2) if args.quick else (args.ticks, args.repeats)
    results: Dict[str, Any] = {"ticks": ticks, "repeats": repeats, "cpu_count": os.cpu_count(), "arms": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("discovered", "fake-gpu"):
            runs: Dict[str, List[float]] = {"today": [], "node": [], "job": []}
            for r in range(repeats):
                order = ["today", "node", "job"][r % 3:] + ["today", "node", "job"][: r % 3]  # rotate: drifts cancel
                for arm in order:
                    runs[arm].append(per_tick_us(arm, kind, ticks, tmp))
            med = {arm: statistics.median(v) for arm, v in runs.items()}
            results["arms"][kind] = {
                "us_per_tick_median": med,
                "us_per_tick_all": runs,
                "job_over_today": med["job"] / med["today"] if med["today"] > 0 else None,
                "node_over_today": med["node"] / med["today"] if med["today"] > 0 else None,
                "background_cpu_pct_at_1s": {arm: v / 1e6 * 100 for arm, v in med.items()},
            }
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "attribution.json"), "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=2)
    for kind, r in results["arms"].items():
        m = r["us_per_tick_median"]
        print(f"{kind:10s} today {m['today']:8.1f} us/tick  node {m['node']:8.1f}  job {m['job']:8.1f}  "
              f"job/today {r['job_over_today']:.2f}  (at 1 tick/s: {r['background_cpu_pct_at_1s']['job']:.4f} % of a core)")  # fmt: skip
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
