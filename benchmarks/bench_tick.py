"""Sampler tick against the raw reads it makes: NVML (fake library) at 1/8/64/256 GPUs, and a RAPL zone against a pread.

    python benchmarks/bench_tick.py [--quick] [--out benchmarks/out/tick.json]

A *tick* is :meth:`Sampler.tick`, in three scopes: ``engine`` (the ledger's reads and the
timeline point: what this package's engine adds to the NVML calls), ``tracker node`` (a
started :class:`Tracker`, ``save=False``, ``attribution="node"``: its ``on_tick``, the
request ledger and the attribution hook in node mode; the tick makes only the energy calls)
and ``tracker defaults`` (the same at ``attribution="job"``: the per-process NVML calls of
attribution are made too, and /proc is read; no checkpoint is due).

The *raw calls* of a scope are exactly the NVML calls its tick makes: they are recorded
(function and arguments, through ``sys.setprofile``) over a few ticks, and replayed as
straight-line code (no loop, no wrapper) on the same fake library and handles; per-process
calls of ``tracker defaults`` count in its denominator, /proc reads do not. The tick's
time excludes the harness (advancing the fake counters and the manual clock), timed in the
same batch. Raw, harness and tick alternate in batches in one process, so they see the
same machine; times are this thread's CPU time (``time.thread_time``: a batch preempted by
other work on a shared machine is not stretched); each figure is the median over the
batches, with its quartiles.

``floor``: not the product. The least a counter tick must do, fused into one function (clock read, one
lock, every GPU's counter, the deltas, the plausibility test, the joules, the peak-record test, one timeline
point) with no ledger, sensor class, gap or deadline bookkeeping, and written out for the GPU count (one
local per GPU, no loop, list or iterator): a lower bound, in CPython, of any tick that does that arithmetic,
against the same raw calls.

``engine, pynvml over a C stub``: the same engine tick on real ``pynvml`` wrappers
(``nvmlDeviceGetTotalEnergyConsumption`` as shipped, its ctypes function pointer replaced by
a C no-op), against the same wrapper calls: the cost of a real call without the driver's own
work, so a lower bound of a real GPU's raw call (needs ``nvidia-ml-py``; skipped without it).

The RAPL row times ``RaplSensor.read`` on one zone of a fake powercap tree (a regular file
on the local disk, not sysfs) against ``os.pread`` on a kept descriptor.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import types
from typing import Any, Callable, Dict, List, Optional, Tuple

import wattprint as wp
from wattprint.engine.ledger import Ledger
from wattprint.engine.sampler import Sampler
from wattprint.engine.sensors.nvidia import NvidiaSensor
from wattprint.engine.sensors.rapl import RaplSensor
from wattprint.testing import ManualClock, StepEvent  # StepEvent(ticks=0): the sampler thread ticks never; ticks are driven here
from wattprint.testing.fake_pynvml import FakeGpu, make_fake_nvml
from wattprint.testing.powercap import FakePowercap

Call = Tuple[Callable[..., Any], Tuple[Any, ...]]


def quartiles(values: List[float]) -> Dict[str, float]:
    v = sorted(values)
    q = statistics.quantiles(v, n=4, method="inclusive") if len(v) > 1 else [v[0]] * 3
    return {"median": statistics.median(v), "q1": q[0], "q3": q[2], "n": len(v)}


def fake_gpus(n: int) -> List[FakeGpu]:
    return [FakeGpu(uuid=f"GPU-{i:08x}-0000-0000-0000-000000000000") for i in range(n)]


def record_nvml_calls(nvml: Any, run: Callable[[], None]) -> List[Call]:
    """The calls into ``nvml``'s functions (outermost only) that ``run()`` makes, with their arguments."""
    fns = {}
    for name in dir(nvml):
        fn = getattr(nvml, name)
        code = getattr(fn, "__code__", None)
        if name.startswith("nvml") and code is not None:
            fns[code] = fn
    calls: List[Call] = []
    inside: List[Any] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            fn = fns.get(frame.f_code)
            if fn is not None and not inside:
                inside.append(frame)
                names = frame.f_code.co_varnames[: frame.f_code.co_argcount]
                calls.append((fn, tuple(frame.f_locals[n] for n in names)))
        elif event == "return" and inside and inside[-1] is frame:
            inside.pop()

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return calls


def straight_line(calls: List[Call]) -> Callable[[], None]:
    """One function making ``calls`` in order, as straight-line code (a call that raised is wrapped in try)."""
    ns: Dict[str, Any] = {}
    lines = ["def replay():"]
    for i, (fn, args) in enumerate(calls):
        ns[f"f{i}"] = fn
        names = []
        for j, a in enumerate(args):
            ns[f"a{i}_{j}"] = a
            names.append(f"a{i}_{j}")
        call = f"f{i}({', '.join(names)})"
        try:
            fn(*args)
            lines.append(f"    {call}")
        except Exception:
            lines.append(f"    try:\n        {call}\n    except Exception:\n        pass")
    if not calls:
        lines.append("    pass")
    exec("\n".join(lines), ns)  # noqa: S102 - a benchmark's generated replay
    return ns["replay"]


