"""The bulk read path of GPU channels (sensors/_channel.py) gives exactly what the per-channel loop gives:
same joules (bit for bit), same gaps, same errors, same NVML calls, whatever happens to the GPUs."""

import random

import pytest
from fakes.fake_pynvml import FakeGpu, make_fake_nvml
from wattprint.engine.sensors.nvidia import NvidiaSensor


def _gpus(n, limits_mw):
    return [FakeGpu(uuid=f"GPU-{i:04x}", power_limit_mw=limits_mw[i % len(limits_mw)]) for i in range(n)]


def _step(rng, gpus_pair, t):
    """One tick's events, applied to both copies of the GPUs alike."""
    events = []
    for _ in gpus_pair[0]:
        r = rng.random()
        if r < 0.80:
            ev = ("add", rng.randrange(0, 900_000))
        elif r < 0.85:
            ev = ("reset", rng.randrange(0, 50_000))
        elif r < 0.90:
            ev = ("jump", 10**9)
        elif r < 0.94:
            ev = ("lost", None)
        elif r < 0.97:
            ev = ("error", 999)  # NVML_ERROR_UNKNOWN
        else:
            ev = ("same", None)
        events.append(ev)
    for gpus in gpus_pair:
        for g, (kind, value) in zip(gpus, events, strict=True):
            g.lost = kind == "lost"
            g.energy_error = value if kind == "error" else None
            if kind == "add":
                g.energy_mj += value
            elif kind == "reset":
                g.energy_mj = value
            elif kind == "jump":
                g.energy_mj += value


@pytest.mark.parametrize("n", [4, 5, 8])
@pytest.mark.parametrize("limits_mw", [[700_000], [700_000, 400_000, 50_000]])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bulk_path_equals_per_channel_loop(n, limits_mw, seed):
    rng = random.Random(seed * 1000 + n)
    bulk_gpus, loop_gpus = _gpus(n, limits_mw), _gpus(n, limits_mw)
    bulk = NvidiaSensor(nvml=make_fake_nvml(bulk_gpus), env={})
    loop = NvidiaSensor(nvml=make_fake_nvml(loop_gpus), env={})
    loop._bulk_plan = False  # the per-channel loop only
    bulk_ticks = 0
    t = 0.0
    for k in range(400):
        t += rng.choice([0.1, 1.0, 1.0, 1.0, 2.5])
        if k % 7 and rng.random() < 0.7:  # long ordinary stretches, so the bulk path holds the state
            for a, b in zip(bulk_gpus, loop_gpus, strict=True):
                a.lost = b.lost = False
                a.energy_error = b.energy_error = None
                d = rng.randrange(0, 400_000)
                a.energy_mj += d
                b.energy_mj += d
        else:
            _step(rng, (bulk_gpus, loop_gpus), t)
        bulk_ticks += bulk._bulk is not None
        got, want = dict(bulk.read(t)), dict(loop.read(t))
        assert got == want, k  # exact floats
        assert bulk.drain_gaps() == loop.drain_gaps(), k
        for ch in loop._channels:
            assert bulk.last_error(ch.component_id) == loop.last_error(ch.component_id)
        assert [g.calls for g in bulk_gpus] == [g.calls for g in loop_gpus], k
    assert bulk_ticks > 100  # the bulk path was taken for a good share of the ticks


def test_bulk_path_hands_state_back_on_a_reset():
    gpus = [FakeGpu(uuid=f"GPU-{i}") for i in range(4)]
    sensor = NvidiaSensor(nvml=make_fake_nvml(gpus), env={})
    sensor.read(0.0)
    for t in (1.0, 2.0):
        for g in gpus:
            g.energy_mj += 200_000
        assert sensor.read(t) == {f"gpu:{i}": pytest.approx(200.0 * t) for i in range(4)}
    assert sensor._bulk is not None
    gpus[1].energy_mj = 5_000  # driver reload on one GPU: counted from zero, a gap
    for i in (0, 2, 3):
        gpus[i].energy_mj += 100_000
    out = sensor.read(3.0)
    assert out == {"gpu:0": pytest.approx(500.0), "gpu:1": pytest.approx(405.0), "gpu:2": pytest.approx(500.0), "gpu:3": pytest.approx(500.0)}
    gaps = sensor.drain_gaps()
    assert [(g.component_id, g.start_s, g.end_s) for g in gaps] == [("gpu:1", 2.0, 3.0)] and "reset" in gaps[0].reason
    assert sensor._bulk is not None  # every GPU answered: the next tick is bulk again


def test_few_gpus_keep_the_per_channel_loop():
    gpus = [FakeGpu(uuid=f"GPU-{i}") for i in range(3)]
    sensor = NvidiaSensor(nvml=make_fake_nvml(gpus), env={})
    for t in (0.0, 1.0, 2.0):
        sensor.read(t)
    assert sensor._bulk is None and sensor._bulk_plan is False


def test_channel_lookup_by_id_follows_replaced_channels():
    """channel()/last_error() are a dict lookup, kept right when the channel list (or a channel in it) is replaced."""
    from wattprint.engine.sensors._channel import GpuChannel

    sensor = NvidiaSensor(nvml=make_fake_nvml(_gpus(6, [300_000])), env={})
    chans = list(sensor._channels)
    assert [sensor.channel(f"gpu:{i}") for i in range(6)] == chans
    assert sensor.channel("gpu:6") is None and sensor.last_error("cpu") is None
    chans[2].last_error = "lost"
    assert sensor.last_error("gpu:2") == "lost" and sensor.last_error("gpu:1") is None
    fresh = GpuChannel("gpu:2", "nvml.total_energy", chans[2].device)  # reopened: a new channel in its place
    fresh.last_error = "reopened"
    sensor._channels[2] = fresh
    assert sensor.channel("gpu:2") is fresh and sensor.last_error("gpu:2") == "reopened"
    sensor._channels = [chans[5], chans[0], GpuChannel("gpu:9", "nvml.total_energy", None)]  # a new list, reordered
    assert sensor.channel("gpu:0") is chans[0] and sensor.channel("gpu:5") is chans[5]
    assert sensor.channel("gpu:9").component_id == "gpu:9"
    assert sensor.channel("gpu:2") is None and sensor.channel("gpu:1") is None
    sensor._channels.append(GpuChannel("gpu:0", "nvml.total_energy", None))  # a duplicate id: the first, as the scan gave
    assert sensor.channel("gpu:0") is chans[0]
    sensor._channels.insert(0, GpuChannel("gpu:0", "x", None))
    assert sensor.channel("gpu:0").source == "x"
