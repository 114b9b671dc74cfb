"""The energy ledger: the latest cumulative joules of every component.

All sensor reads go through :meth:`Ledger.read` under one lock, whether the
sampler thread or a boundary (start, stop, window edge) asks, so a window's
energy is a difference of two synchronous readings. Failures never escape:
a sensor that raises, or a component missing from a reading, opens a gap that
closes at the next good reading; counter anomalies reported by the sensors
become gaps too.

The ledger also owns the run's baseline (the readings at :meth:`start`) and
the timeline: :meth:`append_point` and :meth:`view` take the same lock as the
reads, so a view never sees a half-appended point. Gaps are coalesced per
component: the first :data:`MAX_GAPS_PER_COMPONENT` are kept as they are, later
ones extend the last (its ``count`` and ``duration_s`` grow), so a flapping
sensor cannot grow memory without bound.

Read deadlines: each sensor is read by one thread at a time (a per-sensor
guard), and the ledger lock is not held during the read itself, only while the
result is applied. A thread that finds a sensor busy in another thread waits at
most the sensor's ``read_deadline_s`` (default :data:`DEFAULT_READ_DEADLINE_S`)
from the start of that read, then records a gap for its components (reason
``read timed out``) and goes on; once a read has run past its deadline, later
reads skip the sensor at once until it returns. :meth:`read_bounded` (used by
``stop()`` and so the SIGTERM path) runs each read in a helper thread, so even a
read that hangs right there delays the caller by at most the deadline. Window
edges read nothing on the caller's thread: :class:`wattprint.engine.edges.EdgeReader`
reads them on its own thread (:meth:`read_sensor`, :meth:`time_out`, then
:meth:`observe`); an edge read on the caller's own thread (with an injected clock)
cannot be interrupted, so a sensor that starts hanging inside that very read holds it.

Failure modes: none raise; :meth:`reinit_after_fork` gives a forked child a
fresh lock (the parent's sampler may have held the old one at fork time).
"""

from __future__ import annotations

import itertools
import logging
import math
import operator
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, cast

from wattprint.engine.sensors.base import Component, Gap, Sensor
from wattprint.engine.timeline import Point, Timeline, TimelineView

__all__ = ["Ledger", "MAX_GAPS_PER_COMPONENT", "DEFAULT_READ_DEADLINE_S", "read_deadline_s"]

logger = logging.getLogger("wattprint")

_PEAK_MIN_INTERVAL_S = 0.5  # peak power is judged over intervals at least this long
MAX_GAPS_PER_COMPONENT = 20  # later gaps of a component are merged into its last one
DEFAULT_READ_DEADLINE_S = 1.0  # a sensor read may hold a boundary this long, seconds


def read_deadline_s(sensor: Sensor) -> float:
    """The sensor's read deadline: its ``read_deadline_s`` attribute when a positive number, else the default."""
    value = getattr(sensor, "read_deadline_s", None)
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_READ_DEADLINE_S
    return v if v > 0 and v == v else DEFAULT_READ_DEADLINE_S


