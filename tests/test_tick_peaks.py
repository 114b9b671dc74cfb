"""Peaks of whole readings (engine/peaks.py, issue 20): the tick tests increments against cached joule limits
instead of recomputing every peak, and the peaks stay bit for bit those of the formula run every time,
``[w if (w := (v - r) / dt) > p else p ...]``: over ties, values an ulp either side of a limit, jittering,
repeated and changing intervals, records by few and by many components, NaN and infinite readings."""

import math
import random

import pytest
from fakes.fake_pynvml import FakeGpu, make_fake_nvml
from hypothesis import given, settings
from hypothesis import strategies as st
from wattprint.engine.ledger import Ledger
from wattprint.engine.peaks import PeakTracker, joule_limit
from wattprint.engine.sampler import Sampler
from wattprint.engine.sensors.nvidia import NvidiaSensor
from wattprint.testing import ManualClock


def formula(peaks, values, ref, dt):
    return [w if (w := (v - r) / dt) > p else p for p, v, r in zip(peaks, values, ref, strict=True)]


def same(a, b):
    """Bit for bit (the sign of zero included; a peak is never NaN)."""
    return len(a) == len(b) and all(x == y and math.copysign(1.0, x) == math.copysign(1.0, y) for x, y in zip(a, b, strict=True))


class Model:
    """A PeakTracker and the formula, fed the same readings."""

    def __init__(self, n):
        self.tracker, self.peaks, self.ref = PeakTracker(n), [0.0] * n, [0.0] * n
        self.tracker.ref_e = self.ref

    def feed(self, dt, values):
        self.tracker.judge(dt, values)
        self.tracker.ref_e = values
        self.peaks = formula(self.peaks, values, self.ref, dt)
        self.ref = values
        assert same(self.tracker.peak_w, self.peaks)


def near_limit(rng, p, dt):
    """An increment at, or an ulp or two either side of, p * dt (where the two tests could disagree by rounding)."""
    c = p * dt
    for _ in range(rng.randrange(-3, 4)) if rng.random() < 0.5 else range(0):
        c = math.nextafter(c, math.inf)
    for _ in range(rng.randrange(0, 3)):
        c = math.nextafter(c, -math.inf)
    return c


def increments(rng, peaks, dt, mode):
    n = len(peaks)
    if mode == "steady":  # every component at its peak: ties everywhere
        return [near_limit(rng, p, dt) if rng.random() < 0.3 else p * dt for p in peaks]
    if mode == "few":  # one or two records, the rest below
        out = [p * dt * rng.uniform(0.2, 1.0) for p in peaks]
        for i in rng.sample(range(n), min(n, rng.randrange(1, 3))):
            out[i] = peaks[i] * dt * rng.uniform(1.0, 1.05) + rng.random()
        return out
    if mode == "warm":  # many records at once
        return [p * dt * rng.uniform(0.9, 1.3) + rng.random() for p in peaks]
    if mode == "edge":
        return [near_limit(rng, p, dt) for p in peaks]
    if mode == "odd":
        pool = [0.0, -0.0, -5.0, math.nan, math.inf, 1e-320, 1e300]
        return [rng.choice(pool) if rng.random() < 0.2 else p * dt * rng.uniform(0.0, 1.1) for p in peaks]
    return [rng.uniform(0, 500) * dt for _ in peaks]


def intervals(rng, pattern):
    if pattern == "exact":
        return lambda k: 1.0
    if pattern == "jitter":
        return lambda k: 1.0 + rng.uniform(-2e-4, 2e-4)
    if pattern == "ulp":  # monotonic times that differ in the last bits
        return lambda k: (k + 1) * 0.1 * 7 - k * 0.1 * 7
    if pattern == "alternate":
        return lambda k: (0.6, 1.4)[k % 2]
    if pattern == "windows":  # mostly regular, sometimes an edge read
        return lambda k: 1.0 if rng.random() < 0.8 else rng.uniform(0.5, 3.0)
    return lambda k: rng.uniform(0.5, 3.0)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("pattern", ["exact", "jitter", "ulp", "alternate", "windows", "random"])
