"""Issue 17 hardening: signal-safe lifecycle, path-safe run ids, no lost final files, CSV cells, torn rows."""

import contextlib
import json
import signal
import weakref

from wattprint import Tracker
from wattprint.run import hooks
from wattprint.testing import ManualClock, replay_sensor

INF = float("inf")


class _Killed(Exception):
    pass


@contextlib.contextmanager
def _watchdog(seconds=5):
    """Fail (instead of hanging the suite) when the body deadlocks: SIGALRM interrupts a blocked lock."""

    def on_alarm(signum, frame):
        raise AssertionError(f"deadlock: still blocked after {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@contextlib.contextmanager
def _previous_sigterm(handler):
    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _tracker(tmp_path, **kw):
    kw.setdefault("run_id", "r1")
    return Tracker(sensors=[replay_sensor(100.0)], clock=ManualClock(), interval_s=INF,
                   output_dir=str(tmp_path), handle_signals=True, **kw)


def test_sigterm_while_register_holds_the_lock_does_not_deadlock(tmp_path, monkeypatch):
    seen = []
    original = hooks._install_signals

    def install_then_signal():
        original()
        hooks._signal_handler(signal.SIGTERM, None)  # as if SIGTERM landed inside register()

    monkeypatch.setattr(hooks, "_install_signals", install_then_signal)
    with _previous_sigterm(lambda s, f: seen.append(s)), _watchdog():
        t = _tracker(tmp_path)
        t.start()
        assert seen == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) is not hooks._signal_handler
    doc = json.loads((tmp_path / "r1.json").read_text())
    assert doc["status"] == "partial"
    assert not t.running


def test_sigterm_while_unregister_holds_the_lock_does_not_deadlock(tmp_path, monkeypatch):
    seen = []

    class SignallingSet(weakref.WeakSet):
        def discard(self, item):
            super().discard(item)
            if item is inner:
                hooks._signal_handler(signal.SIGTERM, None)  # lands while inner's unregister holds the lock

    with _previous_sigterm(lambda s, f: seen.append(s)), _watchdog():
        outer = _tracker(tmp_path, run_id="outer").start()
        inner = _tracker(tmp_path, run_id="inner").start()
        monkeypatch.setattr(hooks, "_ACTIVE", SignallingSet([outer, inner]))
        inner.stop()
        assert seen == [signal.SIGTERM]
    assert json.loads((tmp_path / "outer.json").read_text())["status"] == "partial"
    assert (tmp_path / "inner.json").exists()
    assert not outer.running and hooks.active() == []
