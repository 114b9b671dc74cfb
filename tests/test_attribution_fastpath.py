"""Node mode's accounts (issue 20): ``attribution="node"`` keeps only sums at share 1, in a few list passes per
tick; its figures are exactly those of the general per-interval path. Compared with a job-mode attributor whose
every component is the job's whole (no usage, device components ``exclusive``, node ones ``node``): the same
``ComponentAccount.add`` calls at share 1, so every sum, minimum and figure must match bit for bit."""

from __future__ import annotations

import math
import random

import pytest

import wattprint as wp
from wattprint.engine.attribution import Attributor
from wattprint.engine.sensors.base import Component
from wattprint.engine.sensors.nvidia import NvidiaSensor
from wattprint.testing import ManualClock, StepEvent
from wattprint.testing.fake_pynvml import FakeGpu, make_fake_nvml

FIELDS = ("e_j", "a_j", "b_s", "c_s", "t_s", "min_w", "min_w_short", "used")


def _components(n):
    comps = [Component(f"dev:{i}", "synthetic", "dev", "replay", True, 0.05, "device") for i in range(n)]
    return comps + [Component("cpu:0", "cpu", "cpu", "rapl", True, 0.05, "node"), Component("ram", "ram", "ram", "estimate", False, 0.5, "node")]


def _pair(comps, interval_s=1.0, idle=None):
    node = Attributor(comps, [], mode="node", usage_interval_s=interval_s, idle_power_w=idle)
    job = Attributor(comps, [], mode="job", usage=None, usage_interval_s=interval_s, idle_power_w=idle)  # share 1 everywhere
    return node, job


def _same(x, y):
    return x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))


def _assert_same_figures(node, job):
    fn, fj = node.figures({}), job.figures({})
    assert fn.keys() == fj.keys()
    for cid in fn:
        a, b = node.accounts[cid], job.accounts[cid]
        for f in FIELDS:
            assert _same(getattr(a, f), getattr(b, f)), (cid, f, getattr(a, f), getattr(b, f))
        assert list(a.methods_j.values()) == list(b.methods_j.values()), cid
        assert a.methods_j.keys() <= {"node"}
        x, y = dict(fn[cid]), dict(fj[cid])
        for d in (x, y):
            d.pop("method"), d.pop("methods_j")
        assert all(_same(x[k], y[k]) for k in x), (cid, x, y)
        assert fn[cid]["method"] == ("node" if a.methods_j else "exclusive")


def _readings(rng, comps, energy, calm):
    """One reading: usually every component in order, sometimes part, shuffled, an unknown id, a bad value."""
    for cid in energy:
        energy[cid] += rng.uniform(100, 300) if calm else rng.choice((0.0, rng.uniform(0, 300), rng.uniform(0, 5)))
    ids = [c.id for c in comps]
    kind = rng.random() * (10 if calm else 1)
    if kind < 0.15:
        ids = rng.sample(ids, rng.randint(0, len(ids)))
    elif kind < 0.2:
        ids = list(reversed(ids))
    values = {cid: energy[cid] for cid in ids}
    odd = rng.random() * (10 if calm else 1)
    if odd < 0.04 and values:
        values[rng.choice(list(values))] -= rng.uniform(1, 50)  # a counter that went back
    elif odd < 0.06 and values:
        values[rng.choice(list(values))] = rng.choice((math.inf, math.nan, -math.inf))
    elif odd < 0.08:
        values["nobody"] = 1.0
    return values


@pytest.mark.parametrize("calm", [False, True])
@pytest.mark.parametrize("seed", range(30))
def test_node_mode_matches_the_general_path_on_random_readings(seed, calm):
    rng = random.Random(seed)
    comps = _components(rng.randint(0, 6))
    node, job = _pair(comps, interval_s=rng.choice((1.0, 0.3, 2.0)), idle={"cpu": 5.0} if seed % 3 == 0 else None)
    energy = {c.id: rng.uniform(0, 1e3) for c in comps}
    now = 100.0
    for step in range(rng.randint(1, 120)):
        now += 1.0 if calm and rng.random() < 0.9 else rng.choice((1.0, 1.0, 1.0, 0.0, 0.25, rng.uniform(0.01, 3.0), -0.5))
        values = _readings(rng, comps, energy, calm) if step else {c.id: energy[c.id] for c in comps}
        node.observe(now, values)
        job.observe(now, dict(values))
        if rng.random() < 0.07:
            _assert_same_figures(node, job)
    _assert_same_figures(node, job)


def test_steady_ticks_take_the_list_path_and_match():
    comps = _components(4)
    node, job = _pair(comps)
    energy = {c.id: 0.0 for c in comps}
    for k in range(50):
        for i, cid in enumerate(energy):
            energy[cid] += 100.0 + 10.0 * ((k + i) % 3)  # power swings: the lowest is found on the first spans
        node.observe(float(k), dict(energy))
        job.observe(float(k), dict(energy))
    assert node._node is not None and node._node._last_t is None  # back on the one-time (list) path
    _assert_same_figures(node, job)
    acc = node.accounts["dev:0"]
    assert acc.t_s == 49.0 and acc.min_w == 100.0 and acc.methods_j == {"node": acc.e_j}


