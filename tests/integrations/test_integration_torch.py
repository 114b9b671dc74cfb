"""The PyTorch step hook on a real optimizer (CPU)."""

from __future__ import annotations

import json
import math

import pytest
import torch
import wattprint as wp
from wattprint.integrations.torch import StepHook, attach, energy_per_step
from wattprint.testing import ManualClock, replay_tracker


def _model():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    return model, torch.optim.SGD(model.parameters(), lr=0.1)


def _train_step(model, opt, n=8):
    opt.zero_grad()
    model(torch.randn(n, 4)).pow(2).mean().backward()
    opt.step()


def _tracker(tmp_path, clock, watts=100.0):
    return replay_tracker(watts, clock=clock, project="t", output_dir=str(tmp_path), save=True)[0]


def test_attach_counts_every_optimizer_step(tmp_path):
    model, opt = _model()
    clock = ManualClock()
    t = _tracker(tmp_path, clock).start()
    hook = attach(opt, t, samples_per_step=8, tokens_per_step=lambda: 32)
    for _ in range(5):
        _train_step(model, opt)
    hook.remove()
    _train_step(model, opt)  # after remove(): not counted
    hook.remove()  # twice is fine
    fp = t.stop()
    assert hook.steps == 5 and fp.get("work.steps") == 5
    assert fp.get("work.samples") == 40 and fp.get("work.tokens") == 160


def test_per_step_energy_from_the_timeline(tmp_path):
    model, opt = _model()
    clock = ManualClock()
    t = _tracker(tmp_path, clock, watts=100.0).start()
    attach(opt, t)
    for k in range(6):
        _train_step(model, opt)
        clock.advance(1.0 if k < 3 else 2.0)  # the last steps take twice as long
        t.sample_now()  # the sampler's reading (no read in the step itself)
    fp = t.stop()
    per = energy_per_step(fp)
    assert sum(p["energy_j"] for p in per) == pytest.approx(fp.energy_j) == pytest.approx(900.0)
    assert sum(p["step_count"] for p in per) == 6
    assert [p["j_per_step"] for p in per] == pytest.approx([100.0] * 3 + [200.0] * 3)
    # the written JSON timeline gives the same answer
    doc = json.load(open(t.json_path))
    assert energy_per_step(doc["timeline"]) == per


def test_read_every_n_steps_records_exact_spans(tmp_path):
    model, opt = _model()
    clock = ManualClock()
    t = _tracker(tmp_path, clock, watts=40.0).start()
    hook = attach(opt, t, read_every_n_steps=2, sync=True)  # sync is a no-op without CUDA
    for _ in range(6):
        clock.advance(0.25)
        _train_step(model, opt)
    t.stop()
    assert [r["step_count"] for r in hook.records] == [2, 2, 2]
    assert [r["energy_j"] for r in hook.records] == pytest.approx([20.0, 20.0, 20.0])
    assert hook.last_j_per_step == pytest.approx(10.0)


def test_two_line_attach_builds_and_stops_its_tracker(tmp_path):
    model, opt = _model()
    sensor = wp.ReplaySensor([(0.0, 10.0)], component_id="gpu:0", kind="gpu")
    hook = attach(opt, output_dir=str(tmp_path), sensors=[sensor], interval_s=math.inf, handle_signals=False)
    for _ in range(3):
        _train_step(model, opt)
    fp = hook.stop()
    assert fp is not None and fp.get("work.steps") == 3 and fp.status == "completed"
    assert hook.stop() is fp  # idempotent
    _train_step(model, opt)
    assert fp.get("work.steps") == 3


def test_context_manager_marks_a_crash_failed(tmp_path):
    model, opt = _model()
    sensor = wp.ReplaySensor([(0.0, 10.0)], component_id="gpu:0", kind="gpu")
    with pytest.raises(RuntimeError):
        with attach(opt, output_dir=str(tmp_path), sensors=[sensor], interval_s=math.inf, handle_signals=False) as hook:
            _train_step(model, opt)
            raise RuntimeError("boom")
    assert hook.tracker.footprint.status == "failed" and hook.tracker.footprint.get("work.steps") == 1


def test_manual_steps_without_an_optimizer(tmp_path):
    clock = ManualClock()
    t = _tracker(tmp_path, clock).start()
    meter = StepHook(t, samples_per_step=4)
    meter.step()
    meter.step(samples=2, tokens=10)
    assert t.stop().get("work.samples") == 6


def test_a_broken_tracker_never_breaks_training(caplog):
    class Broken:
        def step(self, *a, **k):
            raise RuntimeError("sensor on fire")

    model, opt = _model()
    hook = StepHook(Broken()).attach(opt)
    for _ in range(4):
        _train_step(model, opt)  # does not raise
    assert "counting a step failed" in caplog.text
    # a persistent failure is one traceback, not one per step; the repeats are counted
    assert len([r for r in caplog.records if "counting a step failed" in r.getMessage()]) == 1
    assert hook.warnings.counts == {"counting a step: RuntimeError": 4}


def test_bad_arguments():
    model, opt = _model()
    with pytest.raises(TypeError):
        attach(object(), wp.Tracker(save=False))
    with pytest.raises(ValueError):
        StepHook(wp.Tracker(save=False), read_every_n_steps=0)
    with pytest.raises(TypeError):
        attach(opt, wp.Tracker(save=False), region="IE")