def test_peaks_match_formula_over_random_ticks(seed, pattern):
    rng = random.Random(seed * 31 + len(pattern))
    n = rng.choice([1, 2, 3, 8, 9, 16, 64])
    model, dt_of = Model(n), intervals(rng, pattern)
    energy = [rng.uniform(0, 1e6) for _ in range(n)]
    modes = ["steady", "few", "warm", "edge", "odd", "random"]
    mode = "warm"
    for k in range(400):
        if k % 25 == 0:
            mode = rng.choice(modes)
        dt = dt_of(k)
        inc = increments(rng, model.peaks, dt, mode) if k else [0.0] * n
        energy = [e + d for e, d in zip(energy, inc, strict=True)]  # readings: what the formula subtracts back
        if any(not math.isfinite(e) for e in energy):
            energy = [e if math.isfinite(e) else rng.uniform(0, 1e6) for e in energy]
            model.feed(dt, [e if rng.random() < 0.9 else math.nan for e in energy])
            continue
        model.feed(dt, energy)


def test_steady_exact_ticks_take_the_limits():
    """Constant power over a repeated interval (ties at every peak): the limits are built and serve the ticks."""
    model = Model(16)
    energy = [0.0] * 16
    for _ in range(50):
        energy = [e + 100.0 + i for i, e in enumerate(energy)]
        model.feed(1.0, energy)
    tracker = model.tracker
    assert tracker._dt == 1.0 and tracker._hi > 1.0 and tracker._lim == [100.0 + i for i in range(16)]


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=0.0, max_value=1e12), st.floats(min_value=0.5, max_value=1e5))
def test_joule_limit_is_the_largest_non_record(peak_w, dt_s):
    c = joule_limit(peak_w, dt_s)
    assert c != -math.inf and c / dt_s <= peak_w  # never a record (found in a few steps, away from subnormals)
    if peak_w * dt_s > 1e-300:  # the largest such float (among subnormals it may stop a little short)
        assert math.nextafter(c, math.inf) / dt_s > peak_w


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(min_value=0.5, max_value=4.0), st.lists(st.floats(-1e3, 1e4), min_size=8, max_size=8)), max_size=60),
       st.booleans())  # fmt: skip
def test_peaks_match_formula_hypothesis(ticks, repeat_dt):
    model, energy = Model(8), [0.0] * 8
    for dt, inc in ticks:
        energy = [e + d for e, d in zip(energy, inc, strict=True)]
        model.feed(1.0 if repeat_dt else dt, energy)


def test_ledger_peaks_match_formula_at_64_gpus():
    """The ledger's peaks (the bulk path of 64 fake GPUs, ticks 1 s apart, then jittered and edge reads) against
    the formula over the readings the ledger kept."""
    rng = random.Random(7)
    gpus = [FakeGpu(uuid=f"GPU-{i:04x}") for i in range(64)]
    clock = ManualClock()
    ledger = Ledger([NvidiaSensor(make_fake_nvml(gpus))])
    ledger.start(clock.monotonic())
    sampler = Sampler(ledger, interval_s=1.0, clock=clock)
    peaks, ref_t, ref_e = [0.0] * 64, clock.monotonic(), ledger.readings()[0]
    for k in range(600):
        watts = rng.choice([100, 250, 300]) if k % 50 == 0 else None
        for i, g in enumerate(gpus):
            g.energy_mj += (watts or 200 + (i % 7) * 10) * 1000 + (rng.randrange(0, 3000) if k > 300 else 0)
        clock.advance(1.0 if k < 200 else rng.choice([1.0, 1.0001, 0.9999, 0.6, 2.5]))
        sampler.tick(force=True)
        now, values = clock.monotonic(), ledger.readings()[0]
        if now - ref_t >= 0.5:
            peaks = formula(peaks, values, ref_e, now - ref_t)
            ref_t, ref_e = now, values
        got = ledger.peak_power_w
        assert same([got[f"gpu:{i}"] for i in range(64)], peaks)