def _pynvml_stub(gpus: List[FakeGpu]) -> Optional[Any]:
    """The fake library, but its energy call is real pynvml's wrapper over a C no-op (``None`` without pynvml)."""
    try:
        import pynvml  # type: ignore[import-not-found]
    except ImportError:
        return None
    libc = ctypes.CDLL(None)
    # int abs(int): 0 for a NULL handle, which is NVML_SUCCESS; the pointer argument is left alone (x86-64 SysV).
    pynvml._nvmlGetFunctionPointer_cache["nvmlDeviceGetTotalEnergyConsumption"] = libc.abs
    nvml = make_fake_nvml(gpus)
    type(nvml.nvmlDeviceGetHandleByIndex(0))._as_parameter_ = ctypes.c_void_p(None)  # fake handles pass as NULL
    nvml.nvmlDeviceGetTotalEnergyConsumption = pynvml.nvmlDeviceGetTotalEnergyConsumption
    return nvml


def floor_tick(nvml: Any, n_gpus: int, clock: ManualClock) -> Callable[[], None]:
    """The ``floor`` scope's tick: see the module docstring. Raises ``RuntimeError`` on a step that is not
    ordinary (never in this benchmark: every counter moves by the same amount each tick).

    Written out for ``n_gpus`` (no loop, no list, no iterator: one local per GPU; the state is the
    generated function's globals), the cheapest shape CPython runs this arithmetic in; a loop and
    lists are slower (the engine's own tick beat the earlier, list-based floor at 64 GPUs)."""
    fn = nvml.nvmlDeviceGetTotalEnergyConsumption
    idx = range(n_gpus)
    ns: Dict[str, Any] = {"fn": fn, "monotonic": clock.monotonic, "lock": threading.Lock(), "points": [],
                          "scale_j": 1e-3, "cap_w": 1400.0, "low_w": 0.0, "t0": clock.monotonic()}  # fmt: skip
    for i in idx:
        h = nvml.nvmlDeviceGetHandleByIndex(i)
        ns.update({f"h{i}": h, f"p{i}": fn(h), f"e{i}": 0.0, f"w{i}": 0.0})
    rs, ds = ", ".join(f"r{i}" for i in idx), [f"d{i}" for i in idx]
    body = [f"global t0, low_w, {', '.join(f'p{i}, e{i}, w{i}' for i in idx)}", "now = monotonic()", "lock.acquire()", "try:"]
    body += [f"    r{i} = fn(h{i})" for i in idx] + [f"    d{i} = r{i} - p{i}" for i in idx]
    body += ["    dt = now - t0", "    c = cap_w * dt / scale_j",
             f"    if {' or '.join(f'{d} < 0 or {d} > c' for d in ds)}:", "        raise RuntimeError('not an ordinary step')"]
    body += [f"    e{i} = e{i} + d{i} * scale_j" for i in idx]
    top = f"max({', '.join(ds)})" if n_gpus > 1 else "d0"
    body += [f"    if {top} * scale_j / dt > low_w:"]  # some GPU may have set a record
    body += [f"        w{i} = w if (w := d{i} * scale_j / dt) > w{i} else w{i}" for i in idx]
    body += [f"        low_w = min({', '.join(f'w{i}' for i in idx)})" if n_gpus > 1 else "        low_w = w0"]
    body += [f"    {', '.join(f'p{i}' for i in idx)} = {rs}"]
    body += ["    t0 = now", f"    points.append((now, ({', '.join(f'e{i}' for i in idx)},)))",
             "    if len(points) > 4096:", "        del points[:2048]", "finally:", "    lock.release()"]
    exec(compile("def tick():\n" + "".join(f"    {line}\n" for line in body), "<floor_tick>", "exec"), ns)  # noqa: S102 - a benchmark
    tick: Callable[[], None] = ns["tick"]
    return tick


