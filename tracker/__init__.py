"""wattprint: what a machine-learning run costs the planet.

Energy per component (NVML counters, RAPL, honest estimates), facility
overhead, grid carbon, on-site and off-site water, embodied carbon, per run.

    import wattprint as wp
    with wp.Tracker(project="demo", region="IE") as t:
        train()
    print(t.footprint.to_dict()["carbon"]["total_kg"])

Importing wattprint imports neither torch nor pynvml; sensors open on ``start()``.
"""

from wattprint._version import __version__
from wattprint.engine.sensors.base import Component, Sensor
from wattprint.engine.sensors.replay import ReplaySensor
from wattprint.errors import (
    ConfigError,
    SensorError,
    SensorLost,
    SensorNotSupported,
    SensorPermissionError,
    SensorUnavailable,
    WattprintError,
)
from wattprint.footprint.accounting import footprint_schema
from wattprint.footprint.model import CSV_FIELDS, SCHEMA_ID, Footprint
from wattprint.footprint.planning import estimate
from wattprint.run.tracker import Tracker, new_run_id, track

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
    "WattprintError",
    "ConfigError",
    "SensorError",
    "SensorUnavailable",
    "SensorNotSupported",
    "SensorPermissionError",
    "SensorLost",
]
