"""The energy ledger: the latest cumulative joules of every component.

All sensor reads go through :meth:`Ledger.read` under one lock, whether the sampler thread or a boundary (start, stop, window edge)
asks, so a window's energy is a difference of two synchronous readings. Failures never escape: a sensor that raises, or a component
missing from a reading, opens a gap that closes at the next good reading; counter anomalies reported by the sensors become gaps too.
Energies live in one list in component order (:meth:`Ledger.readings` copies it, with the read times); a reading in which every
component of a sensor answered (a *whole* one) is one slice, one time and one peak test for that sensor (:mod:`.peaks`: new peaks
are records, so mostly a comparison of the increments with cached limits, made from C).

The ledger also owns the run's baseline (the readings at :meth:`start`) and the timeline: :meth:`append_point` and :meth:`view` take
the same lock as the reads, so a view never sees a half-appended point. Gaps are coalesced per component
(:class:`~wattprint.engine.gaps.GapBook`), so a flapping sensor cannot grow memory without bound.

Read deadlines: each sensor is read by one thread at a time (a per-sensor guard), and the ledger lock is not held during the read
itself, only while the result is applied. A thread that finds a sensor busy in another thread waits at most the sensor's
``read_deadline_s`` (default :data:`DEFAULT_READ_DEADLINE_S`) from the start of that read, then records a gap (``read timed out``)
and goes on; once a read has run past its deadline, later reads skip the sensor at once until it returns. :meth:`read_bounded`
(``stop()``, the SIGTERM path) runs each read in a helper thread, so even a read that hangs right there costs at most the deadline.
Window edges are read by :class:`wattprint.engine.edges.EdgeReader` on its own thread (:meth:`read_sensor`, :meth:`time_out`, then
:meth:`observe`); an edge read on the caller's thread (an injected clock) cannot be interrupted: a read that hangs there holds it.

Failure modes: none raise; :meth:`reinit_after_fork` gives a forked child fresh locks (the parent's sampler may have held them).
"""

from __future__ import annotations

import contextlib
import logging
import math
import operator
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from wattprint.engine.gaps import MAX_GAPS_PER_COMPONENT, GapBook
from wattprint.engine.peaks import PeakTracker
from wattprint.engine.sensors.base import Component, Gap, Sensor
from wattprint.engine.timeline import Point, Timeline, TimelineView

__all__ = ["Ledger", "MAX_GAPS_PER_COMPONENT", "DEFAULT_READ_DEADLINE_S", "read_deadline_s"]

logger = logging.getLogger("wattprint")

_PEAK_MIN_INTERVAL_S = 0.5  # peak power is judged over intervals at least this long
DEFAULT_READ_DEADLINE_S = 1.0  # a sensor read may hold a boundary this long, seconds
_monotonic = time.monotonic  # the read guard's clock (a local name: it is read in every sensor read)


def read_deadline_s(sensor: Sensor) -> float:
    """The sensor's read deadline: its ``read_deadline_s`` attribute when a positive number, else the default."""
    value = getattr(sensor, "read_deadline_s", None)
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_READ_DEADLINE_S
    return v if v > 0 and v == v else DEFAULT_READ_DEADLINE_S


class _Slot(PeakTracker):
    """One sensor's place in the ledger: its columns ``lo:hi``, read guard and deadline, and the
    state of its whole readings (every component answered): their time, and the peaks (:class:`PeakTracker`)."""

    __slots__ = ("sensor", "ids", "lo", "hi", "guard", "deadline_s", "busy_since", "read_at_s", "columns")

    def __init__(self, sensor: Sensor, ids: List[str], lo: int) -> None:
        super().__init__(len(ids))
        self.sensor, self.ids, self.lo, self.hi = sensor, ids, lo, lo + len(ids)
        self.guard = threading.Lock()
        self.deadline_s = read_deadline_s(sensor)
        self.busy_since: Optional[float] = None  # time.monotonic() when its current read began
        self.read_at_s: Optional[float] = None  # time of the last whole reading; None: per component (Ledger._t)
        fast = getattr(sensor, "read_columns", None)  # a list-returning read (ChannelSensor's), when its columns are ours
        self.columns: Optional[Callable[[float], Any]] = fast if list(getattr(sensor, "column_ids", ())) == ids else None


