"""The energy ledger: the latest cumulative joules of every component.

All sensor reads go through :meth:`Ledger.read` under one lock, whether the
sampler thread or a boundary (start, stop, window edge) asks, so a window's
energy is a difference of two synchronous readings. Failures never escape:
a sensor that raises, or a component missing from a reading, opens a gap that
closes at the next good reading; counter anomalies reported by the sensors
become gaps too.
"""

from __future__ import annotations

import logging
import threading
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from wattprint.engine.sensors.base import Component, Gap, Sensor
from wattprint.engine.timeline import Timeline

__all__ = ["Ledger"]

logger = logging.getLogger("wattprint")

_PEAK_MIN_INTERVAL_S = 0.5  # peak power is judged over intervals at least this long


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
        self.gaps: List[Gap] = []
        self._open_gaps: Dict[str, Tuple[float, str]] = {}
        self.peak_power_w: Dict[str, float] = {cid: 0.0 for cid in self.ids}
        self._peak_ref: Dict[str, Tuple[float, float]] = {}
        self.timeline = Timeline(self.ids, max_timeline_points)
        self.errors_logged: set = set()

    def read(self, now_s: float, sensors: Optional[Iterable[Sensor]] = None) -> None:
        """Read ``sensors`` (all by default) at monotonic ``now_s``. Never raises."""
        with self.lock:
            for sensor in self.sensors if sensors is None else sensors:
                try:
                    values: Mapping[str, float] = sensor.read(now_s)
                    reason = "no reading"
                except Exception as err:  # a sensor must never break the run
                    values, reason = {}, f"{type(err).__name__}: {err}"
                    self._log_once(sensor.name, reason)
                for cid in self._ids_of[id(sensor)]:
                    value = values.get(cid)
                    if value is None:
                        lost = getattr(sensor, "last_error", lambda _c: None)(cid)
                        self._open_gap(cid, now_s, lost or reason)
                        continue
                    self._close_gap(cid, now_s)
                    self._update_peak(cid, value, now_s)
                    self.energy_j[cid] = value
                    self.read_at_s[cid] = now_s
                for gap in sensor.drain_gaps():
                    self.gaps.append(gap)

    def _update_peak(self, cid: str, energy_j: float, now_s: float) -> None:
        ref = self._peak_ref.get(cid)
        if ref is None:
            self._peak_ref[cid] = (now_s, energy_j)
            return
        dt = now_s - ref[0]
        if dt >= _PEAK_MIN_INTERVAL_S:
            power = (energy_j - ref[1]) / dt
            if power > self.peak_power_w[cid]:
                self.peak_power_w[cid] = power
            self._peak_ref[cid] = (now_s, energy_j)

    def _open_gap(self, cid: str, now_s: float, reason: str) -> None:
        if cid not in self._open_gaps:
            start = self.read_at_s.get(cid)
            self._open_gaps[cid] = (now_s if start is None else start, reason)
            self._log_once(cid, reason)

    def _close_gap(self, cid: str, now_s: float) -> None:
        opened = self._open_gaps.pop(cid, None)
        if opened is not None:
            self.gaps.append(Gap(cid, opened[0], now_s, opened[1]))

    def all_gaps(self, now_s: float) -> List[Gap]:
        """Closed gaps plus those still open, closed at ``now_s``."""
        with self.lock:
            return self.gaps + [Gap(cid, s, now_s, r) for cid, (s, r) in self._open_gaps.items()]

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
