"""A cheaper sampler tick (issue 20, item 3): ``Ledger.readings()`` (two lists, no dict), the attribution hook's
list form (every component read at one time) and the request gate's kept lists give exactly what the dict forms
gave: the same energies and read times, the same attribution figures (bit for bit) and the same per-request
figures and log lines. Deterministic: ManualClock, fake NVML and a fake powercap tree; no wall time."""

from __future__ import annotations

import json
import math
import random

import pytest
from fakes.fake_pynvml import FakeGpu, make_fake_nvml

import wattprint as wp
from wattprint.engine.attribution import Attributor
from wattprint.engine.ledger import Ledger
from wattprint.engine.sensors.base import Component
from wattprint.engine.sensors.nvidia import NvidiaSensor
from wattprint.engine.sensors.rapl import RaplSensor
from wattprint.testing import ManualClock, StepEvent
from wattprint.testing.powercap import FakePowercap

FIELDS = ("e_j", "a_j", "b_s", "c_s", "t_s", "min_w", "min_w_short", "used", "methods_j", "u_weighted_j")


def _world(tmp_path, name, n_gpus):
    gpus = [FakeGpu(uuid=f"GPU-{i:04x}", power_limit_mw=700_000) for i in range(n_gpus)]
    FakePowercap(tmp_path / name, sockets=1, dram=True, psys=False, core=False, mmio=False, max_range_uj=5_000_000)
    return gpus, [NvidiaSensor(nvml=make_fake_nvml(gpus), env={}), RaplSensor(str(tmp_path / name))]


def _mapping(ledger, now_s):
    """What the mapping form of the hook is given: the components read at ``now_s``, in ids order."""
    return {cid: e for cid, e, t in zip(ledger.ids, *ledger.readings(), strict=True) if t == now_s}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_readings_are_the_dict_properties_and_the_hook_gets_the_list_only_when_all_were_read(tmp_path, seed):
    rng = random.Random(seed)
    gpus, sensors = _world(tmp_path, "w", 5)
    ledger = Ledger(sensors)
    e, t = ledger.readings()
    assert e == [0.0] * len(ledger.ids) and t == [None] * len(ledger.ids)  # never read
    got = []
    ledger.set_observer(lambda now_s, done: got.append(("map", now_s, dict(done))), lambda now_s, vals: got.append(("list", now_s, vals)))
    ledger.start(0.0)
    now, forms = 0.0, set()
    for k in range(200):
        now += rng.choice([0.3, 1.0, 1.0, 2.0])
        r = rng.random()
        for g in gpus:
            g.lost = r < 0.1 and rng.random() < 0.5
            g.energy_mj += rng.randrange(0, 600_000)
        if k % 23 == 7:  # the GPUs' read timed out: only the CPU side read at this time
            ledger.time_out(sensors[0], now)
            ledger.read(now, sensors[1:])
        else:
            ledger.read(now)
        energy, read_at = ledger.readings()
        assert energy == list(ledger.energy_j.values()) and list(ledger.energy_j) == ledger.ids, k
        assert read_at == list(ledger.read_at_s.values()) and list(ledger.read_at_s) == ledger.ids, k
        assert energy is not ledger._e and energy == ledger._e  # a copy
        form, at, vals = got[-1]
        assert at == now
        forms.add(form)
        if form == "list":  # every component was read now: the list is the whole reading, in ids order
            assert all(x == now for x in read_at) and vals == energy and vals is not ledger._e, k
        else:
            assert any(x != now for x in read_at) and vals == _mapping(ledger, now) and list(vals) == list(_mapping(ledger, now)), k
    assert forms == {"list", "map"}


