"""A manual clock and a controllable stop event, for deterministic tracker tests.

    clock = ManualClock()
    event = StepEvent(clock, ticks=5)   # the sampler thread runs 5 ticks, advancing the clock
    t = Tracker(sensors=[ReplaySensor(...)], clock=clock, event=event)

Times are seconds (``monotonic()``) and aware UTC datetimes (``utc_now()``).

Failure modes: none raised; a :class:`StepEvent` whose ticks are used up parks
the waiting thread until ``set()`` is called (the tracker's ``stop()`` does that).
"""

from __future__ import annotations

import datetime as _dt
import threading
from typing import Optional

__all__ = ["ManualClock", "StepEvent"]


class ManualClock:
    """A clock that moves only when told. ``monotonic()`` in seconds, ``utc_now()`` aware UTC."""

    def __init__(self, start_s: float = 1000.0, utc: Optional[_dt.datetime] = None) -> None:
        self._t = start_s
        self._start = start_s
        self._utc0 = utc or _dt.datetime(2026, 1, 1, tzinfo=_dt.timezone.utc)
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self._t

    def utc_now(self) -> _dt.datetime:
        with self._lock:
            return self._utc0 + _dt.timedelta(seconds=self._t - self._start)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._t += seconds


class StepEvent:
    """A stop event whose ``wait(timeout)`` advances a :class:`ManualClock` by ``timeout``.

    The sampler thread then ticks exactly ``ticks`` times and stops waiting
    (``wait`` returns ``True``), so thread tests never sleep on wall time.
    ``done`` is set once the ticks are used up.
    """

    def __init__(self, clock: ManualClock, ticks: int) -> None:
        self.clock = clock
        self.remaining = ticks
        self._set = threading.Event()
        self.done = threading.Event()

    def wait(self, timeout: Optional[float] = None) -> bool:
        if self._set.is_set():
            return True
        if self.remaining <= 0:
            self.done.set()
            return self._set.wait()  # park until stop() sets us
        self.remaining -= 1
        self.clock.advance(timeout or 0.0)
        return False

    def set(self) -> None:
        self._set.set()

    def is_set(self) -> bool:
        return self._set.is_set()