def tick_vs_raw(n_gpus: int, batches: int, per_batch: int, scope: str) -> Optional[Dict[str, Any]]:
    gpus = fake_gpus(n_gpus)
    nvml = _pynvml_stub(gpus) if scope.startswith("engine, pynvml") else make_fake_nvml(gpus)
    if nvml is None:
        return None
    clock = ManualClock()
    t = None
    sampler: Any
    if scope == "floor":
        sampler = types.SimpleNamespace(tick=floor_tick(nvml, n_gpus, clock))
    elif scope.startswith("engine"):
        ledger = Ledger([NvidiaSensor(nvml)])
        ledger.start(clock.monotonic())
        sampler = Sampler(ledger, interval_s=1.0, on_tick=lambda now: ledger.append_point(now, 0, 0.999), clock=clock)
    else:
        attribution = "node" if scope == "tracker node" else "job"
        t = wp.Tracker(sensors=[NvidiaSensor(nvml)], clock=clock, interval_s=1.0, save=False, handle_signals=False,
                       event=StepEvent(clock, ticks=0), attribution=attribution)  # fmt: skip
        t.start()
        assert t._sampler is not None
        sampler = t._sampler

    def harness(k: int) -> None:
        for _ in range(k):
            for g in gpus:
                g.energy_mj += 100_000
            clock.advance(1.0)

    def ticks(k: int) -> None:
        for _ in range(k):
            for g in gpus:
                g.energy_mj += 100_000
            clock.advance(1.0)
            sampler.tick()

    ticks(20)  # warm: first intervals, attribution's first samples
    recorded = 8
    calls = record_nvml_calls(nvml, lambda: ticks(recorded))
    replay = straight_line(calls)
    for _ in range(3):  # and the machine: a first batch of each kind, not timed
        replay()
        harness(per_batch)
        ticks(per_batch)
    reps = per_batch * recorded  # replay covers `recorded` ticks
    tick_us: List[float] = []
    raw_us: List[float] = []
    ratios: List[float] = []
    for _ in range(batches):
        t0 = time.thread_time()
        for _ in range(per_batch):
            replay()
        t1 = time.thread_time()
        harness(reps)
        t2 = time.thread_time()
        ticks(reps)
        t3 = time.thread_time()
        raw = (t1 - t0) / reps * 1e6
        tick = ((t3 - t2) - (t2 - t1)) / reps * 1e6
        raw_us.append(raw)
        tick_us.append(tick)
        ratios.append(tick / raw)
    if t is not None:
        t.stop()
    names = sorted({fn.__name__ for fn, _ in calls})
    return {"gpus": n_gpus, "scope": scope, "tick_us": quartiles(tick_us), "raw_nvml_us": quartiles(raw_us),
            "ratio": quartiles(ratios), "raw_calls_per_tick": len(calls) / recorded, "raw_functions": names}  # fmt: skip


def rapl_vs_pread(batches: int, per_batch: int) -> Dict[str, Any]:
    root = tempfile.mkdtemp(prefix="wattprint-rapl-")
    FakePowercap(root, sockets=1, dram=False, psys=False, core=False, mmio=False)
    sensor = RaplSensor(root)
    fd = os.open(os.path.join(root, "intel-rapl:0", "energy_uj"), os.O_RDONLY)
    pread_us, zone_us, ratios = [], [], []
    now = 0.0
    for _ in range(batches):
        t0 = time.thread_time()
        for _ in range(per_batch):
            os.pread(fd, 32, 0)
        t1 = time.thread_time()
        for _ in range(per_batch):
            now += 1.0
            sensor.read(now)
        t2 = time.thread_time()
        p, z = (t1 - t0) / per_batch * 1e6, (t2 - t1) / per_batch * 1e6
        pread_us.append(p)
        zone_us.append(z)
        ratios.append(z / p)
    os.close(fd)
    sensor.close()
    return {"pread_us": quartiles(pread_us), "zone_read_us": quartiles(zone_us), "ratio": quartiles(ratios)}


SCOPES = ("engine", "tracker node", "tracker defaults", "engine, pynvml over a C stub", "floor")


def run(quick: bool = False, scopes: Tuple[str, ...] = SCOPES, gpu_counts: Tuple[int, ...] = (1, 8, 64, 256)) -> Dict[str, Any]:
    batches = 5 if quick else 15
    out: Dict[str, Any] = {"ticks": [], "quick": quick}
    for scope in scopes:
        for n in gpu_counts:
            per = max(2, (50 if quick else 1200) // n // (1 if scope.startswith(("engine", "floor")) else 4))
            row = tick_vs_raw(n, batches, per, scope)
            if row is not None:
                out["ticks"].append(row)
    out["rapl"] = rapl_vs_pread(batches, 2000 if quick else 20_000)
    return out


def main(argv: Any = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--scope", action="append", choices=SCOPES, help="only these scopes (repeatable)")
    ap.add_argument("--gpus", type=int, action="append", help="only these GPU counts (repeatable)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "out", "tick.json"))
    args = ap.parse_args(argv)
    res = run(args.quick, tuple(args.scope or SCOPES), tuple(args.gpus or (1, 8, 64, 256)))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(res, fh, indent=2)
    for row in res["ticks"]:
        print(f"{row['scope']:>28} {row['gpus']:>4} GPUs: tick {row['tick_us']['median']:.1f} us, raw NVML {row['raw_nvml_us']['median']:.1f} us "
              f"({row['raw_calls_per_tick']:g} calls), ratio {row['ratio']['median']:.2f} [{row['ratio']['q1']:.2f}-{row['ratio']['q3']:.2f}]")
    r = res["rapl"]
    print(f"RAPL zone read {r['zone_read_us']['median']:.2f} us vs pread {r['pread_us']['median']:.2f} us: "
          f"{r['ratio']['median']:.2f} [{r['ratio']['q1']:.2f}-{r['ratio']['q3']:.2f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
