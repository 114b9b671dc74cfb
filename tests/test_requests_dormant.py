"""Until the first request, the request ledger only keeps each tick's readings (the interval and
settling work is not done on the sampler's tick of a run that serves nothing); at the first request
the kept ticks are replayed, so a late first request is measured as exactly as before."""

from __future__ import annotations

import pytest
from wattprint.testing import replay_tracker


def test_ticks_before_the_first_request_do_no_interval_work_and_a_late_first_request_is_exact():
    t, clock = replay_tracker([(0.0, 100.0), (10.0, 300.0)], save=False)  # 100 W for 10 s, then 300 W
    t.start()
    t0 = clock.monotonic()
    for _ in range(20):
        clock.advance(1.0)
        t.sample_now()
    gate = t._requests
    assert gate.ledger is None and len(gate.ticks) == 20  # only readings kept: no request ledger yet
    rec = t.record_request(10, 10, t0 + 12.0, t0 + 15.0)  # first request, recorded late, inside the 300 W part
    assert gate.ticks is None and gate.ledger is not None and gate.ledger.dormant is None  # built, the ticks replayed
    fp = t.stop()
    inf = fp.to_dict()["inference"]
    assert rec.energy_j == pytest.approx(900.0)  # alone in its span: 300 W x 3 s, from the replayed ticks
    assert inf["energy_j"] + inf["idle_energy_j"] == pytest.approx(fp.energy_j)
    assert inf["idle_energy_j"] == pytest.approx(100.0 * 10 + 300.0 * 7)


def test_a_run_that_serves_nothing_has_no_inference_section_and_keeps_its_readings_bounded():
    from wattprint.run import serving, serving_gate

    t, clock = replay_tracker(50.0, save=False)
    t.start()
    for _ in range(serving.DORMANT_TICKS + 10):
        clock.advance(0.5)
        t.sample_now()
    assert len(t._requests.ticks) == serving_gate.DORMANT_TICKS == serving.DORMANT_TICKS and t._requests.ledger is None
    fp = t.stop()
    assert "inference" not in fp.to_dict()


class _Ledger:
    """A ledger's readings, as live dicts (``fresh=False``) or a new dict on each access."""

    def __init__(self, fresh):
        import threading

        self.lock, self.fresh, self.components = threading.RLock(), fresh, []
        self._e, self._t = {"gpu:0": 1.0}, {"gpu:0": 0.0}

    @property
    def energy_j(self):
        return dict(self._e) if self.fresh else self._e

    @property
    def read_at_s(self):
        return dict(self._t) if self.fresh else self._t


@pytest.mark.parametrize("fresh", [False, True])
def test_kept_readings_are_the_readings_of_their_tick_whether_the_ledger_copies_or_not(fresh):
    from wattprint.run import serving_gate

    ledger = _Ledger(fresh)
    gate = serving_gate.RequestGate(None, ledger, 0.0, lambda: 0.0, None, ())
    assert gate.fresh is fresh
    for k in (1, 2):
        ledger._e["gpu:0"], ledger._t["gpu:0"] = 1.0 + 10.0 * k, float(k)  # the live dicts change in place
        serving_gate.tick(gate, ledger, float(k))
    assert list(gate.ticks) == [(1.0, {"gpu:0": 11.0}, {"gpu:0": 1.0}), (2.0, {"gpu:0": 21.0}, {"gpu:0": 2.0})]
    assert gate._args[1].energy_j == {"gpu:0": 1.0}  # the baseline, as at start
