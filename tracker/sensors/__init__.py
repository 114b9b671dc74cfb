"""Sensors: NVML, RAPL, estimates and the public replay sensor."""

from .base import Component, Gap, PowerIntegrator, Sensor
from .discovery import SourceNote, discover
from .replay import ReplaySensor

__all__ = ["Component", "Gap", "PowerIntegrator", "Sensor", "ReplaySensor", "SourceNote", "discover"]
