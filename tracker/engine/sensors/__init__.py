"""Sensors: NVML, AMD SMI, RAPL, estimates and the public replay sensor.

A sensor implements :class:`Sensor` (``components``, ``read``, a declared ``mode``);
see :mod:`wattprint.engine.sensors.base` for the contract.
"""

from wattprint.engine.sensors.base import Component, Gap, PowerIntegrator, Sensor, SensorMode
from wattprint.engine.sensors.discovery import SourceNote, discover
from wattprint.engine.sensors.replay import ReplaySensor

__all__ = ["Component", "Gap", "PowerIntegrator", "Sensor", "SensorMode", "ReplaySensor", "SourceNote", "discover"]
