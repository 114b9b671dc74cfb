"""The framework-neutral training session behind the Lightning and Hugging Face callbacks (no framework needed)."""

from __future__ import annotations

import logging
import math

import pytest
import wattprint as wp
from wattprint.integrations._session import Totals, TrainingSession, WarnOnce, is_failure
from wattprint.integrations.distributed import DistributedTracker, check_settings
from wattprint.testing import ManualClock

WATTS = 10.0


def _session(tmp_path, clock, **ranks):
    s = TrainingSession()
    sensor = wp.ReplaySensor([(0.0, WATTS)], component_id="gpu:0", kind="gpu")
    kw = dict(output_dir=str(tmp_path), sensors=[sensor], clock=clock, interval_s=math.inf, handle_signals=False)
    assert s.begin(lambda: DistributedTracker(**kw, **ranks), ("test", {"stage": "fit"}))
    return s


def test_a_session_counts_epochs_and_keeps_summed_totals(tmp_path):
    clock = ManualClock()
    s = _session(tmp_path, clock)
    s.open_epoch("epoch 0")
    clock.advance(3.0)
    s.dt.step(3)
    rec = s.close_epoch()
    assert rec["energy_j"] == pytest.approx(3 * WATTS)
    assert s.update_totals([rec["energy_j"]], read=False) == pytest.approx([3 * WATTS])
    assert s.totals.energy_j == pytest.approx(3 * WATTS) and s.totals.steps == 3
    assert s.figures()["wattprint.energy.it_kwh"] == pytest.approx(3 * WATTS / 3.6e6)
    fp = s.finish(None, gather=True, section=("test", {"stage": "fit", "done": True}))
    assert fp.status == "completed" and fp["test"] == {"stage": "fit", "done": True}
    assert [w["name"] for w in fp["windows"]] == ["epoch 0"]
    assert s.finish("failed", gather=False, section=("test", {})) is fp  # idempotent


def test_a_distributed_session_never_reads_totals_without_a_collective(tmp_path):
    clock = ManualClock()
    s = _session(tmp_path, clock, rank=0, world_size=2, local_world_size=2)
    clock.advance(2.0)
    s.dt.step(2)
    s.update_totals()  # the collective point (no process group here: the sum is the rank's own figures)
    cached = s.totals
    clock.advance(5.0)
    s.dt.step(1)
    assert s.update_totals(collective=False) is None and s.totals == cached
    s.finish("failed", gather=False, section=("test", {}))
    assert s.totals == cached  # a rank finishing alone keeps the last summed totals


def test_resume_totals_and_section(tmp_path):
    clock = ManualClock()
    s = TrainingSession()
    s.restore(Totals(energy_j=100.0, carbon_kg=0.5, steps=8), {"resumed_from": ["run-a"]})
    assert s.totals == Totals(100.0, 0.5, 8)
    s = _session(tmp_path, clock)
    s.restore(Totals(energy_j=100.0, carbon_kg=0.5, steps=8), {"resumed_from": ["run-a"]})  # after start, as Lightning does
    clock.advance(4.0)
    s.dt.step(4)
    fp = s.finish(None, gather=True, section=("test", {}))
    resume = fp["resume"]
    assert resume["resumed_from"] == ["run-a"] and resume["previous_steps"] == 8 and resume["cumulative_steps"] == 12
    assert resume["previous_energy_j"] == 100.0 and resume["cumulative_energy_j"] == pytest.approx(100.0 + 4 * WATTS)


def test_a_failing_hook_is_logged_once_per_cause_then_counted(caplog):
    warn = WarnOnce()
    for _ in range(5):
        with warn.guard("counting a step"):
            raise RuntimeError("sensor on fire")
    with warn.guard("counting a step"):
        raise KeyError("other cause")
    records = [r for r in caplog.records if "counting a step failed" in r.getMessage()]
    assert len(records) == 2 and all(r.exc_info for r in records)
    assert warn.counts == {"counting a step: RuntimeError": 5, "counting a step: KeyError": 1}
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="wattprint"):
        warn.log_repeats()
    assert "counting a step: RuntimeError (5 times)" in caplog.text and "KeyError" not in caplog.text


def test_a_session_that_cannot_start_leaves_training_alone(caplog):
    s = TrainingSession()

    def broken():
        raise RuntimeError("no sensors")

    assert not s.begin(broken, ("test", {})) and s.dt is None and not s.running
    s.open_epoch("epoch 0")
    assert s.close_epoch() is None and s.update_totals() is None
    assert s.finish(None, gather=True, section=("test", {})) is None
    assert "could not start measuring" in caplog.text


def test_is_failure():
    assert is_failure(RuntimeError) and not is_failure(KeyboardInterrupt) and not is_failure(SystemExit) and not is_failure(None)


def test_settings_are_checked_without_building_a_tracker(monkeypatch):
    def no_tracker(self, *a, **k):
        raise AssertionError("a Tracker was built to check settings")

    monkeypatch.setattr(wp.Tracker, "__init__", no_tracker)
    check_settings(project="p", region="IE", devices=[0], node_level=True, sensors=[])
    with pytest.raises(wp.ConfigError):
        check_settings(pue=0.5)
    with pytest.raises(wp.ConfigError):
        check_settings(interval_s=-1, rank=1)
    with pytest.raises(TypeError):
        check_settings(no_such_setting=1)
