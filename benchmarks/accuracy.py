"""Accuracy on synthetic power traces with known integrals.

Each trace is a step function of power (watts) over time (seconds), so its
exact integral is known (:meth:`wattprint.ReplaySensor.exact_energy_j`). The
trace is played through the whole wattprint pipeline (Tracker, sampler
thread, ledger) with a :class:`wattprint.testing.ManualClock` and a
:class:`wattprint.testing.StepEvent`, so a 10-minute trace takes a fraction
of a second and the result is exact and repeatable.

Paths compared, as the relative error of the energy against the exact
integral, in %:

* ``wattprint counter``: ``ReplaySensor(mode="counter")`` read every
  ``interval_s`` (1 s): the path of every device with an energy counter
  (NVML ``TotalEnergyConsumption`` on Volta and newer, RAPL).
* ``wattprint power 10 Hz``: ``ReplaySensor(mode="power")`` polled at the
  default ``power_interval_s`` (0.1 s) and integrated by the trapezoid rule:
  the path of GPUs without a counter.
* ``15 s snapshot``: power read once every 15 s times 15 s (the last interval
  is shorter), like a tracker that samples power at CodeCarbon's default
  ``measure_power_secs``.
* ``15 s of 1 s means``: the mean of 1 s power samples over each 15 s
  interval times its length, which is what CodeCarbon 3.3 does for GPUs
  without a counter and for its CPU load model.

The two 15 s integrators are implemented here (they model CodeCarbon's
sampling; they do not run CodeCarbon). Run ``python benchmarks/accuracy.py``
for a table, or import :func:`run_all`.
"""

from __future__ import annotations

import json
import math
import random
import sys
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import wattprint
from wattprint.testing import ManualClock, StepEvent

Trace = List[Tuple[float, float]]

__all__ = ["TRACES", "make_traces", "run_wattprint", "snapshot_integral_j", "mean_of_samples_integral_j", "run_trace", "run_all"]


# -- the traces ------------------------------------------------------------------


def _steps() -> Tuple[Trace, float]:
    """Training phases: idle, busy, half load, idle again."""
    return [(0.0, 60.0), (30.0, 310.0), (95.0, 150.0), (140.5, 305.0), (260.0, 62.0)], 300.0


def _short_bursts() -> Tuple[Trace, float]:
    """40 ms bursts to 400 W every 370 ms over a 60 W floor: shorter than the 100 ms poll."""
    trace: Trace = []
    t = 0.0
    while t < 120.0:
        trace.append((round(t, 6), 60.0))
        trace.append((round(t + 0.23, 6), 400.0))
        trace.append((round(t + 0.27, 6), 60.0))
        t += 0.37
    return trace, 120.0


def _second_bursts() -> Tuple[Trace, float]:
    """5 s bursts to 350 W every 23 s over a 70 W floor: shorter than a 15 s interval."""
    trace: Trace = []
    t = 0.0
    while t < 300.0:
        trace.append((t, 70.0))
        trace.append((t + 9.0, 350.0))
        trace.append((t + 14.0, 70.0))
        t += 23.0
    return trace, 300.0


def _ramps() -> Tuple[Trace, float]:
    """Linear ramps 50 → 400 → 50 W over 60 s each, as 10 ms steps, then a plateau."""
    trace: Trace = []
    dt = 0.01
    n = int(60.0 / dt)
    for i in range(n):
        trace.append((i * dt, 50.0 + 350.0 * i / n))
    for i in range(n):
        trace.append((60.0 + i * dt, 400.0 - 350.0 * i / n))
    trace.append((120.0, 50.0))
    return trace, 150.0


def _idle() -> Tuple[Trace, float]:
    """Constant idle power."""
    return [(0.0, 55.0)], 300.0


def _training_like() -> Tuple[Trace, float]:
    """300 W steps with a 1.2 s dip to 110 W every 10 s (data loading, logging) and a 20 s eval at 180 W."""
    rng = random.Random(7)
    trace: Trace = []
    t = 0.0
    while t < 600.0:
        if 300.0 <= t < 320.0:
            trace.append((t, 180.0))
            t = 320.0
            continue
        trace.append((t, 300.0 + rng.uniform(-15.0, 15.0)))
        trace.append((t + 8.8, 110.0))
        t += 10.0
    return trace, 600.0


