"""A live one-line status of a run: energy so far, power, carbon, and a forecast.

:class:`LiveStatus` is an exporter (see :mod:`wattprint.run.exporting`): give it
to a tracker and it prints, about once a second on a terminal::

    wattprint | 12.4 Wh | 245 W | 5.71 gCO2e | 3 min 02 s | step 120/1000 (12%) | forecast 103 Wh, 47.6 gCO2e, 22 min 10 s left

    t = wattprint.Tracker(total_steps=1000, exporters=[LiveStatus()])

On a terminal the line is rewritten in place (carriage return) and cleared at
the end. When the stream is not a terminal (a log file, CI) it is quiet by
default; with ``enabled=True`` (or ``WATTPRINT_LIVE=1``) it writes a full
line at most every ``min_interval_s`` (30 s by default off a terminal).
The forecast appears when the footprint has a ``forecast`` section, which
the tracker fills when it knows the total number of steps
(``Tracker(total_steps=N)``): the tracker's linear projection in steps of
the energy, duration, carbon and water; this module only shows it. Figures
are formatted by :mod:`wattprint.units` (readable units, three significant
figures).

Failure modes: none raised into the run; writing is done on the exporter's
own thread, and a closed or broken stream only loses status lines.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from typing import Any, Callable, Dict, Mapping, Optional, TextIO

from wattprint import settings as config
from wattprint.footprint.model import Footprint
from wattprint.units import (
    as_float,
    format_carbon,
    format_duration,
    format_energy,
    format_percent,
    format_power,
    format_water,
)

__all__ = ["LiveStatus", "format_status", "current_power_w", "project_forecast"]

_CLEAR_EOL = "\x1b[K"


def current_power_w(fp: Footprint) -> Optional[float]:
    """The latest power of the run, watts: the sum over components of the last
    timeline interval; the mean power so far when the timeline has none."""
    latest = [w for w in fp.latest_power_w().values() if w is not None]
    if latest:
        return float(sum(latest))
    duration_s = as_float(fp.get("duration_s")) or 0.0
    return fp.energy_j / duration_s if duration_s > 0 else None


def project_forecast(fp: Footprint) -> Optional[Dict[str, Any]]:
    """The footprint's ``forecast`` section with the time left, or ``None`` without one.

    Keys: ``total_steps``, ``progress`` (0..1), ``energy_j``, ``duration_s`` and
    ``remaining_s`` (seconds), ``carbon_kg`` and ``water_l`` (the tracker's own
    linear projection; ``None`` when the run has no carbon or water figure yet).
    """
    fc = fp.get("forecast")
    if not isinstance(fc, dict):
        return None
    energy_j = as_float(fc.get("energy_j"))
    if not energy_j:
        return None
    fc_duration_s = as_float(fc.get("duration_s")) or 0.0
    duration_s = as_float(fp.get("duration_s")) or 0.0
    return {
        "total_steps": fc.get("total_steps"),
        "progress": as_float(fc.get("progress")),
        "energy_j": energy_j,
        "duration_s": fc_duration_s,
        "remaining_s": max(0.0, fc_duration_s - duration_s),
        "carbon_kg": as_float(fc.get("carbon_kg")),
        "water_l": as_float(fc.get("water_l")),
    }


def format_status(fp: Footprint, *, water: bool = False) -> str:
    """The status line of a (partial) footprint, plain ASCII apart from units."""
    parts = ["wattprint", format_energy(fp.energy_j)]
    power = current_power_w(fp)
    if power is not None:
        parts.append(format_power(power))
    carbon_kg = as_float(fp.get("carbon.total_kg"))
    if carbon_kg is not None:
        parts.append(format_carbon(carbon_kg))
    water_l = as_float(fp.get("water.total_l"))
    if water and water_l is not None:
        parts.append(format_water(water_l))
    parts.append(format_duration(as_float(fp.get("duration_s"))))
    steps = fp.get("work.steps") or 0
    fc = project_forecast(fp)
    if fc is not None:
        total = fc["total_steps"]
        parts.append(f"step {steps:,}/{total:,} ({format_percent(fc['progress'])})" if total else f"step {steps:,}")
        bits = [format_energy(fc["energy_j"])]
        if fc["carbon_kg"] is not None:
            bits.append(format_carbon(fc["carbon_kg"]))
        bits.append(f"{format_duration(fc['remaining_s'])} left")
        parts.append("forecast " + ", ".join(bits))
    elif steps:
        parts.append(f"step {steps:,}")
    return " | ".join(parts)


class LiveStatus:
    """Exporter that prints a rate-limited one-line status during the run.

    Args:
        stream: where to write (default ``sys.stderr`` at the time of writing).
        enabled: ``True``/``False``; ``None`` (default) means ``WATTPRINT_LIVE``
            when set, else on only when ``stream`` is a terminal.
        min_interval_s: the least time between two lines, seconds (default 1 on
            a terminal, 30 otherwise).
        water: also show the water so far.
        clock: monotonic clock in seconds (tests).
        env: environment mapping (default ``os.environ``).

    Raises:
        ConfigError: ``min_interval_s`` negative, or a bad ``WATTPRINT_LIVE``.
    """

    def __init__(
        self,
        stream: Optional[TextIO] = None,
        *,
        enabled: Optional[bool] = None,
        min_interval_s: Optional[float] = None,
        water: bool = False,
        clock: Callable[[], float] = time.monotonic,
        env: Optional[Mapping[str, str]] = None,
    ) -> None:
        env = os.environ if env is None else env
        self._stream = stream
        self.tty = _isatty(self.stream)
        if enabled is None:
            enabled = config.setting_bool("live", None, env, self.tty)
        self.enabled = bool(enabled)
        self.min_interval_s: float = config.setting_float(
            "min_interval_s", min_interval_s, {}, 1.0 if self.tty else 30.0, minimum=0.0
        )
        self.water = water
        self._clock = clock
        self._last_s = -math.inf
        self._shown = False
        self._last_line: Optional[str] = None
        self._child_at_line_start = True
        self._lock = threading.Lock()
        self.lines_written = 0

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    def on_sample(self, footprint: Footprint) -> None:
        """Show the live footprint, unless the last line is younger than ``min_interval_s``."""
        if not self.enabled:
            return
        with self._lock:
            now = self._clock()
            if now - self._last_s < self.min_interval_s:
                return
            self._last_s = now
            line = format_status(footprint, water=self.water)
            if self.tty:
                self._last_line = line
                if self._child_at_line_start:  # never draw over a line the child has not finished
                    self._write("\r" + line + _CLEAR_EOL)
                    self._shown = True
            else:
                self._write(line + "\n")
            self.lines_written += 1

    def write_through(self, stream: Any, data: bytes) -> None:
        """Write a chunk of a child process's output to ``stream`` (a binary stream) around the status line.

        On a terminal the status line is cleared first, the chunk written, and the line
        drawn again below it once the child's output ends a line, so the two never share
        a line and no stale status stays behind. Off a terminal the chunk is written as is.
        A broken stream loses the chunk, never the run.
        """
        with self._lock:
            if self.tty and self._shown:
                self._write("\r" + _CLEAR_EOL)
                self._shown = False
            try:
                stream.write(data)
                stream.flush()
            except (OSError, ValueError):
                pass
            if data:
                self._child_at_line_start = data.endswith((b"\n", b"\r"))
            if self.tty and self.enabled and self._child_at_line_start and self._last_line is not None:
                self._write("\r" + self._last_line + _CLEAR_EOL)
                self._shown = True

    def export(self, footprint: Footprint) -> None:
        """End of the run: clear the terminal line (the final summary is someone else's job)."""
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._shown:
                self._write("\r" + _CLEAR_EOL)
                self._shown = False

    def _write(self, text: str) -> None:
        stream = self.stream
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):  # closed or broken stream: lose the line, never the run
            pass
        except UnicodeEncodeError:
            try:
                stream.write(text.encode("ascii", "replace").decode("ascii"))
                stream.flush()
            except (OSError, ValueError):
                pass


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, OSError, ValueError):
        return False