def test_a_short_span_parts_the_two_minima():
    comps = _components(2)
    node, job = _pair(comps, interval_s=0.1)
    energy = {c.id: 0.0 for c in comps}
    for now, joules in ((0.0, 0.0), (1.0, 100.0), (2.0, 100.0), (2.2, 10.0), (3.2, 100.0), (4.2, 80.0)):  # 50 W over 0.2 s
        for cid in energy:
            energy[cid] += joules
        node.observe(now, dict(energy))
        job.observe(now, dict(energy))
    _assert_same_figures(node, job)
    acc = node.accounts["dev:0"]
    assert acc.min_w == 80.0 and acc.min_w_short == pytest.approx(50.0)


def _tracker_doc(mode, n_gpus=3, ticks=30):
    gpus = [FakeGpu(uuid=f"GPU-{i}") for i in range(n_gpus)]  # no process lists: each is the job's (exclusive)
    clock = ManualClock()
    t = wp.Tracker(sensors=[NvidiaSensor(make_fake_nvml(gpus))], clock=clock, interval_s=1.0, save=False, handle_signals=False,
                   event=StepEvent(clock, ticks=0), attribution=mode)  # fmt: skip
    t.start()
    for k in range(ticks):
        for i, g in enumerate(gpus):
            g.energy_mj += 100_000 + 20_000 * ((k * (i + 1)) % 4)  # 100..160 W
        clock.advance(1.0)
        t._sampler.tick()
    return t.stop().to_dict()


def test_a_node_mode_footprint_has_the_figures_of_a_whole_share():
    node, job = _tracker_doc("node"), _tracker_doc("job")
    assert node["attribution"]["mode"] == "node"
    for cn, cj in zip(node["components"], job["components"], strict=True):
        assert cn["attribution"] == "node" and cj["attribution"] == "exclusive"
        assert cn["energy_j"] == cn["node_energy_j"] == cj["energy_j"] == cj["node_energy_j"]
        assert cn["idle_energy_j"] == cj["idle_energy_j"] > 0
        an, aj = cn["info"]["attribution"], cj["info"]["attribution"]
        for key in ("share", "idle_power_w", "node_idle_energy_j", "unattributed_j", "attribution_uncertainty_rel", "used", "notes"):
            assert an[key] == aj[key], key
        assert an["share"] == 1.0 and an["idle_power_w"] == pytest.approx(100.0) and an["unattributed_j"] == 0.0
        assert list(an["methods_j"].values()) == list(aj["methods_j"].values()) == [cn["node_energy_j"]]


def test_proc_stat_is_read_only_for_a_cpu_or_ram_split_and_the_tree_still_finds_the_job(tmp_path):
    from wattprint.engine.sensors.rapl import RaplSensor
    from wattprint.testing.fake_pynvml import FakeProcess
    from wattprint.testing.powercap import FakePowercap
    from wattprint.testing.procfs import FakeProc

    proc = FakeProc(tmp_path / "proc", cpus=2)
    proc.add(5001, ppid=proc.self_pid)  # a child of the job on the GPU, found by the tree walk
    FakePowercap(tmp_path / "rapl", sockets=1, dram=False, psys=False, mmio=False, core=False)
    env = {"WATTPRINT_PROC_ROOT": str(tmp_path / "proc")}
    for with_cpu in (False, True):
        gpu = FakeGpu(uuid="GPU-0", processes=[FakeProcess(5001), FakeProcess(proc.self_pid)])
        sensors = [NvidiaSensor(make_fake_nvml([gpu]), env={})] + ([RaplSensor(str(tmp_path / "rapl"))] if with_cpu else [])
        clock = ManualClock()
        t = wp.Tracker(sensors=sensors, clock=clock, interval_s=1.0, save=False, handle_signals=False, env=env,
                       event=StepEvent(clock, ticks=0))  # fmt: skip
        t.start()
        calls = []
        reader = t._attributor.usage.proc
        real = reader.node_cpu
        reader.node_cpu = lambda calls=calls, real=real: calls.append(1) or real()
        for _ in range(6):
            gpu.energy_mj += 100_000
            proc.node_ticks(busy=50, idle=150)
            clock.advance(1.0)
            t._sampler.tick()
        doc = t.stop().to_dict()
        assert t._attributor.usage.cpu is with_cpu and bool(calls) is with_cpu
        g = doc["components"][0]
        assert g["attribution"] == "exclusive" and g["energy_j"] == pytest.approx(600.0)  # both listed pids are the job's
        assert doc["attribution"]["process_tree"]["pids_seen"] == 2