class Ledger:
    """Cumulative energy per component, gaps, peaks and the timeline.

    Args:
        sensors: the open sensors.
        max_timeline_points: bound on the timeline's length.
    """

    def __init__(self, sensors: Sequence[Sensor], max_timeline_points: int = 2048) -> None:
        self.sensors = list(sensors)
        self.lock = threading.RLock()
        self.components: List[Component] = []
        self._owner: Dict[str, Sensor] = {}
        self._ids_of: Dict[int, List[str]] = {}  # id(sensor) -> its component ids, fixed at open
        self._guard: Dict[int, threading.Lock] = {id(s): threading.Lock() for s in self.sensors}
        self._busy_since: Dict[int, float] = {}  # id(sensor) -> time.monotonic() when its current read began
        self._deadline: Dict[int, float] = {id(s): read_deadline_s(s) for s in self.sensors}
        self._baseline_list: Optional[List[float]] = None  # baseline_j in column order (built on first use)
        self.bounded = False  # True: reads of all sensors run in helper threads (stop() and the signal path)
        for sensor in self.sensors:
            comps = sensor.components()
            self._ids_of[id(sensor)] = [c.id for c in comps]
            for comp in comps:
                if comp.id in self._owner:
                    raise ValueError(f"two sensors report component {comp.id!r}")
                self._owner[comp.id] = sensor
                self.components.append(comp)
        self.ids = [c.id for c in self.components]
        self.energy_j: Dict[str, float] = {cid: 0.0 for cid in self.ids}  # since each sensor opened
        self.read_at_s: Dict[str, Optional[float]] = {cid: None for cid in self.ids}
        self._gaps: Dict[str, List[List[Any]]] = {}  # cid -> [start_s, end_s, duration_s, count, reason]
        self._n_gaps = 0
        self._open_gaps: Dict[str, Tuple[float, str]] = {}
        self._peak_one: Dict[str, float] = {cid: 0.0 for cid in self.ids}  # peaks from per-component reads
        self._sensor_ref: Dict[int, Tuple[float, List[float]]] = {}  # id(sensor) -> (time, energies) of the peak reference
        self._sensor_peak: Dict[int, List[float]] = {id(s): [0.0] * len(self._ids_of[id(s)]) for s in self.sensors}
        self._peak_ref: Dict[str, Tuple[float, float]] = {}
        self.timeline = Timeline(self.ids, max_timeline_points)
        self.observer: Optional[Callable[[float, Mapping[str, float]], None]] = None  # attribution's hook; never raises
        self.errors_logged: set = set()
        self.baseline_j: Dict[str, float] = {cid: 0.0 for cid in self.ids}
        self.t0_s = 0.0
        self._last_point_s = -math.inf

    def start(self, now_s: float) -> None:
        """The first reading, at monotonic ``now_s``: it becomes the baseline and the timeline's first point."""
        with self.lock:
            self.read(now_s)
            self.t0_s = now_s
            self.baseline_j = dict(self.energy_j)
            self._baseline_list = None
            self.append_point(now_s, 0)

    def append_point(self, now_s: float, steps: int, min_interval_s: float = -math.inf) -> bool:
        """Append the energy since the baseline at ``now_s`` to the timeline, unless the last point
        is less than ``min_interval_s`` seconds old. True if a point was appended."""
        with self.lock:
            if now_s - self._last_point_s < min_interval_s:
                return False
            self._last_point_s = now_s
            base = self._baseline_list
            if base is None:
                base = self._baseline_list = [self.baseline_j.get(c, 0.0) for c in self.ids]
            self.timeline.append(now_s - self.t0_s, steps, list(map(operator.sub, map(self.energy_j.__getitem__, self.ids), base)))
            return True

    def drain_journal(self) -> Tuple[List[Point], bool]:
        """``(points, rewrite)`` for an incremental timeline journal, under the lock.

        The first call turns journaling on and returns every kept point with ``rewrite``
        true (start the journal afresh); later calls return the points kept since, and
        ``rewrite`` true only when the outbox overflowed (then ``points`` is everything)."""
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
            return {cid: self.energy_j[cid] - self.baseline_j.get(cid, 0.0) for cid in self.ids}

    def reinit_after_fork(self) -> None:
        """In a forked child: fresh locks (the parent's sampler thread may have held these)."""
        self.lock = threading.RLock()
        self._guard = {k: threading.Lock() for k in self._guard}
        self._busy_since = {}

    def read(self, now_s: float, sensors: Optional[Iterable[Sensor]] = None) -> None:
        """Read ``sensors`` (all by default) at monotonic ``now_s`` on this thread. Never raises.

        A sensor busy in another thread is waited for at most its deadline, then recorded as a gap.
        Once :attr:`bounded` is set (the sampler sets it when it stops), a read of all sensors
        goes through :meth:`read_bounded`."""
        if sensors is None and self.bounded:
            self.read_bounded(now_s)
        else:
            self._read_direct(now_s, self.sensors if sensors is None else sensors)
        self.observe(now_s)

    def observe(self, now_s: float) -> None:
        """Hand the components read at ``now_s`` to the attribution hook (:attr:`observer`), if any."""
        if self.observer is not None:  # attribution sees each interval's readings
            with self.lock:
                done = {cid: self.energy_j[cid] for cid in self.ids if self.read_at_s.get(cid) == now_s}
            self.observer(now_s, done)

    def read_sensor(self, now_s: float, sensor: Sensor) -> None:
        """Read one sensor on this thread (busy elsewhere: waited for at most its deadline, then a gap)."""
        self._read_direct(now_s, (sensor,))

    def deadline_of(self, sensor: Sensor) -> float:
        """The sensor's read deadline, seconds."""
        return self._deadline.get(id(sensor), DEFAULT_READ_DEADLINE_S)

    def time_out(self, sensor: Sensor, now_s: float) -> None:
        """Record that ``sensor``'s read at ``now_s`` did not come in by its deadline (a gap)."""
        self._timed_out(sensor, now_s)

    def _read_direct(self, now_s: float, sensors: Iterable[Sensor]) -> None:
        for sensor in sensors:
            key = id(sensor)
            guard = self._guard.get(key)
            if guard is None:  # a sensor the ledger does not own: ignored
                continue
            if not guard.acquire(False) and not self._wait_for(sensor, guard):
                self._timed_out(sensor, now_s)
                continue
            try:
                self._read_one(sensor, key, now_s)
            finally:
                self._busy_since.pop(key, None)
                guard.release()

    def read_bounded(self, now_s: float) -> None:
        """Read every sensor, each in a helper thread, waiting at most its deadline. Never raises.

        For ``stop()`` and the signal path: a sensor that hangs, even one that starts
        hanging in this call, costs at most its deadline and is recorded as a gap."""
        threads = []
        for sensor in self.sensors:
            th = threading.Thread(target=self._read_direct, args=(now_s, [sensor]), name="wattprint-read", daemon=True)
            th.start()
            threads.append((sensor, th, time.monotonic() + self._deadline[id(sensor)]))
        for sensor, th, until in threads:
            th.join(max(0.0, until - time.monotonic()))
            if th.is_alive():
                self._timed_out(sensor, now_s)

    def stuck(self) -> bool:
        """True when some sensor read has run past its deadline (and is still running)."""
        now = time.monotonic()
        return any(now - t0 > self._deadline.get(k, DEFAULT_READ_DEADLINE_S) for k, t0 in list(self._busy_since.items()))

    def _wait_for(self, sensor: Sensor, guard: threading.Lock) -> bool:
        """Wait for another thread's read of ``sensor`` until its deadline; True once we hold the guard."""
        key = id(sensor)
        began = self._busy_since.get(key)
        left = self._deadline[key] - (time.monotonic() - began) if began is not None else self._deadline[key]
        return left > 0 and guard.acquire(timeout=left)

    def _timed_out(self, sensor: Sensor, now_s: float) -> None:
        reason = f"read timed out after {self._deadline[id(sensor)]:g} s (the sensor hung)"
        with self.lock:
            for cid in self._ids_of[id(sensor)]:
                self._open_gap(cid, now_s, reason)

    def _read_one(self, sensor: Sensor, key: int, now_s: float) -> None:
        self._busy_since[key] = time.monotonic()
        try:
            values: Mapping[str, float] = sensor.read(now_s)
            reason = "no reading"
        except Exception as err:  # a sensor must never break the run
            values, reason = {}, f"{type(err).__name__}: {err}"
            self._log_once(sensor.name, reason)
        ids = self._ids_of[key]
        got = list(map(values.get, ids))
        with self.lock:
            if None not in got:
                vals = cast("List[float]", got)  # every component read: bulk updates, no per-component Python loop
                # zips of lists built to len(ids): no strict= (its keyword parsing costs ~0.15 us a call, in every tick)
                self.energy_j.update(zip(ids, vals))  # noqa: B905
                self.read_at_s.update(zip(ids, itertools.repeat(now_s)))
                if self._open_gaps:
                    for cid in ids:
                        if cid in self._open_gaps:
                            self._close_gap(cid, now_s)
                ref = self._sensor_ref.get(key)
                if ref is None:
                    self._sensor_ref[key] = (now_s, vals)
                elif now_s - ref[0] >= _PEAK_MIN_INTERVAL_S:
                    dt = now_s - ref[0]  # max(peak, power) as a comprehension: a third of map(max)'s cost per component
                    self._sensor_peak[key] = [w if (w := (v - r) / dt) > p else p for p, v, r in zip(self._sensor_peak[key], vals, ref[1])]  # noqa: B905
                    self._sensor_ref[key] = (now_s, vals)
            else:
                self._sensor_ref.pop(key, None)  # peaks restart after the hole
                for cid, value in zip(ids, got, strict=True):
                    if value is None:
                        self._open_gap(cid, now_s, sensor.last_error(cid) or reason)
                        continue
                    self._close_gap(cid, now_s)
                    self._update_peak(cid, value, now_s)
                    self.energy_j[cid] = value
                    self.read_at_s[cid] = now_s
            if getattr(sensor, "_gaps", True):
                for gap in sensor.drain_gaps():
                    self._add_gap(gap)

    @property
    def peak_power_w(self) -> Dict[str, float]:
        """Highest mean power of each component over an interval of at least 0.5 s, watts."""
        with self.lock:
            out = dict(self._peak_one)
            for key, peaks in self._sensor_peak.items():
                for cid, p in zip(self._ids_of[key], peaks, strict=True):
                    if p > out.get(cid, 0.0):
                        out[cid] = p
            return out

    def _update_peak(self, cid: str, energy_j: float, now_s: float) -> None:
        ref = self._peak_ref.get(cid)
        if ref is None:
            self._peak_ref[cid] = (now_s, energy_j)
            return
        dt = now_s - ref[0]
        if dt >= _PEAK_MIN_INTERVAL_S:
            power = (energy_j - ref[1]) / dt
            if power > self._peak_one.get(cid, 0.0):
                self._peak_one[cid] = power
            self._peak_ref[cid] = (now_s, energy_j)

    def _open_gap(self, cid: str, now_s: float, reason: str) -> None:
        if cid not in self._open_gaps:
            start = self.read_at_s.get(cid)
            self._open_gaps[cid] = (now_s if start is None else start, reason)
            self._log_once(cid, reason)

    def _close_gap(self, cid: str, now_s: float) -> None:
        opened = self._open_gaps.pop(cid, None)
        if opened is not None:
            self._add_gap(Gap(cid, opened[0], now_s, opened[1]))

    def _add_gap(self, gap: Gap) -> None:
        runs = self._gaps.setdefault(gap.component_id, [])
        duration_s = max(0.0, gap.end_s - gap.start_s)
        if len(runs) < MAX_GAPS_PER_COMPONENT:
            runs.append([gap.start_s, gap.end_s, duration_s, 1, gap.reason])
            self._n_gaps += 1
            return
        last = runs[-1]
        last[0], last[1] = min(last[0], gap.start_s), max(last[1], gap.end_s)
        last[2] += duration_s
        last[3] += 1

    @property
    def gaps(self) -> List[Gap]:
        """The closed gaps (coalesced), oldest first."""
        with self.lock:
            return [Gap(cid, r[0], r[1], r[4]) for cid, runs in self._gaps.items() for r in runs]

    def all_gaps(self, now_s: float) -> List[Gap]:
        """Closed gaps plus those still open, closed at ``now_s``."""
        with self.lock:
            return self.gaps + [Gap(cid, s, now_s, r) for cid, (s, r) in self._open_gaps.items()]

    def gap_records(self, now_s: float) -> List[Dict[str, Any]]:
        """The gaps as footprint entries: seconds since :meth:`start`; ``count`` > 1 when gaps were merged.

        ``duration_s`` is the summed length of the merged gaps (at most ``end_s - start_s``)."""
        with self.lock:
            rows = [(cid, r[0], r[1], r[2], r[3], r[4]) for cid, runs in self._gaps.items() for r in runs]
            rows += [(cid, s, now_s, max(0.0, now_s - s), 1, r) for cid, (s, r) in self._open_gaps.items()]
            t0 = self.t0_s
        out: List[Dict[str, Any]] = []
        for cid, start, end, dur, count, reason in sorted(rows, key=lambda x: x[1]):
            rec: Dict[str, Any] = {
                "component": cid,
                "start_s": max(0.0, start - t0),
                "end_s": max(0.0, end - t0),
                "duration_s": max(0.0, dur),
                "reason": reason,
            }
            if count > 1:
                rec["count"] = count
            out.append(rec)
        return out

    def snapshot(self) -> Dict[str, float]:
        with self.lock:
            return dict(self.energy_j)

    def _log_once(self, key: str, reason: str) -> None:
        if key not in self.errors_logged:
            self.errors_logged.add(key)
            logger.warning("wattprint: %s could not be read (%s); the gap is recorded and the run goes on", key, reason)

    def close(self) -> None:
        for sensor in self.sensors:
            try:
                sensor.close()
            except Exception:
                pass
