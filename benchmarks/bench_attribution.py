"""Sampler background CPU with attribution on (process lists every tick) against today's path.

    python benchmarks/bench_attribution.py [--seconds 600] [--ticks 1000] [--repeats 5] [--quick]

Two measures, each for three arms and two sensor sets:

* ``run`` (the figure the issue bounds): a Tracker at its defaults (``interval_s=1``,
  checkpoint every 60 s written to a temporary ``output_dir``) runs ``--seconds`` simulated
  seconds: its own sampler thread ticks on a :class:`~wattprint.testing.ManualClock` advanced by a
  :class:`~wattprint.testing.StepEvent`, as fast as it can, while the main thread waits. The
  process CPU time over those ticks, divided by the simulated seconds, is the background CPU
  per second of a run (µs/s). ``WATTPRINT_PROC_ROOT=/proc`` marks the real ``/proc`` as the
  usage source, so attribution splits CPU and RAM under the simulated clock too.
* ``tick``: ``Sampler.tick(force=True)`` called ``--ticks`` times on a thread-less tracker:
  the read path alone (no checkpoint), µs of this thread's CPU per tick.

Arms: ``today`` (the ledger's attribution hook detached: the read path as before attribution),
``node`` (``attribution="node"``: hook on, no process reads), ``job`` (``attribution="job"``:
at defaults a usage sample (the tree's ``/proc`` files, ``/proc/stat``, the GPUs' process lists
and, on a shared GPU, per-process utilisation) on every 1 s tick).

Sensor sets: ``discovered`` (what this machine has: RAPL or the CPU/RAM estimates) and
``fake-gpu`` (a fake NVML GPU shared with another process, lists and per-process SM utilisation
every tick, plus a fake RAPL package), ``fake-gpu-alone`` (the job alone on it: lists only). The fake NVML's Python objects cost what the real
``pynvml`` wrapper's do; the driver's ioctls are not in it.

Writes ``benchmarks/out/attribution.json`` and prints a summary; ``job / node`` (the bound: the
same run without attribution work) and ``job / today``, each as the median over repeats and as the
ratio of the fastest repeats (the intrinsic cost on a noisy machine).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List

import wattprint as wp
from wattprint.engine.sensors.nvidia import NvidiaSensor
from wattprint.engine.sensors.rapl import RaplSensor
from wattprint.testing import FakePowercap, ManualClock, StepEvent
from wattprint.testing.fake_pynvml import FakeGpu, FakeProcess, make_fake_nvml


def _sensors(kind: str, tmp: str) -> Any:
    if kind == "discovered":
        return None
    if not os.path.isdir(os.path.join(tmp, "rapl")):
        FakePowercap(os.path.join(tmp, "rapl"), sockets=1)
    if kind == "fake-gpu-alone":
        gpu = FakeGpu(uuid="GPU-1", processes=[FakeProcess(os.getpid())], sm_util={os.getpid(): 90})
    else:
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
        att.usage_interval_s = att.cpu_interval_s = 0.0  # every sample on every tick (at the defaults /proc every 2nd)
    for _ in range(50):
        sampler.tick(force=True)
    c0 = time.thread_time()
    for _ in range(ticks):
        sampler.tick(force=True)
    c1 = time.thread_time()
    t.stop()
    return (c1 - c0) / ticks * 1e6


class _GatedStep(StepEvent):
    """A :class:`StepEvent` whose sampler waits for ``go`` first, so the CPU clock starts before its first tick."""

    def __init__(self, clock: ManualClock, ticks: int) -> None:
        super().__init__(clock, ticks)
        self.go = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.go.wait()
        return super().wait(timeout)


def per_second_us(arm: str, kind: str, seconds: int, tmp: str, rep: int) -> float:
    clock = ManualClock()
    env = {"WATTPRINT_PROC_ROOT": "/proc"}
    event = _GatedStep(clock, seconds)
    t = wp.Tracker(output_dir=os.path.join(tmp, f"{kind}-{arm}-{rep}"), handle_signals=False, sensors=_sensors(kind, tmp),
                   clock=clock, event=event, env=env,
                   attribution="node" if arm == "node" else "job")  # fmt: skip
    t.start()
    if arm == "today":
        t._ledger.observer = None
    c0, ticks0 = time.process_time(), t._sampler.ticks  # the background only: not start()'s discovery
    event.go.set()
    deadline = time.monotonic() + 600
    while t._sampler.ticks < seconds and time.monotonic() < deadline:
        time.sleep(0.005)
    c1 = time.process_time()
    ticks = t._sampler.ticks - ticks0
    t.stop()
    return (c1 - c0) / max(ticks, 1) * 1e6


def main(argv: List[str] | None = None) -> Dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="60 s, 100 ticks, 1 repeat (smoke test)")
    args = ap.parse_args(argv)
    seconds, ticks, repeats = (60, 100, 1) if args.quick else (args.seconds, args.ticks, args.repeats)
    results: Dict[str, Any] = {"seconds": seconds, "ticks": ticks, "repeats": repeats, "cpu_count": os.cpu_count(), "run": {}, "arms": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("discovered", "fake-gpu", "fake-gpu-alone"):
            runs: Dict[str, List[float]] = {"today": [], "node": [], "job": []}
            per_s: Dict[str, List[float]] = {"today": [], "node": [], "job": []}
            for r in range(repeats):
                order = ["today", "node", "job"][r % 3:] + ["today", "node", "job"][: r % 3]  # rotate: drifts cancel
                for arm in order:
                    runs[arm].append(per_tick_us(arm, kind, ticks, tmp))
                    per_s[arm].append(per_second_us(arm, kind, seconds, tmp, r))
            pm = {arm: statistics.median(v) for arm, v in per_s.items()}
            pl = {arm: min(v) for arm, v in per_s.items()}
            results["run"][kind] = {"us_cpu_per_s_median": pm, "us_cpu_per_s_min": pl, "us_cpu_per_s_all": per_s,
                                    "job_over_today": pm["job"] / pm["today"], "job_over_today_min": pl["job"] / pl["today"],
                                    "job_over_node": pm["job"] / pm["node"], "job_over_node_min": pl["job"] / pl["node"],
                                    "background_cpu_pct": {arm: v / 1e4 for arm, v in pm.items()}}  # fmt: skip
            med = {arm: statistics.median(v) for arm, v in runs.items()}
            low = {arm: min(v) for arm, v in runs.items()}
            results["arms"][kind] = {
                "us_per_tick_median": med,
                "us_per_tick_min": low,
                "job_over_today_min": low["job"] / low["today"] if low["today"] > 0 else None,
                "us_per_tick_all": runs,
                "job_over_today": med["job"] / med["today"] if med["today"] > 0 else None,
                "node_over_today": med["node"] / med["today"] if med["today"] > 0 else None,
                "job_over_node": med["job"] / med["node"] if med["node"] > 0 else None,
                "background_cpu_pct_at_1s": {arm: v / 1e6 * 100 for arm, v in med.items()},
            }
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "attribution.json"), "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=2)
    for kind, r in results["run"].items():
        m = r["us_cpu_per_s_median"]
        print(f"run  {kind:14s} today {m['today']:7.1f} us/s  node {m['node']:7.1f}  job {m['job']:7.1f}  "
              f"job/node {r['job_over_node']:.2f} (min/min {r['job_over_node_min']:.2f})  "
              f"job/today {r['job_over_today']:.2f} (min/min {r['job_over_today_min']:.2f})")  # fmt: skip
    for kind, r in results["arms"].items():
        m = r["us_per_tick_median"]
        print(f"tick {kind:14s} today {m['today']:7.1f} us/tick  node {m['node']:7.1f}  job {m['job']:7.1f}  "
              f"job/node {r['job_over_node']:.2f}  job/today {r['job_over_today']:.2f} (min/min {r['job_over_today_min']:.2f})  (at 1 tick/s: {r['background_cpu_pct_at_1s']['job']:.4f} % of a core)")  # fmt: skip
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
