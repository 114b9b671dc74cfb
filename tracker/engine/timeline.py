"""A bounded timeline of cumulative energy per component, at uniform resolution.

Each point is ``(t_s, steps, energies_j)`` with ``t_s`` seconds since the run
started and ``energies_j`` the cumulative joules of each component at that
moment. Because the values are cumulative, dropping points loses only time
resolution, never energy. Power between two points is ``ΔE / Δt``.

Uniform resolution: point ``n`` (the ``n``-th appended, from 0) is *kept* when
``n`` is a multiple of the current ``stride``; the newest point is always shown
(held as a *pending* point until the next kept one replaces it). When the kept
points reach ``max_points`` every other one is dropped and the stride doubles,
so the kept points are always the multiples of the stride: any two equal spans
of a regularly sampled run hold about the same number of points, however long
the run (at 10^8 points and ``max_points`` 2048 the stride is 2^16). Memory is
``O(max_points)``; the stride is at most the number of points appended.

For incremental checkpoints the timeline can *journal*: every kept point is
also queued in an outbox (bounded by ``outbox_limit``) that
:meth:`Timeline.drain_new` empties.

Failure modes: a :class:`Timeline` is not thread-safe; the
:class:`~wattprint.engine.ledger.Ledger` that owns it serialises ``append`` and
``view`` under its lock (use ``Ledger.append_point`` and ``Ledger.view``). A
point older than the last one is dropped. An outbox that overflows (nobody
drained it) is cleared and :meth:`drain_new` reports the overflow.
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

__all__ = ["Timeline", "TimelineView", "Point", "timeline_columns"]

Point = Tuple[float, int, Tuple[float, ...]]


class Timeline:
    """Bounded, uniformly downsampled store of cumulative energy readings.

    Args:
        component_ids: the components, in column order.
        max_points: the most points kept (>= 4).
    """

    __slots__ = ("component_ids", "max_points", "_t", "_steps", "_e", "_stride", "_seen", "_pending", "_outbox", "_overflow", "outbox_limit")

    def __init__(self, component_ids: Sequence[str], max_points: int = 2048) -> None:
        if max_points < 4:
            raise ValueError("max_points must be >= 4")
        self.component_ids = list(component_ids)
        self.max_points = max_points
        self._t: List[float] = []
        self._steps: List[int] = []
        self._e: List[Tuple[float, ...]] = []
        self._stride = 1  # points appended per point kept
        self._seen = 0  # points appended (not dropped as out of order)
        self._pending: Optional[Point] = None  # the newest point, when it is not a kept one
        self._outbox: Optional[List[Point]] = None  # kept points not yet journaled (None: not journaling)
        self._overflow = False
        self.outbox_limit = max(4 * max_points, 1024)  # kept points queued at most, between two drains

    def __len__(self) -> int:
        return len(self._t) + (self._pending is not None)

    @property
    def stride(self) -> int:
        return self._stride

    @property
    def seen(self) -> int:
        """Points appended so far (kept or not)."""
        return self._seen

    def journal(self, on: bool = True) -> None:
        """Start (or stop) queueing kept points for :meth:`drain_new`."""
        self._outbox = [] if on else None
        self._overflow = False

    def append(self, t_s: float, steps: int, energies_j: Sequence[float]) -> None:
        pending = self._pending
        last_t = pending[0] if pending is not None else (self._t[-1] if self._t else None)
        if last_t is not None and t_s < last_t:
            return  # never go back in time (a boundary read raced a sample)
        n = self._seen
        self._seen = n + 1
        if n % self._stride:
            self._pending = (t_s, steps, tuple(energies_j))
            return
        self._pending = None
        e = tuple(energies_j)
        self._t.append(t_s)
        self._steps.append(steps)
        self._e.append(e)
        box = self._outbox
        if box is not None:
            if len(box) >= self.outbox_limit:
                box.clear()
                self._overflow = True
            box.append((t_s, steps, e))
        if len(self._t) >= self.max_points:
            self._halve()

    def _halve(self) -> None:
        """Keep the even-numbered points (multiples of twice the stride); the newest stays shown."""
        if (len(self._t) - 1) % 2:  # the newest kept point is dropped: it stays as the pending one
            self._pending = (self._t[-1], self._steps[-1], self._e[-1])
        self._t = self._t[::2]
        self._steps = self._steps[::2]
        self._e = self._e[::2]
        self._stride *= 2

    def drain_new(self) -> Tuple[List[Point], bool]:
        """``(kept points since the last call, overflowed)``; ``overflowed`` means some were lost
        from the outbox (rewrite the journal from :meth:`view`)."""
        box, over = self._outbox or [], self._overflow
        if self._outbox is not None:
            self._outbox = []
        self._overflow = False
        return box, over

    def view(self) -> "TimelineView":
        """A frozen copy of the points (cheap: three list copies); the dict is built on first use."""
        t, steps, e = list(self._t), list(self._steps), list(self._e)
        if self._pending is not None:
            t.append(self._pending[0])
            steps.append(self._pending[1])
            e.append(self._pending[2])
        return TimelineView(self.component_ids, t, steps, e, self._stride)

    def to_dict(self) -> Dict[str, object]:
        """The documented timeline layout (see :class:`TimelineView`)."""
        return self.view().to_dict()


def timeline_columns(ids: Sequence[str], t: Sequence[float], steps: Sequence[int], e: Sequence[Sequence[float]], stride: int) -> Dict[str, object]:
    """The documented timeline dict from rows of cumulative joules (see :class:`TimelineView`)."""
    energy = {cid: [row[i] for row in e] for i, cid in enumerate(ids)}
    power: Dict[str, List[object]] = {}
    for cid, series in energy.items():
        p: List[object] = [None]
        for k in range(1, len(series)):
            dt = t[k] - t[k - 1]
            p.append(round((series[k] - series[k - 1]) / dt, 6) if dt > 0 else None)
        power[cid] = p
    return {"t_s": list(t), "steps": list(steps), "energy_j": energy, "power_w": power, "downsample_stride": stride}


class TimelineView(Mapping):
    """A read-only snapshot of a :class:`Timeline`, usable as the documented dict.

    Layout: ``t_s``: seconds since start; ``steps``: steps counted so far;
    ``energy_j``: per component, cumulative joules; ``power_w``: per component,
    mean power over the interval ending at each point (the first point has none,
    so ``None``); ``downsample_stride``: points seen per point kept.

    Building that dict costs O(points × components), so it is built only when a
    key is first read; :meth:`latest_power_w` needs only the last two points.
    """

    __slots__ = ("_ids", "_t", "_steps", "_e", "_stride", "_dict")

    def __init__(self, ids: Sequence[str], t: List[float], steps: List[int], e: List[Tuple[float, ...]], stride: int) -> None:
        self._ids = list(ids)
        self._t, self._steps, self._e, self._stride = t, steps, e, stride
        self._dict: Optional[Dict[str, object]] = None

    def to_dict(self) -> Dict[str, object]:
        if self._dict is None:
            self._dict = timeline_columns(self._ids, self._t, self._steps, self._e, self._stride)
        return self._dict

    def latest_power_w(self) -> Dict[str, Optional[float]]:
        """Mean power of each component over the last interval, watts (``None`` before two points)."""
        k = len(self._t) - 1
        while k >= 1 and self._t[k] - self._t[k - 1] <= 0:
            k -= 1
        if k < 1:
            return {cid: None for cid in self._ids}
        dt = self._t[k] - self._t[k - 1]
        return {cid: (self._e[k][i] - self._e[k - 1][i]) / dt for i, cid in enumerate(self._ids)}

    def __getitem__(self, key: str) -> object:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())