def test_the_list_form_is_tied_to_its_observer():
    gpus = [FakeGpu(uuid=f"GPU-{i}") for i in range(4)]
    ledger = Ledger([NvidiaSensor(nvml=make_fake_nvml(gpus), env={})])
    lists, maps, others = [], [], []
    mapping = lambda now_s, done: maps.append(dict(done))  # noqa: E731
    ledger.set_observer(mapping, lambda now_s, vals: lists.append(vals))
    ledger.start(0.0)
    assert len(lists) == 1 and not maps
    ledger.observer = lambda now_s, done: others.append(dict(done))  # replaced (a test's spy): the mapping form only
    ledger.read(1.0)
    assert len(lists) == 1 and others == [{f"gpu:{i}": 0.0 for i in range(4)}]
    ledger.set_observer(mapping)  # no list form
    ledger.read(2.0)
    assert len(lists) == 1 and len(maps) == 1
    ledger.set_observer(None, lambda now_s, vals: lists.append(vals))  # no observer: nothing is called
    ledger.read(3.0)
    assert len(lists) == 1 and len(maps) == 1 and ledger._columns is None


def _components(n):
    comps = [Component(f"dev:{i}", "gpu", "dev", "replay", True, 0.05, "device") for i in range(n)]
    return comps + [Component("cpu:0", "cpu", "cpu", "rapl", True, 0.05, "node"), Component("ram", "ram", "ram", "estimate", False, 0.5, "node")]


def _same(x, y):
    return x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))


def _list_vs_mapping(mode, seed, calm=False):
    """Two attributors fed the same readings, one the list form where every component was read; the ticks
    the list form took node mode's list path on. Their figures and accounts must match bit for bit."""
    rng = random.Random(seed)
    comps = _components(rng.randint(0, 5))
    ids = [c.id for c in comps]
    interval_s = rng.choice((1.0, 0.3) if calm else (1.0, 0.3, 2.0))  # calm: a span ends at every tick
    a, b = (Attributor(comps, [], mode=mode, usage=None, usage_interval_s=interval_s) for _ in range(2))
    assert a.columns_observer(ids) == a.observe_columns and a.columns_observer(ids[1:] + ids[:1]) is None  # (>= 2 ids)
    energy = {cid: rng.uniform(0, 1e3) for cid in ids}
    fast = []
    if mode == "node":  # count the ticks the list path took for the list form
        one_time = a._node._one_time
        a._node._one_time = lambda now_s, vals: bool(one_time(now_s, vals) and not fast.append(1))
    now = 50.0
    for step in range(rng.randint(30 if calm else 1, 150)):
        now += 1.0 if calm else rng.choice((1.0, 1.0, 1.0, 0.0, 0.25, rng.uniform(0.01, 3.0), -0.5))
        for cid in energy:
            energy[cid] += rng.uniform(100, 300) if calm else rng.choice((rng.uniform(100, 300), 0.0, rng.uniform(0, 5)))
        odd = rng.random() * (10 if calm else 1)
        if odd < 0.03 and energy:
            energy[rng.choice(ids)] = rng.choice((math.inf, math.nan))
        elif odd < 0.06 and energy:
            energy[rng.choice(ids)] -= 50.0  # a counter that went back
        if step and rng.random() * (10 if calm else 1) < 0.15:  # a partial reading: the mapping form for both
            part = {cid: energy[cid] for cid in rng.sample(ids, rng.randint(0, len(ids)))}
            a.observe(now, part)
            b.observe(now, dict(part))
        else:  # everything read at now: the list for one, the mapping for the other
            a.observe_columns(now, [energy[cid] for cid in ids])
            b.observe(now, dict(energy))
    fa, fb = a.figures({}), b.figures({})
    assert list(fa) == list(fb)
    for cid in fa:
        assert all(_same(fa[cid][k], fb[cid][k]) for k in fa[cid]), (cid, fa[cid], fb[cid])
        for f in FIELDS:
            assert _same(getattr(a.accounts[cid], f), getattr(b.accounts[cid], f)), (cid, f)
    return len(fast)


@pytest.mark.parametrize("calm", [False, True])
@pytest.mark.parametrize("mode", ["node", "job"])
@pytest.mark.parametrize("seed", range(12))
def test_attributor_list_form_equals_the_mapping_form_bit_for_bit(mode, seed, calm):
    fast = _list_vs_mapping(mode, seed, calm)
    assert mode == "job" or not calm or fast > 0  # steady ticks: node mode's list path was taken


