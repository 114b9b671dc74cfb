"""wattprint: what a machine-learning run costs the planet.

Energy per component (NVML counters, RAPL, honest estimates), facility
overhead, grid carbon, on-site and off-site water, embodied carbon, per run.

    import wattprint as wp
    with wp.Tracker(project="demo", region="IE") as t:
        train()
    print(t.footprint.to_dict()["carbon"]["total_kg"])

Importing wattprint imports neither torch nor pynvml; sensors open on ``start()``.
"""

from typing import TYPE_CHECKING

from wattprint._lazy import lazy_attributes
from wattprint._version import __version__
from wattprint.engine.sensors.base import Component, Sensor
from wattprint.errors import (
    ConfigError,
    SensorError,
    SensorLost,
    SensorNotSupported,
    SensorPermissionError,
    SensorUnavailable,
    WattprintError,
)
from wattprint.footprint.model import CSV_FIELDS, SCHEMA_ID, Footprint
from wattprint.settings import new_run_id

if TYPE_CHECKING:  # the names below load on first use (PEP 562), so `import wattprint.report` stays light
    from wattprint.engine.sensors.replay import ReplaySensor
    from wattprint.footprint.planning import estimate
    from wattprint.footprint.schema import footprint_schema
    from wattprint.run.carbon_aware import wait_for_greener
    from wattprint.run.forecast.registry import forecast_provider
    from wattprint.run.job.context import JobContext, job_context
    from wattprint.run.tracker import Tracker, track

_LAZY = {
    "Tracker": "wattprint.run.tracker",
    "track": "wattprint.run.tracker",
    "estimate": "wattprint.footprint.planning",
    "footprint_schema": "wattprint.footprint.schema",
    "ReplaySensor": "wattprint.engine.sensors.replay",
    "JobContext": "wattprint.run.job.context",
    "job_context": "wattprint.run.job.context",
    "wait_for_greener": "wattprint.run.carbon_aware",
    "forecast_provider": "wattprint.run.forecast.registry",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())

__all__ = [
    "__version__",
    "Tracker",
    "track",
    "new_run_id",
    "Footprint",
    "footprint_schema",
    "estimate",
    "SCHEMA_ID",
    "CSV_FIELDS",
    "Sensor",
    "Component",
    "ReplaySensor",
    "JobContext",
    "job_context",
    "wait_for_greener",
    "forecast_provider",
    "WattprintError",
    "ConfigError",
    "SensorError",
    "SensorUnavailable",
    "SensorNotSupported",
    "SensorPermissionError",
    "SensorLost",
]
