"""Sampler tick against the raw reads it makes: NVML (fake library) at 1/8/64/256 GPUs, and a RAPL zone against a pread.

    python benchmarks/bench_tick.py [--quick] [--out benchmarks/out/tick.json]

A *tick* is :meth:`Sampler.tick`, in two scopes: ``engine`` (the ledger's reads and the
timeline point: what this package's engine adds to the NVML calls) and ``tracker defaults``
(a started :class:`Tracker` with ``save=False``: everything its ``on_tick`` and the ledger's
read hook run, e.g. attribution and the request ledger; no checkpoint is due); the *raw
calls* are the same ``nvmlDeviceGetTotalEnergyConsumption`` calls on the same fake
handles, in a bare loop. Both are timed in alternating batches in one process, so they
see the same machine; the figure is the median ratio over the batches, with its
quartiles. The RAPL row times ``RaplSensor.read`` on one zone of a fake powercap tree
(a regular file on the local disk, not sysfs) against ``os.pread`` on a kept descriptor.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Dict, List

import wattprint as wp
from wattprint.engine.ledger import Ledger
from wattprint.engine.sampler import Sampler
from wattprint.engine.sensors.nvidia import NvidiaSensor
from wattprint.engine.sensors.rapl import RaplSensor
from wattprint.testing import ManualClock
from wattprint.testing.fake_pynvml import FakeGpu, make_fake_nvml
from wattprint.testing.powercap import FakePowercap


def quartiles(values: List[float]) -> Dict[str, float]:
    v = sorted(values)
    q = statistics.quantiles(v, n=4, method="inclusive") if len(v) > 1 else [v[0]] * 3
    return {"median": statistics.median(v), "q1": q[0], "q3": q[2], "n": len(v)}


def fake_gpus(n: int) -> List[FakeGpu]:
    return [FakeGpu(uuid=f"GPU-{i:08x}-0000-0000-0000-000000000000") for i in range(n)]


def tick_vs_raw(n_gpus: int, batches: int, per_batch: int, core: bool) -> Dict[str, Any]:
    """``core``: the engine's tick alone (ledger reads, timeline point); else a started Tracker's tick at its defaults."""
    gpus = fake_gpus(n_gpus)
    nvml = make_fake_nvml(gpus)
    clock = ManualClock()
    if core:
        ledger = Ledger([NvidiaSensor(nvml)])
        ledger.start(clock.monotonic())
        sampler = Sampler(ledger, interval_s=1.0, on_tick=lambda now: ledger.append_point(now, 0, 0.999), clock=clock)
        t = None
    else:
        t = wp.Tracker(sensors=[NvidiaSensor(nvml)], clock=clock, interval_s=1.0, save=False, handle_signals=False,
                       event=_NeverEvent())
        t.start()
        sampler = t._sampler
    handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(n_gpus)]
    fn = nvml.nvmlDeviceGetTotalEnergyConsumption
    tick_us: List[float] = []
    raw_us: List[float] = []
    ratios: List[float] = []
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in range(per_batch):
            for h in handles:
                fn(h)
        t1 = time.perf_counter()
        for _ in range(per_batch):
            for g in gpus:
                g.energy_mj += 100_000
            clock.advance(1.0)
            sampler.tick()
        t2 = time.perf_counter()
        raw, tick = (t1 - t0) / per_batch * 1e6, (t2 - t1) / per_batch * 1e6
        raw_us.append(raw)
        tick_us.append(tick)
        ratios.append(tick / raw)
    if t is not None:
        t.stop()
    return {"gpus": n_gpus, "scope": "engine" if core else "tracker defaults", "tick_us": quartiles(tick_us), "raw_nvml_us": quartiles(raw_us), "ratio": quartiles(ratios)}


class _NeverEvent:
    """A stop event whose wait never returns False: the sampler thread exits at once; ticks are driven here."""

    def wait(self, timeout: Any = None) -> bool:
        return True

    def set(self) -> None:
        pass

    def is_set(self) -> bool:
        return True


def rapl_vs_pread(batches: int, per_batch: int) -> Dict[str, Any]:
    root = tempfile.mkdtemp(prefix="wattprint-rapl-")
    FakePowercap(root, sockets=1, dram=False, psys=False, core=False, mmio=False)
    sensor = RaplSensor(root)
    fd = os.open(os.path.join(root, "intel-rapl:0", "energy_uj"), os.O_RDONLY)
    pread_us, zone_us, ratios = [], [], []
    now = 0.0
    for _ in range(batches):
        t0 = time.perf_counter()
        for _ in range(per_batch):
            os.pread(fd, 32, 0)
        t1 = time.perf_counter()
        for _ in range(per_batch):
            now += 1.0
            sensor.read(now)
        t2 = time.perf_counter()
        p, z = (t1 - t0) / per_batch * 1e6, (t2 - t1) / per_batch * 1e6
        pread_us.append(p)
        zone_us.append(z)
        ratios.append(z / p)
    os.close(fd)
    sensor.close()
    return {"pread_us": quartiles(pread_us), "zone_read_us": quartiles(zone_us), "ratio": quartiles(ratios)}


def run(quick: bool = False) -> Dict[str, Any]:
    batches = 5 if quick else 15
    out: Dict[str, Any] = {"ticks": [], "quick": quick}
    for core in (True, False):
        for n in (1, 8, 64, 256):
            per = max(5, (200 if quick else 2000) // n // (1 if core else 4))
            out["ticks"].append(tick_vs_raw(n, batches, per, core))
    out["rapl"] = rapl_vs_pread(batches, 2000 if quick else 20_000)
    return out


def main(argv: Any = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "out", "tick.json"))
    args = ap.parse_args(argv)
    res = run(args.quick)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(res, fh, indent=2)
    for row in res["ticks"]:
        print(f"{row['scope']:>16} {row['gpus']:>4} GPUs: tick {row['tick_us']['median']:.1f} us, raw NVML {row['raw_nvml_us']['median']:.1f} us, "
              f"ratio {row['ratio']['median']:.2f} [{row['ratio']['q1']:.2f}-{row['ratio']['q3']:.2f}]")
    r = res["rapl"]
    print(f"RAPL zone read {r['zone_read_us']['median']:.2f} us vs pread {r['pread_us']['median']:.2f} us: "
          f"{r['ratio']['median']:.2f} [{r['ratio']['q1']:.2f}-{r['ratio']['q3']:.2f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
