"""The cheaper sampler tick (issue 20): the ledger's list-based whole readings, the sensors' list reads and
the sampler's one due time give exactly what the per-component, dict-based ledger gave: same energies,
read times, peaks, gaps and attribution readings, bit for bit, over wraps, resets, jumps, lost GPUs, errors,
reads closer together than the peak interval and hung (timed-out) reads."""

import random

import pytest
from fakes.fake_pynvml import FakeGpu, make_fake_nvml
from wattprint.engine.ledger import MAX_GAPS_PER_COMPONENT, Ledger
from wattprint.engine.sampler import Sampler
from wattprint.engine.sensors.base import Component, Gap, Sensor
from wattprint.engine.sensors.nvidia import NvidiaSensor
from wattprint.engine.sensors.rapl import RaplSensor
from wattprint.testing import ManualClock
from wattprint.testing.powercap import FakePowercap


class DictLedger:
    """The ledger as it was before issue 20 (per-component dicts, one peak reference per sensor), as a model."""

    def __init__(self, sensors):
        self.ids_of = {id(s): [c.id for c in s.components()] for s in sensors}
        ids = [c for s in sensors for c in self.ids_of[id(s)]]
        self.energy_j, self.read_at_s = dict.fromkeys(ids, 0.0), dict.fromkeys(ids)
        self.open, self.closed, self.peak_one, self.peak_ref = {}, {}, dict.fromkeys(ids, 0.0), {}
        self.sensor_ref, self.sensor_peak = {}, {k: [0.0] * len(v) for k, v in self.ids_of.items()}

    def read(self, now_s, sensor):
        try:
            values, reason = sensor.read(now_s), "no reading"
        except Exception as err:
            values, reason = {}, f"{type(err).__name__}: {err}"
        key, ids = id(sensor), self.ids_of[id(sensor)]
        got = [values.get(c) for c in ids]
        if None not in got:
            self.energy_j.update(zip(ids, got, strict=True))
            self.read_at_s.update(dict.fromkeys(ids, now_s))
            for cid in ids:
                self._close(cid, now_s)
            ref = self.sensor_ref.get(key)
            if ref is None or now_s - ref[0] >= 0.5:
                if ref is not None:
                    dt = now_s - ref[0]
                    self.sensor_peak[key] = [
                        w if (w := (v - r) / dt) > p else p for p, v, r in zip(self.sensor_peak[key], got, ref[1], strict=True)
                    ]
                self.sensor_ref[key] = (now_s, got)
        else:
            self.sensor_ref.pop(key, None)
            for cid, value in zip(ids, got, strict=True):
                if value is None:
                    self._open(cid, now_s, sensor.last_error(cid) or reason)
                    continue
                self._close(cid, now_s)
                ref = self.peak_ref.get(cid)
                if ref is None or now_s - ref[0] >= 0.5:
                    if ref is not None and (value - ref[1]) / (now_s - ref[0]) > self.peak_one[cid]:
                        self.peak_one[cid] = (value - ref[1]) / (now_s - ref[0])
                    self.peak_ref[cid] = (now_s, value)
                self.energy_j[cid], self.read_at_s[cid] = value, now_s
        for gap in sensor.drain_gaps():
            self._add(gap)

    def done(self, now_s):
        """What the observer is handed after the reads at ``now_s``."""
        return {c: self.energy_j[c] for c in self.energy_j if self.read_at_s[c] == now_s}

    def time_out(self, sensor, now_s, deadline_s):
        for cid in self.ids_of[id(sensor)]:
            self._open(cid, now_s, f"read timed out after {deadline_s:g} s (the sensor hung)")

    def _open(self, cid, now_s, reason):
        if cid not in self.open:
            start = self.read_at_s[cid]
            self.open[cid] = (now_s if start is None else start, reason)

    def _close(self, cid, now_s):
        if cid in self.open:
            start, reason = self.open.pop(cid)
            self._add(Gap(cid, start, now_s, reason))

    def _add(self, gap):
        runs = self.closed.setdefault(gap.component_id, [])
        if len(runs) < MAX_GAPS_PER_COMPONENT:
            runs.append([gap.start_s, gap.end_s, max(0.0, gap.end_s - gap.start_s), 1, gap.reason])
        else:
            last = runs[-1]
            last[0], last[1] = min(last[0], gap.start_s), max(last[1], gap.end_s)
            last[2] += max(0.0, gap.end_s - gap.start_s)
            last[3] += 1

    def peaks(self):
        out = dict(self.peak_one)
        for key, peaks in self.sensor_peak.items():
            for cid, p in zip(self.ids_of[key], peaks, strict=True):
                if p > out[cid]:
                    out[cid] = p
        return out

    def gaps(self, now_s):
        rows = [(c, r[0], r[1], r[2], r[3], r[4]) for c, runs in self.closed.items() for r in runs]
        rows += [(c, s, now_s, max(0.0, now_s - s), 1, r) for c, (s, r) in self.open.items()]
        return sorted((c, s, e, d, n, r) for c, s, e, d, n, r in rows)


