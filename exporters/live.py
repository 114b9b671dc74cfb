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
(``Tracker(total_steps=N)``): a linear projection in steps of the energy and
duration; carbon and water are projected with it (operational carbon and
water in proportion to energy, embodied carbon to duration).

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
    format_carbon,
    format_duration,
    format_energy,
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
    d = fp.to_dict()
    duration = float(d.get("duration_s") or 0.0)
    return fp.energy_j / duration if duration > 0 else None


def project_forecast(fp: Footprint) -> Optional[Dict[str, Any]]:
    """The footprint's ``forecast`` extended with projected carbon and water.

    Returns ``None`` without a forecast. Keys: ``total_steps``, ``progress``
    (0..1), ``energy_j``, ``duration_s``, ``remaining_s``, ``carbon_kg``,
    ``water_l`` (``None`` when the run has no carbon or water figure yet).
    """
    d = fp.to_dict()
    fc = d.get("forecast")
    if not isinstance(fc, dict) or not fc.get("energy_j"):
        return None
    it_j = float((d.get("energy") or {}).get("it_j") or 0.0)
    duration = float(d.get("duration_s") or 0.0)
    e_scale = float(fc["energy_j"]) / it_j if it_j > 0 else None
    fc_duration = float(fc.get("duration_s") or 0.0)
    t_scale = fc_duration / duration if duration > 0 else None
    carbon = d.get("carbon") or {}
    water = d.get("water") or {}
    op, emb = carbon.get("operational_kg"), carbon.get("embodied_kg")
    carbon_kg = None
    if op is not None and e_scale is not None:
        carbon_kg = op * e_scale + (emb * t_scale if emb is not None and t_scale is not None else 0.0)
    water_l = water.get("total_l") * e_scale if water.get("total_l") is not None and e_scale is not None else None
    if isinstance(fc.get("carbon_kg"), (int, float)):  # the tracker's own projection, when it makes one
        carbon_kg = float(fc["carbon_kg"])
    if isinstance(fc.get("water_l"), (int, float)):
        water_l = float(fc["water_l"])
    return {
        "total_steps": fc.get("total_steps"),
        "progress": fc.get("progress"),
        "energy_j": float(fc["energy_j"]),
        "duration_s": fc_duration,
        "remaining_s": max(0.0, fc_duration - duration),
        "carbon_kg": carbon_kg,
        "water_l": water_l,
    }


def format_status(fp: Footprint, *, water: bool = False) -> str:
    """The status line of a (partial) footprint, plain ASCII apart from units."""
    d = fp.to_dict()
    parts = ["wattprint", format_energy(fp.energy_j)]
    power = current_power_w(fp)
    if power is not None:
        parts.append(format_power(power))
    carbon = (d.get("carbon") or {}).get("total_kg")
    if carbon is not None:
        parts.append(format_carbon(carbon))
    if water and (d.get("water") or {}).get("total_l") is not None:
        parts.append(format_water(d["water"]["total_l"]))
    parts.append(format_duration(d.get("duration_s")))
    steps = (d.get("work") or {}).get("steps") or 0
    fc = project_forecast(fp)
    if fc is not None:
        parts.append(f"step {steps:,}/{fc['total_steps']:,} ({float(fc['progress']) * 100:.0f}%)")
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
        self.min_interval_s = config.setting_float(
            "min_interval_s", min_interval_s, {}, 1.0 if self.tty else 30.0, minimum=0.0
        )
        self.water = water
        self._clock = clock
        self._last_s = -math.inf
        self._shown = False
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
                self._write("\r" + line + _CLEAR_EOL)
                self._shown = True
            else:
                self._write(line + "\n")
            self.lines_written += 1

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
