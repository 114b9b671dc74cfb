"""A tracker on replayed sensors and a manual clock: the suite's (and users') standard test rig.

    t, clock = replay_tracker(watts=300.0)       # one replayed GPU at 300 W, nothing saved
    t.start(); clock.advance(10.0); fp = t.stop()
    assert fp.energy_j == 3000.0

Powers are watts, trace times seconds since the start of the trace. The tracker
samples only when told (``interval_s=inf``: call ``t.sample_now()`` or
``stop()``), installs no signal handlers and saves nothing unless asked
(``save=True``). Pass ``env={}`` to ignore ``WATTPRINT_*`` variables entirely.

Failure modes: a negative power or an unordered trace raises ``ValueError``
(from :class:`~wattprint.ReplaySensor`); any Tracker setting out of range
raises :class:`~wattprint.ConfigError`, naming it.
"""

from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence, Tuple, Union

from wattprint.engine.sensors.base import Sensor
from wattprint.engine.sensors.replay import ReplaySensor
from wattprint.run.tracker import Tracker
from wattprint.testing.clock import ManualClock

__all__ = ["replay_tracker", "replay_sensor", "Trace"]

Trace = Union[float, Sequence[Tuple[float, float]]]
"""A constant power in watts, or a trace of ``(t_s, power_w)`` points (step function)."""


def replay_sensor(
    watts: Trace = 100.0,
    *,
    component_id: str = "gpu:0",
    kind: str = "gpu",
    mode: str = "counter",
    name: str = "Replay GPU",
    measured: bool = True,
    poll_interval_s: float = 0.1,
) -> ReplaySensor:
    """One replayed component drawing ``watts`` (a constant in W, or a ``(t_s, power_w)`` trace)."""
    trace = [(0.0, float(watts))] if isinstance(watts, (int, float)) else list(watts)
    return ReplaySensor(trace, component_id=component_id, kind=kind, mode=mode,
                        poll_interval_s=poll_interval_s, measured=measured, name=name)


def replay_tracker(
    watts: Trace = 100.0,
    *,
    cpu_watts: Optional[Trace] = None,
    clock: Optional[ManualClock] = None,
    sensors: Optional[Sequence[Sensor]] = None,
    **tracker_kwargs: Any,
) -> Tuple[Tracker, ManualClock]:
    """A :class:`~wattprint.Tracker` over a replayed GPU, driven by a :class:`ManualClock`.

    Args:
        watts: the GPU's power, watts (constant) or a ``(t_s, power_w)`` trace.
        cpu_watts: when given, also a replayed (estimated, ``measured=False``) CPU package.
        clock: the clock to drive the tracker with (default: a new ``ManualClock``).
        sensors: replace the replayed GPU/CPU with these sensors.
        **tracker_kwargs: any other ``Tracker`` argument; ``interval_s`` defaults to ``inf``,
            ``handle_signals`` and ``save`` to ``False``.

    Returns:
        ``(tracker, clock)``; the tracker is not started.
    """
    clock = clock if clock is not None else ManualClock()
    if sensors is None:
        chosen: List[Sensor] = [replay_sensor(watts)]
        if cpu_watts is not None:
            chosen.append(replay_sensor(cpu_watts, component_id="cpu:package-0", kind="cpu",
                                        name="Replay CPU", measured=False))
        sensors = chosen
    tracker_kwargs.setdefault("interval_s", math.inf)
    tracker_kwargs.setdefault("handle_signals", False)
    tracker_kwargs.setdefault("save", False)
    return Tracker(sensors=list(sensors), clock=clock, **tracker_kwargs), clock
