"""Clocks and waits, injectable so tests never sleep.

``Clock.monotonic()`` returns seconds on a monotonic scale (durations);
``Clock.utc_now()`` returns an aware UTC datetime (timestamps). Production
code uses :data:`SYSTEM_CLOCK`; tests use :class:`wattprint.testing.ManualClock`.

Failure modes: none; the system clocks do not raise.
"""

from __future__ import annotations

import datetime as _dt
import time
from typing import Protocol

from wattprint.units import iso_utc

__all__ = ["Clock", "SystemClock", "SYSTEM_CLOCK", "iso_utc"]


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
