"""The one small interface every sensor implements.

A sensor owns one or more *components* (``gpu:0``, ``cpu:package-0``,
``dram:0``, ``ram``) and, on each :meth:`Sensor.read`, returns the energy each
component has used **since the sensor was opened**, in joules. Counter sensors
turn hardware counters into that figure with :class:`~wattprint.engine.counters.EnergyCounter`;
power sensors integrate polled watts with :class:`PowerIntegrator`. The sampler
and the tracker only ever see cumulative joules, so a window's energy is always
a difference of two readings.

Failure modes: ``read`` raises :class:`~wattprint.errors.SensorError` when the
whole sensor failed this time; a component missing from the returned mapping
failed alone. Either way the sampler records a gap and the run goes on.
Counter anomalies (reset, impossible jump) are reported through
:meth:`Sensor.drain_gaps`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

__all__ = ["Component", "Gap", "Sensor", "PowerIntegrator"]

# Relative uncertainty (±) by kind of source, used for the footprint's bounds.
UNCERTAINTY_COUNTER = 0.05  # NVML counters are specified to about ±5 %; RAPL similar
UNCERTAINTY_POLLED = 0.07  # integrated polled power adds sampling error
UNCERTAINTY_ESTIMATE = 0.5  # TDP and W/GB models


@dataclass
class Component:
    """What one component is and how it is measured.

    Attributes:
        id: stable id, e.g. ``"gpu:0"``, ``"cpu:package-0"``, ``"dram:0"``, ``"ram"``.
        kind: ``"gpu"``, ``"cpu"``, ``"dram"``, ``"ram"`` or ``"synthetic"``.
        name: the device's model name, as the hardware reports it.
        source: how its energy is obtained, e.g. ``"nvml.total_energy"``,
            ``"nvml.power_instant"``, ``"rapl"``, ``"estimate.tdp"``, ``"replay"``.
        measured: ``True`` when the figure comes from a hardware sensor.
        uncertainty_rel: relative uncertainty (±) of the energy figure.
        scope: ``"device"`` (belongs to this process, e.g. its visible GPUs) or
            ``"node"`` (shared by every process on the host: CPU, DRAM, RAM).
        info: extra facts (``uuid``, ``power_limit_w``, ``tdp_w``, ``index``...).
    """

    id: str
    kind: str
    name: str
    source: str
    measured: bool
    uncertainty_rel: float = UNCERTAINTY_COUNTER
    scope: str = "node"
    info: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Gap:
    """A span during which a component's energy is unknown.

    Times are monotonic seconds (the tracker converts them to offsets from the
    start of the run when it builds the footprint).
    """

    component_id: str
    start_s: float
    end_s: float
    reason: str


class Sensor:
    """Base class for sensors. Subclasses set ``poll_interval_s`` and implement
    :meth:`components` and :meth:`read`.

    Attributes:
        poll_interval_s: how often the sampler should read this sensor,
            seconds. Counters need about 1 s (only for the timeline and wrap
            detection); polled power needs up to 10 Hz.
    """

    poll_interval_s: float = 1.0
    name: str = "sensor"

    def components(self) -> List[Component]:
        raise NotImplementedError

    def read(self, now_s: float) -> Mapping[str, float]:
        """Cumulative energy per component id since the sensor opened, joules."""
        raise NotImplementedError

    def drain_gaps(self) -> List[Gap]:
        """Gaps found since the last call (counter resets, impossible jumps)."""
        gaps, self._gaps = getattr(self, "_gaps", []), []
        return gaps

    def _record_gap(self, component_id: str, start_s: float, end_s: float, reason: str) -> None:
        if not hasattr(self, "_gaps"):
            self._gaps = []
        self._gaps.append(Gap(component_id, start_s, end_s, reason))

    def close(self) -> None:
        """Release handles. Safe to call twice."""


class PowerIntegrator:
    """Integrates polled power (watts) into cumulative energy (joules).

    Uses the trapezoid rule between polls. The first poll only sets the
    baseline. A poll that failed leaves a hole: call :meth:`drop` and the
    next poll restarts the integration without bridging the hole.
    """

    __slots__ = ("energy_j", "_last_w", "_last_t")

    def __init__(self) -> None:
        self.energy_j = 0.0
        self._last_w: Optional[float] = None
        self._last_t = 0.0

    def add(self, power_w: float, now_s: float) -> float:
        """Feed one power reading taken at monotonic ``now_s``; returns the total in joules."""
        if self._last_w is not None and now_s > self._last_t:
            self.energy_j += 0.5 * (self._last_w + power_w) * (now_s - self._last_t)
        self._last_w, self._last_t = power_w, now_s
        return self.energy_j

    def drop(self) -> None:
        self._last_w = None