class Ledger(GapBook):
    """Cumulative energy per component, gaps, peaks and the timeline.

    Energies are kept as one list in :attr:`ids` order (:attr:`energy_j` and :attr:`read_at_s` are dicts made on each access,
    :meth:`readings` two list copies); a whole reading of a sensor is one slice assignment.

    Args:
        sensors: the open sensors.
        max_timeline_points: bound on the timeline's length.
    """

    def __init__(self, sensors: Sequence[Sensor], max_timeline_points: int = 2048) -> None:
        self.sensors = list(sensors)
        self.lock = threading.RLock()
        self.components: List[Component] = []
        self._slots: Dict[int, _Slot] = {}  # id(sensor) -> its slot
        for sensor in self.sensors:
            comps = sensor.components()
            self._slots[id(sensor)] = _Slot(sensor, [c.id for c in comps], len(self.components))
            self.components += comps
        self.ids = [c.id for c in self.components]
        if len(set(self.ids)) != len(self.ids):
            raise ValueError(f"two sensors report component {next(c for c in self.ids if self.ids.count(c) > 1)!r}")
        self._slot_list = list(self._slots.values())
        self._col = {cid: i for i, cid in enumerate(self.ids)}
        self._slot_of = {cid: s for s in self._slot_list for cid in s.ids}
        self._e: List[float] = [0.0] * len(self.ids)  # joules since each sensor opened, in ids order
        self._t: List[Optional[float]] = [None] * len(self.ids)  # last read per component (where its slot's read_at_s is None)
        self._baseline_list: Optional[List[float]] = None  # baseline_j in column order (built on first use)
        self._base_zero = False  # every baseline is +0.0 (counters start there): timeline points need no subtraction
        self.bounded = False  # True: reads of all sensors run in helper threads (stop() and the signal path)
        self._gaps: Dict[str, List[List[Any]]] = {}  # cid -> [start_s, end_s, duration_s, count, reason]
        self._open_gaps: Dict[str, Tuple[float, str]] = {}
        self._peak_one: Dict[str, float] = {cid: 0.0 for cid in self.ids}  # peaks from per-component reads
        self._peak_ref: Dict[str, Tuple[float, float]] = {}
        self.timeline = Timeline(self.ids, max_timeline_points)
        self.observer: Optional[Callable[[float, Mapping[str, float]], None]] = None  # attribution's hook; never raises
        self._columns: Optional[Tuple[Callable[..., Any], Callable[[float, List[float]], None]]] = None  # see set_observer
        self.errors_logged: set = set()
        self.baseline_j: Dict[str, float] = {cid: 0.0 for cid in self.ids}
        self.t0_s, self._last_point_s = 0.0, -math.inf

    @property
    def energy_j(self) -> Dict[str, float]:
        """Joules per component since each sensor opened, at its last reading (a fresh dict)."""
        with self.lock:
            return dict(zip(self.ids, self._e, strict=True))

    @property
    def read_at_s(self) -> Dict[str, Optional[float]]:
        """Monotonic time of each component's last good reading, seconds (``None``: never read; a fresh dict)."""
        return dict(zip(self.ids, self.readings()[1], strict=True))

    def readings(self) -> Tuple[List[float], List[Optional[float]]]:
        """:attr:`energy_j` and :attr:`read_at_s` as two fresh lists in :attr:`ids` order, taken together under the lock (no dict)."""
        times: List[Optional[float]] = []
        with self.lock:
            for slot in self._slot_list:  # in ids order
                t = slot.read_at_s
                times += self._t[slot.lo : slot.hi] if t is None else [t] * (slot.hi - slot.lo)
            return self._e[:], times

    def start(self, now_s: float) -> None:
        """The first reading, at monotonic ``now_s``: it becomes the baseline and the timeline's first point."""
        with self.lock:
            self.read(now_s)
            self.t0_s = now_s
            self.baseline_j = self.energy_j
            self._baseline_list = None
            self.append_point(now_s, 0)

    def append_point(self, now_s: float, steps: int, min_interval_s: float = -math.inf) -> bool:
        """Append the energy since the baseline at ``now_s`` to the timeline, unless the last point
        is less than ``min_interval_s`` seconds old. True if a point was appended."""
        lock = self.lock
        lock.acquire()  # not `with`: half its cost, once a tick
        try:
            if now_s - self._last_point_s < min_interval_s:
                return False
            self._last_point_s = now_s
            base = self._baseline_list
            if base is None:
                base = self._baseline_list = [self.baseline_j.get(c, 0.0) for c in self.ids]
                self._base_zero = all(b == 0 and math.copysign(1.0, b) > 0 for b in base)  # e - (+0.0) is e, bit for bit
            self.timeline.append(now_s - self.t0_s, steps, tuple(self._e) if self._base_zero else tuple(map(operator.sub, self._e, base)))
            return True
        finally:
            lock.release()

    def drain_journal(self) -> Tuple[List[Point], bool]:
        """``(points, rewrite)`` for an incremental timeline journal, under the lock: the first call turns
        journaling on and returns every kept point with ``rewrite`` true (start afresh); later calls return
        the points kept since, ``rewrite`` true only when the outbox overflowed (then ``points`` is everything)."""
        with self.lock:
            tl = self.timeline
            if tl._outbox is not None:
                new, overflowed = tl.drain_new()
                if not overflowed:
                    return new, False
            tl.journal()
            return list(zip(tl._t, tl._steps, tl._e, strict=True)), True

    def view(self) -> TimelineView:
        """A frozen copy of the timeline, taken under the lock."""
        with self.lock:
            return self.timeline.view()

    def energy_since_start_j(self) -> Dict[str, float]:
        """Joules per component since :meth:`start` (at the last reading)."""
        with self.lock:
            return {cid: e - self.baseline_j.get(cid, 0.0) for cid, e in zip(self.ids, self._e, strict=True)}

    def reinit_after_fork(self) -> None:
        """In a forked child: fresh locks (the parent's sampler thread may have held these)."""
        self.lock = threading.RLock()
        for slot in self._slot_list:
            slot.guard, slot.busy_since = threading.Lock(), None

    def read(self, now_s: float, sensors: Optional[Iterable[Sensor]] = None) -> None:
        """Read ``sensors`` (all by default) at monotonic ``now_s`` on this thread. Never raises. A sensor busy
        in another thread is waited for at most its deadline, then recorded as a gap. Once :attr:`bounded` is
        set (the sampler sets it when it stops), a read of all sensors goes through :meth:`read_bounded`."""
        if sensors is None and self.bounded:
            self.read_bounded(now_s)
        else:
            self._read_direct(now_s, self.sensors if sensors is None else sensors)
        if self.observer is not None:
            self.observe(now_s)

    def set_observer(self, observer: Optional[Callable[[float, Mapping[str, float]], None]],
                     columns: Optional[Callable[[float, List[float]], None]] = None) -> None:  # fmt: skip
        """Hook ``observer`` (:attr:`observer`); ``columns(now_s, joules)``, if given, is called instead at a read in which every
        component was read at ``now_s`` (a fresh list in :attr:`ids` order, no dict), while :attr:`observer` is still ``observer``."""
        self.observer = observer
        self._columns = (observer, columns) if observer is not None and columns is not None else None

    def observe(self, now_s: float) -> None:
        """Hand the components read at ``now_s`` to the attribution hook (:attr:`observer`), if any."""
        observer, hook = self.observer, self._columns
        if observer is None:
            return
        columns = hook[1] if hook is not None and hook[0] is observer else None
        done: Dict[str, float] = {}  # attribution sees each interval's readings, in ids order
        with self.lock:
            e, t = self._e, self._t
            if columns is not None and all(slot.read_at_s == now_s for slot in self._slot_list):
                values = e[:]  # every component read at now_s (the sampler's usual tick): the list, no dict
            else:
                columns = None
                for slot in self._slot_list:
                    if slot.read_at_s is None:
                        done.update((self.ids[i], e[i]) for i in range(slot.lo, slot.hi) if t[i] == now_s)
                    elif slot.read_at_s == now_s:
                        done.update(zip(slot.ids, e[slot.lo : slot.hi]))  # noqa: B905
        columns(now_s, values) if columns is not None else observer(now_s, done)

    def read_sensor(self, now_s: float, sensor: Sensor) -> None:
        """Read one sensor on this thread (busy elsewhere: waited for at most its deadline, then a gap)."""
        self._read_direct(now_s, (sensor,))

    def deadline_of(self, sensor: Sensor) -> float:
        """The sensor's read deadline, seconds."""
        return self._slots[id(sensor)].deadline_s if id(sensor) in self._slots else DEFAULT_READ_DEADLINE_S

    def time_out(self, sensor: Sensor, now_s: float) -> None:
        """Record that ``sensor``'s read at ``now_s`` did not come in by its deadline (a gap)."""
        self._timed_out(self._slots[id(sensor)], now_s)

    def read_bounded(self, now_s: float) -> None:
        """Read every sensor, each in a helper thread, waiting at most its deadline. Never raises. For ``stop()``
        and the signal path: a sensor that hangs, even in this call, costs at most its deadline (and a gap)."""
        threads = []
        for slot in self._slot_list:
            th = threading.Thread(target=self._read_direct, args=(now_s, [slot.sensor]), name="wattprint-read", daemon=True)
            th.start()
            threads.append((slot, th, time.monotonic() + slot.deadline_s))
        for slot, th, until in threads:
            th.join(max(0.0, until - time.monotonic()))
            if th.is_alive():
                self._timed_out(slot, now_s)

    def stuck(self) -> bool:
        """True when some sensor read has run past its deadline (and is still running)."""
        now = time.monotonic()
        busy = [(s.busy_since, s.deadline_s) for s in self._slot_list if s.busy_since is not None]
        return any(now - t0 > deadline_s for t0, deadline_s in busy)

    def _wait_for(self, slot: _Slot) -> bool:
        """Wait for another thread's read of the slot's sensor until its deadline; True once we hold the guard."""
        began = slot.busy_since
        left = slot.deadline_s - (time.monotonic() - began) if began is not None else slot.deadline_s
        return left > 0 and slot.guard.acquire(timeout=left)

    def _timed_out(self, slot: _Slot, now_s: float) -> None:
        reason = f"read timed out after {slot.deadline_s:g} s (the sensor hung)"
        with self.lock:
            for cid in slot.ids:
                self._open_gap(cid, now_s, reason)

    def _read_direct(self, now_s: float, sensors: Iterable[Sensor]) -> None:
        slots = self._slots
        for sensor in sensors:
            slot = slots.get(id(sensor))
            if slot is None:  # a sensor the ledger does not own: ignored
                continue
            guard = slot.guard
            if not guard.acquire(False) and not self._wait_for(slot):
                self._timed_out(slot, now_s)
                continue
            try:  # the guard is held until the reading is applied: one sensor's readings land in order
                slot.busy_since = _monotonic()
                columns = slot.columns  # the list-returning read, unless the instance's read was replaced (a test's patch)
                if columns is not None and "read" in sensor.__dict__:
                    columns = None
                try:
                    values: Any = sensor.read(now_s) if columns is None else columns(now_s)
                    reason = "no reading"
                except Exception as err:  # a sensor must never break the run
                    values, reason = {}, f"{type(err).__name__}: {err}"
                    self._log_once(sensor.name, reason)
                whole = type(values) is list
                if not whole:  # a mapping: in column order, None where a component is missing
                    values = list(map(values.get, slot.ids))
                    whole = None not in values
                elif columns is None:  # read_columns' lists hold no None (its contract): no scan
                    whole = None not in values
                lock = self.lock
                lock.acquire()  # not `with`: half its cost, once a tick
                try:
                    if not whole:
                        self._read_partly(slot, sensor, values, now_s, reason)
                    else:  # a whole reading: one slice, one time, one peak test; no per-component dict
                        self._e[slot.lo : slot.hi] = values
                        slot.read_at_s = now_s
                        if self._open_gaps:
                            for cid in slot.ids:
                                self._close_gap(cid, now_s)
                        ref_t = slot.ref_t
                        if ref_t is None:
                            slot.ref_t, slot.ref_e = now_s, values
                        elif now_s - ref_t >= _PEAK_MIN_INTERVAL_S:
                            slot.judge(now_s - ref_t, values)  # new peaks are records: mostly a test of limits, from C
                            slot.ref_t, slot.ref_e = now_s, values
                    if getattr(sensor, "_gaps", True):
                        for gap in sensor.drain_gaps():
                            self._add_gap(gap)
                finally:
                    lock.release()
            finally:
                slot.busy_since = None
                guard.release()

    def _read_partly(self, slot: _Slot, sensor: Sensor, got: List[Optional[float]], now_s: float, reason: str) -> None:
        """Some components are missing: gaps for those, per-component peaks and times for the rest (under the lock)."""
        slot.ref_t = None  # peaks of whole readings restart after the hole
        if slot.read_at_s is not None:  # the times go per component from here
            self._t[slot.lo : slot.hi] = [slot.read_at_s] * (slot.hi - slot.lo)
            slot.read_at_s = None
        for i, (cid, value) in enumerate(zip(slot.ids, got, strict=True), slot.lo):
            if value is None:
                self._open_gap(cid, now_s, sensor.last_error(cid) or reason)
                continue
            self._close_gap(cid, now_s)
            self._update_peak(cid, value, now_s)
            self._e[i], self._t[i] = value, now_s

    @property
    def peak_power_w(self) -> Dict[str, float]:
        """Highest mean power of each component over an interval of at least 0.5 s, watts."""
        with self.lock:
            out = dict(self._peak_one)
            for slot in self._slot_list:  # ids are unique across slots: each pair is checked against _peak_one's value
                out.update((cid, p) for cid, p in zip(slot.ids, slot.peak_w, strict=True) if p > out.get(cid, 0.0))
            return out

    def _update_peak(self, cid: str, energy_j: float, now_s: float) -> None:
        ref = self._peak_ref.get(cid)
        if ref is None or now_s - ref[0] >= _PEAK_MIN_INTERVAL_S:
            if ref is not None and (power := (energy_j - ref[1]) / (now_s - ref[0])) > self._peak_one.get(cid, 0.0):
                self._peak_one[cid] = power
            self._peak_ref[cid] = (now_s, energy_j)

    def _open_gap(self, cid: str, now_s: float, reason: str) -> None:
        if cid not in self._open_gaps:  # the gap starts at the component's last reading (now_s if it has none)
            start = self._t[self._col[cid]] if (t := self._slot_of[cid].read_at_s) is None else t
            self._open_gaps[cid] = (now_s if start is None else start, reason)
            self._log_once(cid, reason)

    def _close_gap(self, cid: str, now_s: float) -> None:
        if (opened := self._open_gaps.pop(cid, None)) is not None:
            self._add_gap(Gap(cid, opened[0], now_s, opened[1]))

    def snapshot(self) -> Dict[str, float]:
        """A copy of :attr:`energy_j`."""
        return self.energy_j

    def _log_once(self, key: str, reason: str) -> None:
        if key not in self.errors_logged:
            self.errors_logged.add(key)
            logger.warning("wattprint: %s could not be read (%s); the gap is recorded and the run goes on", key, reason)

    def close(self) -> None:
        for sensor in self.sensors:
            with contextlib.suppress(Exception):
                sensor.close()
