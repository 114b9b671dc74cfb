"""The small exception hierarchy of wattprint.

Every error raised by wattprint derives from :class:`WattprintError`. Vendor
errors (NVML codes, ``PermissionError`` on sysfs) are translated once, at the
sensor boundary, into these classes with ``raise ... from err``. The consumers'
errors live here too: :class:`ReportError` (a report input that is not a
footprint) and :class:`PlotUnavailable` (matplotlib missing).

Failure modes: none; this module only defines classes.
"""

from __future__ import annotations

__all__ = [
    "WattprintError",
    "ConfigError",
    "SensorError",
    "SensorUnavailable",
    "SensorNotSupported",
    "SensorPermissionError",
    "SensorLost",
    "ReportError",
    "PlotUnavailable",
]


class WattprintError(Exception):
    """Base class of every wattprint error."""


class ConfigError(WattprintError, ValueError):
    """A setting is wrong. The message names the setting and what is allowed.

    Attributes:
        setting: the argument or environment variable at fault.
    """

    def __init__(self, setting: str, message: str) -> None:
        self.setting = setting
        super().__init__(f"{setting}: {message}")

    def __reduce__(self):  # keep it picklable across processes
        return (self.__class__, (self.setting, str(self).split(": ", 1)[-1]))


class SensorError(WattprintError):
    """A sensor could not be read. The run goes on; the gap is recorded."""


class SensorUnavailable(SensorError):
    """The library or device behind a sensor is absent (no driver, no GPU)."""


class SensorNotSupported(SensorError):
    """The device exists but lacks this capability (NVML ``NOT_SUPPORTED``)."""


class SensorPermissionError(SensorError):
    """The sensor exists but this process may not read it (RAPL since Linux 5.10)."""


class SensorLost(SensorError):
    """A device that was being read has gone away (GPU fell off the bus)."""


class ReportError(WattprintError):
    """A report input is missing or is not a wattprint footprint."""


class PlotUnavailable(WattprintError):
    """matplotlib is not installed: ``pip install 'wattprint[plot]'``."""
