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
failed alone (:meth:`Sensor.last_error` may say why). Either way the ledger
records a gap and the run goes on. Counter anomalies (reset, impossible jump)
are reported with :meth:`Sensor.record_gap` and collected by the ledger
through :meth:`Sensor.drain_gaps`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Literal, Mapping, Optional

__all__ = [
    "Component", "Gap", "Sensor", "SensorMode", "PowerIntegrator",
    "UNCERTAINTY_COUNTER", "UNCERTAINTY_POLLED", "UNCERTAINTY_ESTIMATE",
]

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


SensorMode = Literal["counter", "power"]


class Sensor:
    """Base class for sensors. Subclasses implement :meth:`components` and
    :meth:`read`, declare :attr:`mode`, and call ``super().__init__()``.

    Attributes:
        mode: ``"counter"`` when :meth:`read` returns a hardware (or exact)
            cumulative figure, so the sampler reads it every ``interval_s``
            (about 1 s: only the timeline and wrap detection need it);
            ``"power"`` when it integrates polled watts, so the sampler reads
            it every ``min(poll_interval_s, power_interval_s)``.
        poll_interval_s: the polling period a ``"power"`` sensor asks for,
            seconds. Ignored for counters.
        name: which sensor this is (``"nvml"``, ``"rapl"``...), for notes and logs.

    State: :meth:`__init__` creates the gap list; it is also created before a
    subclass's ``__init__`` runs, so a subclass written before the base had an
    ``__init__`` (one that does not call ``super().__init__()``) still works.
    """

    mode: SensorMode = "counter"
    poll_interval_s: float = 1.0
    name: str = "sensor"

    def __new__(cls, *args: Any, **kwargs: Any) -> "Sensor":
        self = super().__new__(cls)
        Sensor.__init__(self)
        return self

    def __init__(self) -> None:
        self._gaps: List[Gap] = []
        self._closed = False

    def components(self) -> List[Component]:
        raise NotImplementedError

    def read(self, now_s: float) -> Mapping[str, float]:
        """Cumulative energy per component id since the sensor opened, joules."""
        raise NotImplementedError

    def last_error(self, component_id: str) -> Optional[str]:
        """Why ``component_id`` was missing from the latest reading, or ``None`` (not known)."""
        return None

    def record_gap(self, component_id: str, start_s: float, end_s: float, reason: str) -> None:
        """Report a span of unknown energy (a counter reset, an impossible jump); monotonic seconds."""
        self._gaps.append(Gap(component_id, start_s, end_s, reason))

    _record_gap = record_gap  # the name sensors used before record_gap was public

    def drain_gaps(self) -> List[Gap]:
        """Gaps recorded since the last call (counter resets, impossible jumps)."""
        gaps, self._gaps = self._gaps, []
        return gaps

    def close(self) -> None:
        """Release handles. Safe to call twice."""
        self._closed = True


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