def _random_levels() -> Tuple[Trace, float]:
    """Seeded random levels 40..450 W held 10 ms..3 s."""
    rng = random.Random(2026)
    trace: Trace = []
    t = 0.0
    while t < 300.0:
        trace.append((round(t, 6), rng.uniform(40.0, 450.0)))
        t += rng.choice([rng.uniform(0.01, 0.1), rng.uniform(0.1, 3.0)])
    return trace, 300.0


def _aliased() -> Tuple[Trace, float]:
    """Adversarial: 50 ms bursts every 100 ms, placed between the polls of a 10 Hz poller (never seen by it)."""
    trace: Trace = []
    trace.append((0.0, 60.0))
    for k in range(1200):
        t = k * 0.1
        trace.append((round(t + 0.025, 6), 400.0))
        trace.append((round(t + 0.075, 6), 60.0))
    return trace, 120.0


# name -> (description, builder, adversarial)
TRACES: Dict[str, Tuple[str, Callable[[], Tuple[Trace, float]], bool]] = {
    "steps": ("idle / 310 W / 150 W / 305 W / idle phases, 300 s", _steps, False),
    "bursts_40ms": ("40 ms bursts to 400 W every 370 ms on 60 W, 120 s", _short_bursts, False),
    "bursts_5s": ("5 s bursts to 350 W every 23 s on 70 W, 300 s", _second_bursts, False),
    "ramps": ("ramps 50→400→50 W (60 s each, 10 ms steps), 150 s", _ramps, False),
    "idle": ("constant 55 W, 300 s", _idle, False),
    "training": ("300 W with 1.2 s dips to 110 W every 10 s, 20 s eval at 180 W, 600 s", _training_like, False),
    "random": ("seeded random levels 40-450 W held 10 ms-3 s, 300 s", _random_levels, False),
    "aliased": ("adversarial: 50 ms bursts every 100 ms, always between the polls of a 10 Hz poller, 120 s", _aliased, True),
}


PHASE_S = 0.0371  # ordinary traces change power off the samplers' grids, as real hardware does


def _dephase(trace: Trace, shift_s: float) -> Trace:
    return [(t + shift_s if t > 0 else t, p) for t, p in trace]


def make_traces(names: Optional[Sequence[str]] = None) -> Dict[str, Tuple[str, Trace, float, bool]]:
    """Build the traces: name -> (description, trace, duration_s, adversarial).

    Every change of power in an ordinary trace is moved ``PHASE_S`` later, so
    no sampler grid lands exactly on a transition (which would flatter it).
    """
    out = {}
    for name, (desc, build, adversarial) in TRACES.items():
        if names is not None and name not in names:
            continue
        trace, duration_s = build()
        if not adversarial:
            trace = _dephase(trace, PHASE_S)
        out[name] = (desc, trace, duration_s, adversarial)
    return out


# -- the integrators ----------------------------------------------------------------


def run_wattprint(
    trace: Trace,
    duration_s: float,
    mode: str,
    *,
    interval_s: float = 1.0,
    power_interval_s: float = 0.1,
) -> Tuple[float, float]:
    """Play ``trace`` through a Tracker for ``duration_s`` seconds of manual time.

    Returns:
        ``(measured_j, exact_j)``: the footprint's energy and the trace's exact
        integral over the same span, joules.
    """
    sensor = wattprint.ReplaySensor(trace, component_id="gpu:0", kind="gpu", mode=mode, poll_interval_s=power_interval_s)
    clock = ManualClock()
    tick_s = power_interval_s if mode == "power" else interval_s
    ticks = int(round(duration_s / tick_s))
    event = StepEvent(clock, ticks=ticks)
    tracker = wattprint.Tracker(
        "accuracy",
        sensors=[sensor],
        clock=clock,
        event=event,
        interval_s=interval_s,
        power_interval_s=power_interval_s,
        save=False,
        handle_signals=False,
        intensity_g_per_kwh=400.0,
    )
    t0 = clock.monotonic()  # start() reads the sensors at this instant, before the thread runs
    tracker.start()
    if not event.done.wait(60.0):
        raise RuntimeError("the sampler thread did not use up its ticks")
    fp = tracker.stop()
    assert fp is not None
    measured_j = fp.to_dict()["energy"]["it_j"]
    exact_j = sensor.exact_energy_j(clock.monotonic() - t0)
    return measured_j, exact_j


def _power_at(trace: Trace) -> Callable[[float], float]:
    probe = wattprint.ReplaySensor(trace, mode="power")
    return probe.power_at


