"""Peak power of a sensor's whole readings, judged with few float operations per tick.

A peak is the highest mean power ``(v - r) / dt`` of a component (watts) over an interval of
``dt`` seconds between two whole readings (joules ``r``, then ``v``). New peaks are records:
after a run's first minutes they are rare. So instead of recomputing every peak each tick,
:class:`PeakTracker` keeps, per component, the largest joules increment that is *not* a record
over a remembered interval ``dt_c`` (:func:`joule_limit`, exact in floats), and each tick only
compares each increment ``v - r`` with its limit (written out, :mod:`wattprint.engine.unrolled`;
no division, no new list). Only the components that pass their limit are recomputed, with the
formula itself. The limits of ``dt_c`` serve intervals from ``dt_c`` to ``dt_c * (1 + 2**-7)``
(a longer interval can only lower a mean power); other intervals take the formula for every
component, and two such ticks at about the same interval rebuild the limits for it.

The peaks are bit for bit those of ``[w if (w := (v - r) / dt) > p else p ...]`` run every time:
float division by a positive ``dt`` is monotonic in ``v - r``, so an increment at or below its
limit cannot give a power above the peak; any doubt (a limit not found, a non-finite interval)
falls back to the formula.

Failure modes: none raise; not thread-safe (the :class:`~wattprint.engine.ledger.Ledger` calls
it under its lock).
"""

from __future__ import annotations

import math
from itertools import compress
from operator import gt, ne, sub
from typing import List, Optional

from wattprint.engine.unrolled import any_above

__all__ = ["PeakTracker", "joule_limit"]

_SERVE = 2.0**-7  # limits for dt_c serve intervals up to dt_c * (1 + _SERVE)
_MARGIN = 2.0**-9  # a jittering interval: limits for a little less than the shorter one seen
_REBUILD_EVERY = 32  # judgements at least between two rebuilds of the limits (a rebuild costs ~50 formula passes)
_nextafter, _inf = math.nextafter, math.inf


def joule_limit(peak_w: float, dt_s: float) -> float:
    """The largest float ``d`` (joules) with ``d / dt_s <= peak_w`` in float division, for ``peak_w >= 0``
    and a finite ``dt_s > 0``; a smaller one (at worst ``-inf``) where a few steps do not find it."""
    c = peak_w * dt_s
    if c != c:
        return -_inf
    if c == _inf and peak_w != _inf:
        c = _nextafter(_inf, 0.0)
    for _ in range(4):
        if c / dt_s <= peak_w:
            break
        c = _nextafter(c, -_inf)
    else:
        return -_inf
    for _ in range(4):  # rounding may leave c an ulp or two short of the largest
        up = _nextafter(c, _inf)
        if up / dt_s > peak_w or up == c:
            break
        c = up
    return c


class PeakTracker:
    """The peak reference of whole readings (``ref_t``: seconds, ``ref_e``: joules) and the peaks
    (``peak_w``: watts, in column order) of ``n`` components, with the limits that make a tick cheap."""

    __slots__ = ("ref_t", "ref_e", "peak_w", "_dt", "_hi", "_lim", "_idx", "_above", "_judged", "_built_at", "_miss_dt")

    def __init__(self, n: int) -> None:
        self.ref_t: Optional[float] = None
        self.ref_e: List[float] = []
        self.peak_w = [0.0] * n
        self._dt, self._hi = _inf, -_inf  # the limits are exact for _dt and serve intervals _dt..._hi (none yet)
        self._lim: List[float] = []
        self._idx = range(n)
        self._above = any_above(n)  # v[i] - r[i] > lim[i] for some i, written out
        self._judged, self._built_at = 0, -_REBUILD_EVERY
        self._miss_dt = math.nan  # the interval of the last judgement the limits did not serve

    def judge(self, dt: float, values: List[float]) -> None:
        """Fold the mean powers from :attr:`ref_e` to ``values`` over ``dt`` seconds (>= the peak interval)
        into :attr:`peak_w`. The caller then moves the reference to ``values``."""
        ref = self.ref_e
        self._judged += 1
        rebuild: Optional[float] = None
        if self._dt <= dt <= self._hi:
            lim = self._lim
            if not self._above(values, ref, lim):
                return  # no increment above its limit: no record
            hits = list(compress(self._idx, map(gt, map(sub, values, ref), lim)))
            if len(hits) <= (len(lim) >> 3 or 1):
                peaks = self.peak_w
                for i in hits:  # the formula, for these components only
                    if (w := (values[i] - ref[i]) / dt) > peaks[i]:
                        peaks[i] = w
                        lim[i] = joule_limit(w, self._dt)
                return
            self._hi = -_inf  # many records at once (a run warming up): the formula; limits rebuilt later
        elif self._idx:  # (no components: nothing to keep limits for)
            rebuild = self._missed(dt)
        old = self.peak_w  # zip of equal lists, no strict= (the hot path)
        self.peak_w = new = [w if (w := (v - r) / dt) > p else p for p, v, r in zip(old, values, ref)]  # noqa: B905
        if rebuild is not None:
            self._lim = [joule_limit(p, rebuild) for p in new]
            self._dt, self._hi = rebuild, rebuild + rebuild * _SERVE
        elif self._hi > 0 and old != new:  # limits kept (an odd interval set records): those of the new peaks
            changed, lim = list(compress(self._idx, map(ne, old, new))), self._lim
            if len(changed) > len(lim) >> 3:
                self._hi = -_inf
                return
            for i in changed:
                lim[i] = joule_limit(new[i], self._dt)

    def _missed(self, dt: float) -> Optional[float]:
        """The limits did not serve ``dt``: the interval to rebuild them for, when the last miss was at about
        the same interval and the last rebuild is not too recent; else ``None``."""
        last, self._miss_dt = self._miss_dt, dt
        if not (abs(dt - last) <= last * _SERVE and dt < _inf and self._judged - self._built_at >= _REBUILD_EVERY):
            return None
        self._built_at = self._judged
        return dt if dt == last else min(dt, last) * (1.0 - _MARGIN)