def _rows(ledger, now_s):
    return sorted((g["component"], g["start_s"] + ledger.t0_s, g["end_s"] + ledger.t0_s, g["duration_s"], g.get("count", 1), g["reason"])
                  for g in ledger.gap_records(now_s))  # fmt: skip


def _world(tmp_path, name, n_gpus):
    gpus = [FakeGpu(uuid=f"GPU-{i:04x}", power_limit_mw=700_000) for i in range(n_gpus)]
    cap = FakePowercap(tmp_path / name, sockets=1, dram=True, psys=False, core=False, mmio=False, max_range_uj=5_000_000)
    return gpus, cap, [NvidiaSensor(nvml=make_fake_nvml(gpus), env={}), RaplSensor(str(tmp_path / name))]


@pytest.mark.parametrize("n_gpus", [1, 6])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_list_ledger_equals_the_dict_ledger(tmp_path, n_gpus, seed):
    rng = random.Random(seed)
    gpus_a, cap_a, sensors_a = _world(tmp_path, "a", n_gpus)
    gpus_b, cap_b, sensors_b = _world(tmp_path, "b", n_gpus)
    ledger, model = Ledger(sensors_a), DictLedger(sensors_b)
    seen = []
    ledger.observer = lambda now_s, done: seen.append(dict(done))
    ledger.start(0.0)
    for s in sensors_b:
        model.read(0.0, s)
    t, events = 0.0, {"wrap": 0, "gap": 0, "hung": 0}
    for k in range(300):
        t += rng.choice([0.2, 0.3, 1.0, 1.0, 1.0, 2.0])
        r = rng.random()
        for a, b in zip(gpus_a, gpus_b, strict=True):
            a.lost = b.lost = r < 0.04 and rng.random() < 0.5
            a.energy_error = b.energy_error = 999 if 0.04 <= r < 0.06 else None
            d = rng.randrange(0, 600_000) if r < 0.95 else (10**9 if r < 0.97 else -a.energy_mj + 1_000)  # jumps, resets
            a.energy_mj += d
            b.energy_mj += d
        events["gap"] += r < 0.06
        for key in ("cpu:package-0", "dram:0"):  # 5 J range: a wrap every few ticks
            j = rng.uniform(0.0, 3.0)
            events["wrap"] += cap_a.get(key) + int(round(j * 1e6)) > cap_a.max_range_uj
            cap_a.add_j(key, j)
            cap_b.add_j(key, j)
        if k % 37 == 5:  # the GPU sensor hung: this read timed out (what an edge or stop() records)
            events["hung"] += 1
            ledger.time_out(sensors_a[0], t)
            model.time_out(sensors_b[0], t, ledger.deadline_of(sensors_a[0]))
            ledger.read(t, sensors_a[1:])
            model.read(t, sensors_b[1])
        else:
            ledger.read(t)
            for s in sensors_b:
                model.read(t, s)
        assert ledger.energy_j == model.energy_j, k  # exact floats
        assert ledger.read_at_s == model.read_at_s, k
        assert ledger.peak_power_w == model.peaks(), k
        assert _rows(ledger, t) == model.gaps(t), k
        assert seen[-1] == model.done(t) and list(seen[-1]) == list(model.done(t)), k  # the attribution hook, in order
    assert min(events.values()) > 0, events
    assert ledger.energy_since_start_j() == {c: model.energy_j[c] - ledger.baseline_j[c] for c in ledger.ids}


def test_observer_gets_the_components_read_at_that_time():
    gpus = [FakeGpu(uuid=f"GPU-{i}") for i in range(5)]
    ledger = Ledger([NvidiaSensor(nvml=make_fake_nvml(gpus), env={})])
    seen = []
    ledger.observer = lambda now_s, done: seen.append((now_s, dict(done)))
    ledger.start(0.0)
    for g in gpus:
        g.energy_mj += 100_000
    gpus[2].lost = True
    ledger.read(1.0)
    gpus[2].lost = False
    ledger.read(2.0)
    assert [list(d) for _, d in seen] == [
        [f"gpu:{i}" for i in range(5)],
        ["gpu:0", "gpu:1", "gpu:3", "gpu:4"],
        [f"gpu:{i}" for i in range(5)],
    ]
    assert seen[1][1]["gpu:0"] == pytest.approx(100.0)


