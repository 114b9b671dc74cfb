"""The ledger's closed gaps, coalesced per component, and their footprint records.

The first :data:`MAX_GAPS_PER_COMPONENT` gaps of a component are kept as they are; later ones
extend the last (its ``count`` and ``duration_s`` grow), so a flapping sensor cannot grow memory
without bound. Times are monotonic seconds; :meth:`GapBook.gap_records` gives seconds since the
run's start.

Failure modes: none raise. :class:`GapBook` is a mixin of
:class:`~wattprint.engine.ledger.Ledger`, which owns the lock and the open gaps.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List, Tuple

from wattprint.engine.sensors.base import Gap

__all__ = ["GapBook", "MAX_GAPS_PER_COMPONENT"]

MAX_GAPS_PER_COMPONENT = 20  # later gaps of a component are merged into its last one


class GapBook:
    """Closed gaps per component as ``[start_s, end_s, duration_s, count, reason]`` runs, with the
    open ones (``component -> (start_s, reason)``), read under :attr:`lock`."""

    lock: "threading.RLock"
    t0_s: float
    _gaps: Dict[str, List[List[Any]]]
    _open_gaps: Dict[str, Tuple[float, str]]

    def _add_gap(self, gap: Gap) -> None:
        runs = self._gaps.setdefault(gap.component_id, [])
        duration_s = max(0.0, gap.end_s - gap.start_s)
        if len(runs) < MAX_GAPS_PER_COMPONENT:
            runs.append([gap.start_s, gap.end_s, duration_s, 1, gap.reason])
        else:  # merged into the last: [start, end, summed duration, count]
            last = runs[-1]
            last[:4] = [min(last[0], gap.start_s), max(last[1], gap.end_s), last[2] + duration_s, last[3] + 1]

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
        """The gaps as footprint entries: seconds since :meth:`start`; ``count`` > 1 when gaps were merged,
        ``duration_s`` then the summed length of the merged gaps (at most ``end_s - start_s``)."""
        with self.lock:
            rows = [(cid, r[0], r[1], r[2], r[3], r[4]) for cid, runs in self._gaps.items() for r in runs]
            rows += [(cid, s, now_s, max(0.0, now_s - s), 1, r) for cid, (s, r) in self._open_gaps.items()]
            t0 = self.t0_s
        return [{"component": cid, "start_s": max(0.0, start - t0), "end_s": max(0.0, end - t0), "duration_s": max(0.0, dur),
                 "reason": reason, **({"count": count} if count > 1 else {})} for cid, start, end, dur, count, reason in sorted(rows, key=lambda x: x[1])]  # fmt: skip
