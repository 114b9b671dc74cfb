"""One tested helper for cumulative hardware energy counters.

NVML's total-energy counter (mJ since driver load) and RAPL's ``energy_uj``
(µJ, wrapping at ``max_energy_range_uj``) share the same failure modes:

* **wrap**: the value falls because it passed the counter's range; the true
  delta is ``max_range - prev + raw``;
* **reset**: the value falls and a wrap is implausible (driver reload, GPU
  reset); the counter restarted from zero, so ``raw`` is counted and the
  energy between the last read and the reset is unknown (a gap);
* **jump**: the value rises faster than the device could possibly draw; the
  delta is rejected, never added, and recorded as a gap.

:class:`EnergyCounter` turns raw readings into joule deltas and says which of
these happened, so every sensor handles them the same way.

Failure modes: :meth:`EnergyCounter.update` never raises (anomalies are
events, not exceptions); the constructor raises ``ValueError`` for a
non-positive ``scale_j`` or ``max_range``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

CounterEvent = Literal["wrap", "reset", "jump"]

__all__ = ["EnergyCounter", "CounterStep", "CounterEvent"]


@dataclass(frozen=True)
class CounterStep:
    """The outcome of one counter reading.

    Attributes:
        delta_j: energy added since the previous reading, joules (>= 0).
        event: ``None`` for a normal step, else ``"wrap"``, ``"reset"`` or ``"jump"``.
            ``"reset"`` and ``"jump"`` mean some energy is unknown (a gap).
    """

    delta_j: float
    event: Optional[CounterEvent] = None

    @property
    def is_gap(self) -> bool:
        return self.event in ("reset", "jump")


class EnergyCounter:
    """Delta tracking for one raw cumulative counter.

    Args:
        scale_j: joules per raw unit (1e-6 for µJ, 1e-3 for mJ).
        max_range: the raw value at which the counter wraps to zero, or ``None``
            for a counter that never wraps in practice (NVML's 64-bit mJ).
        max_power_w: the highest power the device can draw, watts. A delta that
            implies more (after ``slack``) is physically impossible.
        min_interval_s: floor on the interval used for the plausibility check,
            seconds, so two reads microseconds apart are not judged on noise.
        slack: tolerance factor on ``max_power_w``.
    """

    __slots__ = ("scale_j", "max_range", "max_power_w", "min_interval_s", "slack", "_prev_raw", "_prev_t")

    def __init__(
        self,
        *,
        scale_j: float,
        max_range: Optional[int] = None,
        max_power_w: float = 5_000.0,
        min_interval_s: float = 0.5,
        slack: float = 1.5,
    ) -> None:
        if scale_j <= 0:
            raise ValueError("scale_j must be > 0")
        if max_range is not None and max_range <= 0:
            raise ValueError("max_range must be > 0 or None")
        self.scale_j = scale_j
        self.max_range = max_range
        self.max_power_w = max_power_w
        self.min_interval_s = min_interval_s
        self.slack = slack
        self._prev_raw: Optional[int] = None
        self._prev_t: float = 0.0

    @property
    def primed(self) -> bool:
        return self._prev_raw is not None

    def _limit_j(self, dt_s: float) -> float:
        return self.max_power_w * self.slack * max(dt_s, self.min_interval_s)

    def update_fast(self, raw: int, now_s: float) -> "float | CounterStep":
        """As :meth:`update`, but an ordinary step (no wrap, reset or jump) returns its
        ``delta_j`` as a bare float, making no object (the sampler's hot path)."""
        prev = self._prev_raw
        if prev is not None and raw >= prev:
            dt = now_s - self._prev_t
            delta_j = (raw - prev) * self.scale_j
            if delta_j <= self.max_power_w * self.slack * (dt if dt > self.min_interval_s else self.min_interval_s):
                self._prev_raw, self._prev_t = raw, now_s
                return delta_j
        return self.update(raw, now_s)

    def update(self, raw: int, now_s: float) -> CounterStep:
        """Feed one raw reading taken at monotonic time ``now_s`` (seconds)."""
        prev, prev_t = self._prev_raw, self._prev_t
        self._prev_raw, self._prev_t = raw, now_s
        if prev is None:
            return CounterStep(0.0)
        dt = max(0.0, now_s - prev_t)
        limit_j = self._limit_j(dt)
        if raw >= prev:
            delta_j = (raw - prev) * self.scale_j
            if delta_j > limit_j:
                return CounterStep(0.0, "jump")
            return CounterStep(delta_j)
        # The value fell: a wrap if the wrapped delta is plausible, else a reset.
        if self.max_range is not None:
            wrapped_j = (self.max_range - prev + raw) * self.scale_j
            if wrapped_j <= limit_j:
                return CounterStep(wrapped_j, "wrap")
        since_reset_j = raw * self.scale_j
        return CounterStep(since_reset_j if since_reset_j <= limit_j else 0.0, "reset")
