"""The one background thread that reads every sensor.

Loop: ``while not stop.wait(tick_s)``: read the sensors that are due, then
call ``on_tick`` (timeline point, live exporters, checkpoint). A sensor's
period follows its declared :attr:`~wattprint.engine.sensors.base.Sensor.mode`:
``"counter"`` sensors every ``interval_s``; ``"power"`` sensors every
``min(sensor.poll_interval_s, power_interval_s)``. The thread is a named
daemon, wakes at once on :meth:`Sampler.stop`, and never lets an exception
escape (it logs and goes on). ``interval_s = math.inf`` means no thread at
all, for power sensors too: boundaries and :meth:`Sampler.tick` still read.

The clock and the stop event are injectable so tests drive ticks without
sleeping (see :mod:`wattprint.testing`).

Read deadlines live in the :class:`~wattprint.engine.ledger.Ledger`: a sensor
that hangs in this thread holds only this thread; boundaries wait for it at most
its deadline. :meth:`Sampler.stop` stops waiting for the thread as soon as it is
stuck in a read past its deadline, and turns the ledger's later reads of all
sensors into bounded ones (``stop()`` and the signal path).

Failure modes: :meth:`Sampler.tick` never raises (sensor failures are gaps in
the ledger; a failing ``on_tick`` is logged); :meth:`Sampler.stop` gives up
joining after ``timeout_s`` (or once the thread is stuck in a sensor read past
its deadline) and leaves a hung daemon thread behind.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Callable, Dict, Optional, Protocol

from wattprint.engine.clock import SYSTEM_CLOCK, Clock
from wattprint.engine.ledger import Ledger
from wattprint.engine.sensors.base import Sensor

__all__ = ["Sampler", "WaitEvent"]

logger = logging.getLogger("wattprint")

_JOIN_SLICE_S = 0.02  # stop() checks this often whether the thread is stuck in a hung read


class WaitEvent(Protocol):
    def wait(self, timeout: Optional[float] = None) -> bool: ...

    def set(self) -> None: ...

    def is_set(self) -> bool: ...


class Sampler:
    """Reads the ledger's sensors at their own rates in one daemon thread.

    Args:
        ledger: where readings go.
        interval_s: period for counter sensors, seconds (> 0, ``math.inf`` for no thread).
        power_interval_s: longest period for polled-power sensors, seconds (> 0).
        on_tick: called after each tick with the monotonic time; its errors are logged.
        clock: monotonic clock.
        event: the stop event (``threading.Event`` by default).
    """

    def __init__(
        self,
        ledger: Ledger,
        interval_s: float = 1.0,
        power_interval_s: float = 0.1,
        on_tick: Optional[Callable[[float], None]] = None,
        clock: Clock = SYSTEM_CLOCK,
        event: Optional[WaitEvent] = None,
        name: str = "wattprint-sampler",
    ) -> None:
        self.ledger = ledger
        self.interval_s = interval_s
        self.clock = clock
        self.on_tick = on_tick
        self._event: WaitEvent = event if event is not None else threading.Event()
        self._name = name
        self._thread: Optional[threading.Thread] = None
        self._period: Dict[Sensor, float] = {}
        for sensor in ledger.sensors:
            power = sensor.mode == "power"
            self._period[sensor] = min(sensor.poll_interval_s, power_interval_s) if power else interval_s
        self.tick_s = math.inf if math.isinf(interval_s) else min(self._period.values(), default=interval_s)
        self._next_due: Dict[Sensor, float] = {}  # with several periods: each sensor's next due time
        self.ticks = 0
        self._sensors = list(self._period)
        # one period for every sensor (the usual case): their due times move together, one float (_due_s) says when
        self._one_period: Optional[float] = self._period[self._sensors[0]] if len(set(self._period.values())) == 1 else None
        self._due_s = -math.inf  # before start(): every tick reads
        self._slack_s = self.tick_s * 0.25  # a sensor due this soon is read now

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (no-op when ``interval_s`` is infinite or already running)."""
        if self.running or math.isinf(self.tick_s):
            return
        now = self.clock.monotonic()
        self._next_due = {s: now + p for s, p in self._period.items()}
        self._due_s = now + self._one_period if self._one_period is not None else -math.inf
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._event.wait(self.tick_s):
            self.tick()

    def tick(self, force: bool = False) -> None:
        """Read the sensors that are due (all when ``force``), then call ``on_tick``. Never raises."""
        try:
            now = self.clock.monotonic()
            period = self._one_period
            if period is not None:  # all due or none (all sensors share their due time)
                if force or now + self._slack_s >= self._due_s:
                    self.ledger.read(now, self._sensors)
                    self._due_s = now + period
            else:
                due = list(self._period) if force else [s for s in self._period if now + self._slack_s >= self._next_due.get(s, now)]
                if due:
                    self.ledger.read(now, due)
                    for s in due:
                        self._next_due[s] = now + self._period[s]
            self.ticks += 1
            if self.on_tick is not None:
                self.on_tick(now)
        except Exception:  # the sampler must outlive any bug in a hook
            logger.exception("wattprint: sampler tick failed; continuing")

    def stop(self, timeout_s: float = 5.0) -> None:
        """Wake and join the thread. Safe to call twice, and from the thread itself.

        The join gives up early when the thread is stuck in a sensor read past its deadline."""
        self._event.set()
        self.ledger.bounded = True
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            until = time.monotonic() + timeout_s
            while thread.is_alive() and not self.ledger.stuck():
                left = until - time.monotonic()
                if left <= 0:
                    break
                thread.join(min(left, _JOIN_SLICE_S))
        self._thread = None
