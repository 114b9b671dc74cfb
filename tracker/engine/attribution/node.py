"""Node mode's accounts: every component is the job's (share 1), so only energy, time and the lowest power are kept.

With ``attribution="node"`` there is nothing to split: an interval's job energy is its node energy,
its idle share is 1, its method ``node`` with no uncertainty. What :class:`~.split.ComponentAccount`
needs is then per component the sum of the intervals' energy ``e_j`` and length ``t_s`` and the
lowest power over the intervals (at least :data:`~.split.BASELINE_MIN_INTERVAL_S` long, and over all);
``a_j = e_j``, ``b_s = c_s = t_s``, ``methods_j = {"node": e_j}``, ``used = t_s > 0``.
:meth:`NodeAccounts.fill` writes exactly those, so the figures are those of the general path
(the same additions in the same order: bit for bit).

A tick in which every component was read at one time (the sampler's usual tick; the ledger then hands
the list itself, :meth:`NodeAccounts.observe_columns`, no dict) is a few list passes in C (``map`` over
lists in component order), not a Python loop; any other reading (part of
the components, a negative, infinite or NaN delta, a component read for the first time) goes
through the per-component loop, which mirrors :meth:`Attributor.observe` and ``_split`` exactly.

Units: joules, seconds, watts. Failure modes: none raise on finite or non-finite readings; the
caller (the attributor) holds its lock.
"""

from __future__ import annotations

import math
from itertools import repeat
from operator import add, lt, sub, truediv
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple

from wattprint.engine.attribution.split import BASELINE_MIN_INTERVAL_S, ComponentAccount

__all__ = ["NodeAccounts"]

_INF = math.inf