def snapshot_integral_j(trace: Trace, duration_s: float, period_s: float = 15.0) -> float:
    """Power read at the end of each ``period_s`` interval times the interval, joules."""
    power_at = _power_at(trace)
    energy_j, t = 0.0, 0.0
    while t < duration_s - 1e-9:
        end = min(t + period_s, duration_s)
        energy_j += power_at(end) * (end - t)
        t = end
    return energy_j


def mean_of_samples_integral_j(trace: Trace, duration_s: float, period_s: float = 15.0, sample_s: float = 1.0) -> float:
    """Mean of power samples every ``sample_s`` within each ``period_s`` interval, times the interval, joules."""
    power_at = _power_at(trace)
    energy_j, t = 0.0, 0.0
    while t < duration_s - 1e-9:
        end = min(t + period_s, duration_s)
        samples = []
        s = t + sample_s
        while s <= end + 1e-9:
            samples.append(power_at(s))
            s += sample_s
        if not samples:
            samples.append(power_at(end))
        energy_j += sum(samples) / len(samples) * (end - t)
        t = end
    return energy_j


def _err_pct(measured: float, exact: float) -> float:
    return 100.0 * (measured - exact) / exact if exact else (0.0 if measured == 0 else math.inf)


def run_trace(name: str, desc: str, trace: Trace, duration_s: float, adversarial: bool = False) -> Dict[str, object]:
    """All integrators on one trace; errors in % of the exact integral."""
    counter_j, exact_j = run_wattprint(trace, duration_s, "counter")
    power_j, exact_p = run_wattprint(trace, duration_s, "power")
    power1_j, exact_p1 = run_wattprint(trace, duration_s, "power", power_interval_s=1.0)
    snap_j = snapshot_integral_j(trace, duration_s)
    mean_j = mean_of_samples_integral_j(trace, duration_s)
    return {
        "trace": name,
        "description": desc,
        "adversarial": adversarial,
        "duration_s": duration_s,
        "exact_j": exact_j,
        "err_pct": {
            "wattprint_counter": _err_pct(counter_j, exact_j),
            "wattprint_power_10hz": _err_pct(power_j, exact_p),
            "wattprint_power_1hz": _err_pct(power1_j, exact_p1),
            "snapshot_15s": _err_pct(snap_j, exact_j),
            "mean_1s_over_15s": _err_pct(mean_j, exact_j),
        },
    }


COLUMNS = [
    ("wattprint_counter", "wattprint, counter (default)"),
    ("wattprint_power_10hz", "wattprint, power 10 Hz (default poll)"),
    ("wattprint_power_1hz", "wattprint, power 1 Hz"),
    ("snapshot_15s", "15 s snapshot × 15 s"),
    ("mean_1s_over_15s", "15 s of 1 s means (CodeCarbon 3.3 power path)"),
]


def run_all(names: Optional[Sequence[str]] = None) -> Dict[str, object]:
    """Every trace and a summary: the largest absolute error per path over the ordinary traces."""
    rows = [run_trace(n, d, tr, dur, adv) for n, (d, tr, dur, adv) in make_traces(names).items()]
    worst: Dict[str, float] = {}
    for key, _ in COLUMNS:
        errs = [abs(r["err_pct"][key]) for r in rows if not r["adversarial"]]  # type: ignore[index]
        worst[key] = max(errs) if errs else float("nan")
    return {"traces": rows, "max_abs_err_pct": worst}


def markdown(result: Dict[str, object]) -> str:
    """The accuracy table in Markdown."""
    head = "| trace | exact (kJ) | " + " | ".join(label for _, label in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 2)]
    for r in result["traces"]:  # type: ignore[union-attr]
        name = f"{r['trace']} *(adversarial)*" if r["adversarial"] else r["trace"]
        cells = " | ".join(f"{r['err_pct'][k]:+.3f} %" for k, _ in COLUMNS)
        lines.append(f"| {name} | {r['exact_j'] / 1000:.1f} | {cells} |")
    worst = result["max_abs_err_pct"]
    lines.append(
        "| **max \\|error\\|, ordinary traces** | | " + " | ".join(f"**{worst[k]:.3f} %**" for k, _ in COLUMNS) + " |"  # type: ignore[index]
    )
    return "\n".join(lines)


if __name__ == "__main__":
    res = run_all(sys.argv[1:] or None)
    if "--json" in sys.argv:
        print(json.dumps(res, indent=1))
    else:
        print(markdown(res))
