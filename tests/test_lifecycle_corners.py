"""Lifecycle corners (issue 17): a window open at stop(), concurrent stop() calls, and how a
``with Tracker()`` block that exits through sys.exit or Ctrl-C is recorded."""

from __future__ import annotations

import threading

import pytest
from wattprint.testing import replay_tracker


def test_a_window_open_at_stop_is_kept_not_lost(tmp_path):
    t, clock = replay_tracker(100.0, output_dir=str(tmp_path))
    t.start()
    clock.advance(1.0)
    with t.window("eval") as record:
        clock.advance(2.0)
        fp = t.stop()
        clock.advance(5.0)  # the block goes on after the run stopped: nothing more is counted
    (w,) = fp.to_dict()["windows"]
    assert w["name"] == "eval" and w["open_at_stop"] is True
    assert w["duration_s"] == pytest.approx(2.0) and w["energy_j"] == pytest.approx(200.0)
    assert record["energy_j"] == pytest.approx(200.0)
    assert len(t.footprint.to_dict()["windows"]) == 1


def test_a_closed_window_is_not_marked(tmp_path):
    t, clock = replay_tracker(100.0, output_dir=str(tmp_path))
    t.start()
    with t.window("w"):
        clock.advance(1.0)
    fp = t.stop()
    assert "open_at_stop" not in fp.to_dict()["windows"][0]


class Gate:
    """An exporter that holds the first stop() inside export() until released."""

    def __init__(self):
        self.entered, self.release = threading.Event(), threading.Event()

    def export(self, footprint):
        self.entered.set()
        assert self.release.wait(30)


def test_concurrent_stops_all_get_the_one_footprint(tmp_path):
    gate = Gate()
    t, clock = replay_tracker(100.0, output_dir=str(tmp_path), exporters=[gate])
    t.start()
    clock.advance(3.0)
    results = {}
    first = threading.Thread(target=lambda: results.__setitem__("first", t.stop()))
    first.start()
    assert gate.entered.wait(30)  # the first stop is inside its exporters
    second = threading.Thread(target=lambda: results.__setitem__("second", t.stop()))
    second.start()
    second.join(0.2)
    assert second.is_alive()  # waiting for the first, not returning None
    gate.release.set()
    first.join(30)
    second.join(30)
    assert results["first"] is not None and results["second"] is results["first"]


@pytest.mark.parametrize("code, status", [(3, "failed"), ("boom", "failed"), (0, "completed"), (None, "completed")])
def test_sys_exit_inside_with_is_recorded_by_its_code(tmp_path, code, status):
    t, clock = replay_tracker(100.0, output_dir=str(tmp_path), handle_signals=False)
    with pytest.raises(SystemExit):
        with t:
            clock.advance(1.0)
            raise SystemExit(code)
    assert t.footprint.get("status") == status
    if status == "failed":
        assert any("sys.exit" in n for n in t.footprint.get("notes"))


def test_ctrl_c_inside_with_is_partial(tmp_path):
    t, clock = replay_tracker(100.0, output_dir=str(tmp_path), handle_signals=False)
    with pytest.raises(KeyboardInterrupt):
        with t:
            clock.advance(1.0)
            raise KeyboardInterrupt
    assert t.footprint.get("status") == "partial"
    assert any("KeyboardInterrupt" in n for n in t.footprint.get("notes"))