class NodeAccounts:
    """The running sums of every component at share 1, in component order (``ids``)."""

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = list(ids)
        n = len(self.ids)
        self._index = {cid: i for i, cid in enumerate(self.ids)}
        self._last_j: List[Optional[float]] = [None] * n
        self._last_t: Optional[List[Optional[float]]] = [None] * n  # None: every component was last read at _t_all
        self._t_all = 0.0
        self._unread = n  # components never read yet
        self._pend_j: Optional[List[float]] = None  # None: nothing pending
        self._pend_s: List[float] = [0.0] * n
        self.e_j = [0.0] * n
        self.t_s = [0.0] * n
        self.min_w = [_INF] * n  # over intervals >= BASELINE_MIN_INTERVAL_S
        self._min_short: Optional[List[float]] = None  # over all intervals; None: the same as min_w (none was shorter)

    def observe(self, now_s: float, values: Mapping[str, float], split: bool) -> None:
        """The readings ``values`` (cumulative J) at ``now_s``; ``split``: a span ends here (after them)."""
        if not (split and len(values) == len(self.ids) and list(values) == self.ids and self._one_time(now_s, list(values.values()))):
            self._observe_each(now_s, values.items())
            if split:
                self.split()

    def observe_columns(self, now_s: float, values: List[float], split: bool) -> None:
        """As :meth:`observe` with every component read: ``values`` in :attr:`ids` order (a fresh list, kept)."""
        if not (split and len(values) == len(self.ids) and self._one_time(now_s, values)):
            self._observe_each(now_s, zip(self.ids, values, strict=True))
            if split:
                self.split()

    def _one_time(self, now_s: float, vals: List[Any]) -> bool:
        """The list path of a split tick in which every component was read at ``now_s`` (``vals`` in ids
        order, kept): True when it applied the tick, False (nothing changed) for the per-component loop."""
        n = len(self.ids)
        if self._last_t is not None or self._pend_j is not None or not n:
            return False
        d_j = list(map(sub, vals, self._last_j))  # type: ignore[arg-type]  # all read: no None
        dt = now_s - self._t_all
        total = sum(d_j)
        if not (dt > 0 and total - total == 0.0):  # every delta finite (a NaN or an infinity makes it NaN)
            return False
        w = list(map(truediv, d_j, repeat(dt, n)))
        mins = self.min_w if self._min_short is None else self._min_short
        if any(map(lt, w, mins)) or not (dt >= BASELINE_MIN_INTERVAL_S or self._min_short is not None):
            return False
        # no new lowest power, so no delta below 0 (the lowest is >= 0): one addition per component
        self._last_j, self._t_all = vals, now_s
        self.e_j = list(map(add, self.e_j, d_j))
        self.t_s = list(map(add, self.t_s, repeat(dt, n)))
        if dt >= BASELINE_MIN_INTERVAL_S and self._min_short is not None and any(map(lt, w, self.min_w)):
            self.min_w = [x if x < m else m for x, m in zip(w, self.min_w)]  # noqa: B905
        return True

    def _observe_each(self, now_s: float, values: Iterable[Tuple[str, float]]) -> None:
        """The general path: each component's delta waits in the pending sums (as ``Attributor.observe``)."""
        index = self._index
        last_j = self._last_j
        last_t = self._last_t
        if last_t is None:
            last_t = self._last_t = [self._t_all] * len(self.ids)
        pend_j = self._pend_j
        if pend_j is None:
            pend_j = self._pend_j = [0.0] * len(self.ids)
        pend_s = self._pend_s
        for cid, value in values:
            i = index.get(cid)
            if i is None:
                continue
            last = last_j[i]
            if last is not None:
                pend_j[i] += max(0.0, value - last)
                pend_s[i] += max(0.0, now_s - last_t[i])  # type: ignore[operator]  # read with last_j
            else:
                self._unread -= 1
            last_j[i], last_t[i] = value, now_s

    def pending(self) -> bool:
        """True when some component's pending span is longer than 0 (a flush has something to split)."""
        return self._pend_j is not None and any(s > 0 for s in self._pend_s)

    def last_read_s(self) -> Optional[float]:
        """The latest reading's time (``None`` before any)."""
        if self._last_t is None:
            return self._t_all
        times = [t for t in self._last_t if t is not None]
        return max(times) if times else None

    def split(self) -> None:
        """End every pending span (as ``Attributor._split`` in node mode: share 1, method ``node``)."""
        pend_j = self._pend_j
        if pend_j is None:
            return
        pend_s = self._pend_s
        e_j, t_s, min_w = self.e_j, self.t_s, self.min_w
        short = self._min_short
        for i, dt in enumerate(pend_s):
            delta = pend_j[i]
            if not dt > 0 or not delta < _INF:  # ComponentAccount.add skips these (its delta is never < 0 here)
                continue
            e_j[i] += delta
            t_s[i] += dt
            power_w = delta / dt
            if dt >= BASELINE_MIN_INTERVAL_S:
                if power_w < min_w[i]:
                    min_w[i] = power_w
            elif short is None:  # the first short interval: the two minima part from here
                short = self._min_short = list(min_w)
            if short is not None and power_w < short[i]:
                short[i] = power_w
        self._pend_j = None
        self._pend_s = [0.0] * len(pend_s)
        last_t = self._last_t
        if last_t is not None and self._unread == 0 and len(set(last_t)) == 1:  # one time again: the fast path
            self._t_all, self._last_t = last_t[0], None  # type: ignore[assignment]

    def fill(self, accounts: Mapping[str, ComponentAccount]) -> None:
        """Write the sums into the component accounts (their figures are then the general path's)."""
        short = self.min_w if self._min_short is None else self._min_short
        for i, cid in enumerate(self.ids):
            acc = accounts.get(cid)
            if acc is None:
                continue
            e, t = self.e_j[i], self.t_s[i]
            acc.e_j = acc.a_j = e
            acc.b_s = acc.c_s = acc.t_s = t
            acc.min_w, acc.min_w_short = self.min_w[i], short[i]
            acc.used = t > 0
            acc.methods_j = {"node": e} if t > 0 else {}