def _tracker_doc(mode, hook, n_gpus=4, ticks=40):
    gpus = [FakeGpu(uuid=f"GPU-{i}") for i in range(n_gpus)]
    clock = ManualClock()
    t = wp.Tracker(sensors=[NvidiaSensor(make_fake_nvml(gpus))], clock=clock, interval_s=1.0, save=False, handle_signals=False,
                   event=StepEvent(clock, ticks=0), attribution=mode)  # fmt: skip
    t.start()
    ledger = t._ledger
    assert ledger._columns is not None and ledger._columns[0] is ledger.observer  # the run layer hooks the list form
    if not hook:
        ledger.observer = t._attributor.observe  # another bound method: the mapping form, as before
    for k in range(ticks):
        for i, g in enumerate(gpus):
            g.lost = k % 13 == 5 and i == 1  # now and then a GPU misses a tick: per-component times
            g.energy_mj += 100_000 + 20_000 * ((k * (i + 1)) % 4)
        clock.advance(1.0 if k % 7 else 0.25)
        t._sampler.tick()
    peaks = ledger.peak_power_w
    doc = t.stop().to_dict()
    assert [c["peak_power_w"] for c in doc["components"]] == [peaks[c["id"]] for c in doc["components"]]
    return doc


@pytest.mark.parametrize("mode", ["node", "job"])
def test_a_footprint_is_the_same_whether_attribution_gets_lists_or_mappings(mode):
    fast, slow = _tracker_doc(mode, hook=True), _tracker_doc(mode, hook=False)
    assert fast["components"] == slow["components"]  # energies, peaks, attribution figures: exact
    assert fast["attribution"] == slow["attribution"] and fast["gaps"] == slow["gaps"]


def _old_readings(ledger):
    with ledger.lock:
        return dict(ledger.energy_j), dict(ledger.read_at_s)


def _serve(tmp_path, name, old, monkeypatch):
    """A run with a late first request, more requests after it and a GPU that misses ticks; ``old``: the
    readings kept and handed over as dicts (the code before the lists)."""
    from wattprint.run import serving

    gpus = [FakeGpu(uuid=f"GPU-{i}") for i in range(3)]
    clock = ManualClock()
    t = wp.Tracker(sensors=[NvidiaSensor(make_fake_nvml(gpus), env={})], clock=clock, interval_s=1.0, save=False,
                   handle_signals=False, event=StepEvent(clock, ticks=0), attribution="node",
                   requests_log="requests.jsonl", output_dir=str(tmp_path / name))  # fmt: skip
    t.start()
    t0 = clock.monotonic()
    gate = t._requests
    if old:
        gate.columns = False
        monkeypatch.setattr(serving, "_readings", _old_readings)
        monkeypatch.setattr(serving, "_kept", _old_readings)
    recs = []

    def ticks(n):
        for k in range(n):
            for i, g in enumerate(gpus):
                g.lost = k % 5 == 3 and i == 2
                g.energy_mj += 150_000 + 40_000 * ((k + i) % 3)
            clock.advance(0.5)
            t._sampler.tick()

    ticks(12)
    assert type(gate.ticks[-1][1]) is (dict if old else list)
    recs.append(t.record_request(10, 20, t0 + 1.0, t0 + 4.2, first_token_s=t0 + 1.5))  # late: from the kept ticks
    for j in range(6):
        ticks(3)
        recs.append(t.record_request(5 + j, 7, clock.monotonic() - 1.2, clock.monotonic() - 0.1))
    ticks(4)
    fp = t.stop()
    lines = (tmp_path / name / "requests.jsonl").read_text().splitlines()
    return [(r.energy_j, list(r.energy), r.prefill_j, r.estimated_j) for r in recs], fp.to_dict()["inference"], [json.loads(x) for x in lines]


def test_requests_are_the_same_whether_the_kept_readings_are_lists_or_dicts(tmp_path, monkeypatch):
    new = _serve(tmp_path, "new", False, monkeypatch)
    old = _serve(tmp_path, "old", True, monkeypatch)
    assert new[0] == old[0] and new[1] == old[1]  # per-request figures and the inference section: exact
    assert len(new[2]) == len(old[2]) == 7 and new[2] == old[2]
    assert new[1]["energy_j"] + new[1]["idle_energy_j"] == pytest.approx(sum(sum(r[1]) for r in new[0]) + new[1]["idle_energy_j"])