def test_bulk_and_list_reads_equal_the_loop_and_mapping_reads():
    """A ledger on the fast paths (bulk NVML reads, lists) against one on the slow ones (per-channel loop, mappings)."""
    rng = random.Random(7)
    fast_gpus, slow_gpus = ([FakeGpu(uuid=f"GPU-{i:04x}") for i in range(8)] for _ in range(2))
    fast, slow = NvidiaSensor(nvml=make_fake_nvml(fast_gpus), env={}), NvidiaSensor(nvml=make_fake_nvml(slow_gpus), env={})
    slow._bulk_plan = False
    lf, ls = Ledger([fast]), Ledger([slow])
    ls._slots[id(slow)].columns = None  # mappings only
    lf.start(0.0)
    ls.start(0.0)
    t, bulk_reads = 0.0, 0
    for k in range(400):
        t += rng.choice([0.1, 1.0, 1.0, 2.5])
        r = rng.random()
        for i, (a, b) in enumerate(zip(fast_gpus, slow_gpus, strict=True)):
            a.lost = b.lost = r < 0.05 and i == k % 8
            a.energy_error = b.energy_error = 999 if 0.05 <= r < 0.08 and i == 3 else None
            d = rng.randrange(0, 500_000) if r < 0.96 else -a.energy_mj
            a.energy_mj += d
            b.energy_mj += d
        bulk_reads += fast._bulk is not None
        lf.read(t)
        ls.read(t)
        lf.append_point(t, k)
        ls.append_point(t, k)
        assert lf.energy_j == ls.energy_j and lf.read_at_s == ls.read_at_s, k
        assert lf.peak_power_w == ls.peak_power_w and lf.gap_records(t) == ls.gap_records(t), k
        assert [g.calls for g in fast_gpus] == [g.calls for g in slow_gpus], k  # one NVML call per GPU, failures included
    assert bulk_reads > 200
    assert lf.view().to_dict() == ls.view().to_dict()


def test_a_patched_read_is_used_and_a_busy_sensor_past_its_deadline_is_skipped():
    gpus = [FakeGpu(uuid=f"GPU-{i}") for i in range(4)]
    sensor = NvidiaSensor(nvml=make_fake_nvml(gpus), env={})
    ledger = Ledger([sensor])
    ledger.start(0.0)
    sensor.read = lambda now_s: {f"gpu:{i}": 7.0 for i in range(4)}  # an instance's own read wins over read_columns
    ledger.read(1.0)
    assert ledger.energy_j == dict.fromkeys(sensor.column_ids, 7.0)
    slot = ledger._slots[id(sensor)]
    assert slot.guard.acquire(False)  # another thread is inside a read that began long ago
    slot.busy_since = -1e9
    assert ledger.stuck()
    ledger.read(2.0)  # skipped at once: a timed-out gap, nothing read, the ledger not blocked
    assert ledger.read_at_s == dict.fromkeys(sensor.column_ids, 1.0)
    assert {g.reason for g in ledger.all_gaps(2.0)} == {"read timed out after 1 s (the sensor hung)"}
    slot.busy_since = None
    slot.guard.release()
    ledger.read(3.0)
    assert [(g.component_id, g.start_s, g.end_s) for g in ledger.gaps] == [(f"gpu:{i}", 1.0, 3.0) for i in range(4)]


class Offset(Sensor):
    name = "offset"

    def components(self):
        return [Component("x", "gpu", "X", "test", True), Component("y", "gpu", "Y", "test", True)]

    def read(self, now_s):
        return {"x": -0.0 + 10.0 * now_s, "y": 5.0 + now_s}


def test_timeline_points_with_and_without_a_zero_baseline():
    zero = Ledger([NvidiaSensor(nvml=make_fake_nvml([FakeGpu(uuid="GPU-0")]), env={})])
    zero.start(0.0)
    assert zero._base_zero
    off = Ledger([Offset()])
    off.start(2.0)  # x starts at 20 J, y at 7 J
    assert not off._base_zero
    off.read(3.0)
    off.append_point(3.0, 1)
    assert off.view().to_dict()["energy_j"] == {"x": [0.0, 10.0], "y": [0.0, 1.0]}


def test_sampler_one_due_time_reads_on_schedule():
    clock = ManualClock()
    gpus = [FakeGpu(uuid=f"GPU-{i}") for i in range(4)]
    ledger = Ledger([NvidiaSensor(nvml=make_fake_nvml(gpus), env={})])
    ledger.start(clock.monotonic())
    sampler = Sampler(ledger, interval_s=1.0, clock=clock)
    reads = []
    ledger.observer = lambda now_s, done: reads.append(now_s)
    sampler.tick()  # not started: every tick reads; then due 1 s later, read 0.25 s early at the latest
    for step in (0.5, 0.3, 0.3, 0.5, 0.5):
        clock.advance(step)
        sampler.tick()
    t0 = reads[0]
    assert t0 == ledger.t0_s and [r - t0 for r in reads] == [0.0, pytest.approx(0.8), pytest.approx(1.6)]
    sampler.tick(force=True)
    assert len(reads) == 4 and sampler.ticks == 7
