"""A bounded timeline of cumulative energy per component.

Each point is ``(t_s, steps, energies_j)`` with ``t_s`` seconds since the run
started and ``energies_j`` the cumulative joules of each component at that
moment. Because the values are cumulative, dropping points loses only time
resolution, never energy: when the timeline reaches ``max_points`` every other
point is dropped (the first and the newest are kept), so memory stays bounded
however long the run. Power between two points is ``ΔE / Δt``.

Failure modes: a :class:`Timeline` is not thread-safe; the
:class:`~wattprint.engine.ledger.Ledger` that owns it serialises ``append`` and
``view`` under its lock (use ``Ledger.append_point`` and ``Ledger.view``). A
point older than the last one is dropped.
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

__all__ = ["Timeline", "TimelineView"]


class Timeline:
    """Bounded, downsampling store of cumulative energy readings.

    Args:
        component_ids: the components, in column order.
        max_points: the most points kept (>= 4).
    """

    __slots__ = ("component_ids", "max_points", "_t", "_steps", "_e", "_stride")

    def __init__(self, component_ids: Sequence[str], max_points: int = 2048) -> None:
        if max_points < 4:
            raise ValueError("max_points must be >= 4")
        self.component_ids = list(component_ids)
        self.max_points = max_points
        self._t: List[float] = []
        self._steps: List[int] = []
        self._e: List[Tuple[float, ...]] = []
        self._stride = 1  # points seen per point kept, after downsampling

    def __len__(self) -> int:
        return len(self._t)

    def append(self, t_s: float, steps: int, energies_j: Sequence[float]) -> None:
        if self._t and t_s < self._t[-1]:
            return  # never go back in time (a boundary read raced a sample)
        self._t.append(t_s)
        self._steps.append(steps)
        self._e.append(tuple(energies_j))
        if len(self._t) > self.max_points:
            self._halve()

    def _halve(self) -> None:
        last = (self._t[-1], self._steps[-1], self._e[-1])
        self._t = self._t[:-1:2]
        self._steps = self._steps[:-1:2]
        self._e = self._e[:-1:2]
        self._t.append(last[0])
        self._steps.append(last[1])
        self._e.append(last[2])
        self._stride *= 2

    def view(self) -> "TimelineView":
        """A frozen copy of the points (cheap: three list copies); the dict is built on first use."""
        return TimelineView(self.component_ids, list(self._t), list(self._steps), list(self._e), self._stride)

    def to_dict(self) -> Dict[str, object]:
        """The documented timeline layout (see :class:`TimelineView`)."""
        return self.view().to_dict()


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
            energy = {cid: [row[i] for row in self._e] for i, cid in enumerate(self._ids)}
            power: Dict[str, List[object]] = {}
            for cid, series in energy.items():
                p: List[object] = [None]
                for k in range(1, len(series)):
                    dt = self._t[k] - self._t[k - 1]
                    p.append(round((series[k] - series[k - 1]) / dt, 6) if dt > 0 else None)
                power[cid] = p
            self._dict = {
                "t_s": list(self._t),
                "steps": list(self._steps),
                "energy_j": energy,
                "power_w": power,
                "downsample_stride": self._stride,
            }
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
