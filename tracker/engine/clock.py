"""Clocks and waits, injectable so tests never sleep.

``Clock.monotonic()`` returns seconds on a monotonic scale (durations);
``Clock.utc_now()`` returns an aware UTC datetime (timestamps). Production
code uses :data:`SYSTEM_CLOCK`; tests use :class:`wattprint.testing.ManualClock`.
"""

from __future__ import annotations

import datetime as _dt
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def utc_now(self) -> _dt.datetime: ...


class SystemClock:
    """The real clocks: ``time.monotonic`` and the UTC wall clock."""

    monotonic = staticmethod(time.monotonic)

    @staticmethod
    def utc_now() -> _dt.datetime:
        return _dt.datetime.now(_dt.timezone.utc)


SYSTEM_CLOCK = SystemClock()


def iso_utc(when: _dt.datetime) -> str:
    """ISO 8601 in UTC with a trailing ``Z`` and millisecond precision."""
    return when.astimezone(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
