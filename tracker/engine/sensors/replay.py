"""A public synthetic sensor that plays a known power trace.

Demos, tests and benchmarks drive the whole pipeline with it. The trace is a
list of ``(t_s, power_w)`` points, ``t_s`` seconds from the moment the sensor
is first read; power is held constant from one point to the next (a step
function) and after the last point.

Two modes:

* ``"counter"``: the sensor reports the trace's exact integral, like a
  hardware energy counter (NVML's total energy, RAPL);
* ``"power"``: the sensor reports only the instantaneous power at each read,
  integrated by the same :class:`~wattprint.engine.sensors.base.PowerIntegrator` as
  polled NVML power, so sampling error can be measured against
  :meth:`ReplaySensor.exact_energy_j`.

Failure modes: the constructor raises ``ValueError`` for a bad trace or mode;
reads never fail.
"""

from __future__ import annotations

import bisect
from itertools import pairwise
from typing import List, Mapping, Optional, Sequence, Tuple

from wattprint.engine.sensors.base import (
    UNCERTAINTY_COUNTER,
    UNCERTAINTY_POLLED,
    Component,
    PowerIntegrator,
    Sensor,
    SensorMode,
)

__all__ = ["ReplaySensor"]


class ReplaySensor(Sensor):
    """Plays ``trace`` as component ``component_id``.

    Args:
        trace: ``[(t_s, power_w), ...]`` with increasing ``t_s`` starting at 0.
        component_id: the id to report (``"gpu:0"``, ``"synthetic"``...).
        kind: component kind.
        mode: ``"counter"`` or ``"power"``.
        poll_interval_s: sampling period in ``"power"`` mode, seconds.
        measured: whether the component should count as measured (default ``True``).

    Raises:
        ValueError: an empty or unordered trace, a negative power, or an unknown mode.
    """

    name = "replay"
    # a replayed trace never blocks: a read that is late only ran on a descheduled thread (a loaded
    # machine), which must not be recorded as a hung sensor, so its deadline is long
    read_deadline_s = 60.0

    def __init__(
        self,
        trace: Sequence[Tuple[float, float]],
        component_id: str = "synthetic",
        kind: str = "synthetic",
        mode: str = "counter",
        poll_interval_s: float = 0.1,
        measured: bool = True,
        name: str = "replayed trace",
    ) -> None:
        super().__init__()
        if not trace:
            raise ValueError("trace: give at least one (t_s, power_w) point")
        if mode not in ("counter", "power"):
            raise ValueError("mode: must be 'counter' or 'power'")
        self.mode: SensorMode = "counter" if mode == "counter" else "power"
        times = [float(t) for t, _ in trace]
        powers = [float(p) for _, p in trace]
        if any(b < a for a, b in pairwise(times)):
            raise ValueError("trace: times must be non-decreasing")
        if any(p < 0 for p in powers):
            raise ValueError("trace: power must be >= 0 W")
        self._t = times
        self._p = powers
        # cumulative energy at each point, joules
        cum = [0.0]
        for i in range(1, len(times)):
            cum.append(cum[-1] + powers[i - 1] * (times[i] - times[i - 1]))
        self._cum = cum
        self.component_id = component_id
        self.kind = kind
        self.poll_interval_s = poll_interval_s if mode == "power" else 1.0
        self.measured = measured
        self.device_name = name
        self._origin: Optional[float] = None
        self._integrator = PowerIntegrator()

    def power_at(self, t_s: float) -> float:
        """Trace power at ``t_s`` seconds from the origin, watts."""
        i = bisect.bisect_right(self._t, t_s) - 1
        return self._p[max(i, 0)] if t_s >= self._t[0] else 0.0

    def exact_energy_j(self, t_s: float) -> float:
        """The trace's exact integral from its origin to ``t_s`` seconds, joules."""
        if t_s <= self._t[0]:
            return 0.0
        i = bisect.bisect_right(self._t, t_s) - 1
        return self._cum[i] + self._p[i] * (t_s - self._t[i])

    def components(self) -> List[Component]:
        return [
            Component(
                id=self.component_id,
                kind=self.kind,
                name=self.device_name,
                source=f"replay.{self.mode}",
                measured=self.measured,
                uncertainty_rel=UNCERTAINTY_COUNTER if self.mode == "counter" else UNCERTAINTY_POLLED,
                scope="device",
            )
        ]

    def read(self, now_s: float) -> Mapping[str, float]:
        if self._origin is None:
            self._origin = now_s
        t = now_s - self._origin
        if self.mode == "counter":
            return {self.component_id: self.exact_energy_j(t)}
        return {self.component_id: self._integrator.add(self.power_at(t), now_s)}
