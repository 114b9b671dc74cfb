"""Window edges read off the caller's thread: one persistent reader thread per run.

:meth:`EdgeReader.edge` puts an :class:`Edge` on a queue and returns at once (a
``SimpleQueue.put``, which wakes the reader): the caller never reads a sensor, so a
sensor that hangs inside an edge's read holds only the reader. The reader takes every
edge queued so far, reads all sensors once at its own monotonic time and stamps each of
those edges with that time and the ledger's cumulative joules after the reading.

An edge's time is therefore its *reading's* time, which can be later than the call: the
reader runs when it gets the GIL (at once when the caller blocks or releases it, within
the interpreter's switch interval, 5 ms by default, when the caller computes in Python),
and edges queued together share one reading. A window's span and its energy are both the
difference of its two edges, so they always describe the same interval.

Whoever needs an edge's figures calls :meth:`EdgeReader.wait`, which waits at most the
longest sensor deadline (default 1 s). A reader stuck in one read past that sensor's
deadline is retired and a fresh reader takes over its edges (the stuck sensor is then
skipped at once, as the ledger skips any read past its deadline); an edge still unread
when the wait ends is stamped there with the ledger's last values, and each sensor the
reader had not read for it (in its pass, or all of them for an edge still queued) gets a
gap (``read timed out``).

Failure modes: nothing raises; a retired reader stays in its read (a daemon thread)
and exits when the read returns, without touching any edge; if no thread can be started,
a warning is logged and each edge is stamped unread when waited for.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Optional

from wattprint.engine.clock import Clock
from wattprint.engine.ledger import Ledger

__all__ = ["Edge", "EdgeReader"]

logger = logging.getLogger("wattprint")


class Edge:
    """One window edge: ``t_s`` (the reading's monotonic time) and ``energy_j`` (cumulative
    joules per component after it; shared by the edges of one reading, do not mutate) once ``done``."""

    t_s: float = math.nan
    energy_j: Dict[str, float] = {}
    done = False


class _Reader:
    """One reader thread's state: the pass it is in (its edges, the sensor it is reading)."""

    def __init__(self, batch: List[Any]) -> None:
        self.batch = batch
        self.next = 0  # index of the sensor being read in this pass
        self.read_until = math.inf  # time.monotonic() by which that read should be over


class EdgeReader:
    """Reads the ledger's sensors for window edges on one daemon thread, started at the first edge.

    Args:
        ledger: the run's ledger.
        clock: the monotonic clock edges are stamped with (the system clock: the reader reads it when it reads).
        on_pass: called on the reader thread after each pass (e.g. to finish the windows it completed); never raises out.
    """

    def __init__(self, ledger: Ledger, clock: Clock, on_pass: Optional[Callable[[], None]] = None) -> None:
        self._ledger = ledger
        self._clock = clock
        self._on_pass = on_pass
        self._sensors = list(ledger.sensors)
        self._deadlines = [ledger.deadline_of(s) for s in self._sensors]
        self.wait_s = max(self._deadlines, default=1.0)
        self._q: "queue.SimpleQueue[Optional[Edge]]" = queue.SimpleQueue()
        self._cond = threading.Condition(threading.RLock())  # re-entrant: a signal handler's stop() may wait here
        self._cur: Optional[_Reader] = None
        self._closed = False

    def edge(self, e: Optional[Edge] = None) -> Edge:
        """Queue an edge (a new one unless ``e``) for the next reading; returns at once."""
        if e is None:
            e = Edge()
        cur = self._cur
        if cur is None or time.monotonic() > cur.read_until:
            self._restart()
        self._q.put(e)
        return e

    def wait(self, edges: Iterable[Edge], until: Optional[float] = None) -> None:
        """Wait until ``edges`` are read, at most until ``time.monotonic()`` ``until`` (default: now + the
        longest deadline); those still unread then are stamped now (gaps for the sensors not read)."""
        pending = [e for e in edges if not e.done]
        if not pending:
            return
        end = time.monotonic() + self.wait_s if until is None else until
        with self._cond:
            for e in pending:
                while not e.done:
                    now = time.monotonic()
                    cur = self._cur
                    if cur is not None and now > cur.read_until:
                        self._retire_locked()
                        continue
                    if now >= end:
                        self._force_locked(e)
                        break
                    self._cond.wait(min(end, cur.read_until if cur is not None else end) - now)

    def close(self) -> None:
        """No more edges: the reader exits once the queue is read (a stuck one when its read returns)."""
        with self._cond:
            self._closed = True
            self._cur = None
        self._q.put(None)

    # -- the reader thread -------------------------------------------------------------
    def _restart(self) -> None:
        with self._cond:
            cur = self._cur
            if self._closed or (cur is not None and time.monotonic() <= cur.read_until):
                return
            if cur is None:
                self._start_locked([])
            else:
                self._retire_locked()

    def _retire_locked(self) -> None:
        """The current reader is stuck in a read past its deadline: a fresh one takes its edges."""
        cur = self._cur
        carried = [e for e in cur.batch if e is not None and not e.done] if cur is not None else []
        self._start_locked(carried)

    def _start_locked(self, carried: List[Any]) -> None:
        me = self._cur = _Reader([])
        try:
            threading.Thread(target=self._run, args=(me, carried), name="wattprint-edges", daemon=True).start()
        except RuntimeError:  # no thread to be had (a process at its limit): the edges wait, then are stamped unread
            self._cur = None
            logger.warning("wattprint: cannot start the window-edge reader thread; window figures may be gaps")

    def _run(self, me: _Reader, batch: List[Any]) -> None:
        q, cond, ledger, sensors, deadlines = self._q, self._cond, self._ledger, self._sensors, self._deadlines
        while True:
            if not batch:
                batch = [q.get()]
            try:
                while True:
                    batch.append(q.get_nowait())
            except queue.Empty:
                pass
            with cond:
                if self._cur is not me:
                    return
                me.batch = batch
            now = self._clock.monotonic()
            for i, sensor in enumerate(sensors):
                me.next, me.read_until = i, time.monotonic() + deadlines[i]
                ledger.read_sensor(now, sensor)
                if self._cur is not me:  # retired while stuck in that read: the new reader owns these edges
                    return
            try:
                ledger.observe(now)  # the attribution hook sees edge readings too (a snapshot right after is current)
            except Exception:  # the hook never raises by contract; the edges must be stamped anyway
                pass
            energy = ledger.snapshot()
            with cond:
                if self._cur is not me:
                    return
                for e in batch:
                    if e is not None and not e.done:
                        e.t_s, e.energy_j, e.done = now, energy, True
                me.batch, me.next, me.read_until = [], len(sensors), math.inf
                cond.notify_all()
            if self._on_pass is not None:
                try:
                    self._on_pass()
                except Exception:  # the reader must outlive a bug in the hook
                    pass
            batch = []

    def _force_locked(self, e: Edge) -> None:
        """Stamp ``e`` (and the rest of the pass in progress) now with the last values; gaps for the unread sensors."""
        now = self._clock.monotonic()
        cur = self._cur
        in_pass = cur is not None and any(x is e for x in cur.batch)
        unread = self._sensors[cur.next:] if in_pass and cur is not None else self._sensors  # queued: nothing read for it
        for sensor in unread:
            self._ledger.time_out(sensor, now)
        energy = self._ledger.snapshot()
        group = [x for x in cur.batch if x is not None] if cur is not None else []
        for x in group + [e]:
            if not x.done:
                x.t_s, x.energy_j, x.done = now, energy, True
