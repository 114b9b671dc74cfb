"""Sensors: NVML, RAPL, estimates and the public replay sensor."""

from wattprint.engine.sensors.base import Component, Gap, PowerIntegrator, Sensor
from wattprint.engine.sensors.discovery import SourceNote, discover
from wattprint.engine.sensors.replay import ReplaySensor

__all__ = ["Component", "Gap", "PowerIntegrator", "Sensor", "ReplaySensor", "SourceNote", "discover"]
