"""A forecast from a file the user supplies (CSV or JSON), for any grid; no network.

Units: gCO2e/kWh; times ISO 8601 (``Z`` or an offset; naive read as UTC).

CSV: a header with ``start`` and one of ``intensity_g_per_kwh``, ``intensity``,
``carbon_intensity``, ``value``; optional ``end`` (else each period ends where the
next starts), ``signal`` (``average``/``marginal``) and ``kind`` (``forecast`` or
``observed``: observed rows are the history the realised saving is priced with).

JSON: a list of such rows; or ``{"signal": .., "zone": .., "source": .., "forecast": [rows],
"observed": [rows]}``; or a recorded UK Carbon Intensity response (``{"data": [{"from",
"to", "intensity": {"forecast", "actual"}}]}``), whose ``actual`` values are the history.

Failure modes: a missing or unreadable file, a row without a start or a number, a signal
other than average/marginal, or mixed signals raise ``GridFetchError`` from ``fetch``
(so :meth:`~wattprint.run.forecast.base.ForecastProvider.get` falls back with the reason).
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from wattprint.run.forecast._http import GridFetchError, number
from wattprint.run.forecast.base import SIGNALS, Forecast, ForecastProvider, Period, periods_from_starts
from wattprint.units import parse_utc

__all__ = ["FileProvider", "load_file"]

_VALUE_KEYS = ("intensity_g_per_kwh", "intensity", "carbon_intensity", "value")


def _rows_to_periods(rows: Sequence[Mapping[str, Any]], where: str) -> List[Period]:
    with_end: List[Period] = []
    starts: List[Tuple[_dt.datetime, float]] = []
    for i, row in enumerate(rows):
        start = parse_utc(row.get("start") or row.get("from") or row.get("datetime"))
        if start is None:
            raise GridFetchError(f"{where}: row {i + 1} has no start time")
        raw = next((row.get(k) for k in _VALUE_KEYS if row.get(k) not in (None, "")), None)
        try:
            value = number(float(raw) if isinstance(raw, str) else raw, "intensity")
        except (TypeError, ValueError):
            raise GridFetchError(f"{where}: row {i + 1} has no intensity number") from None
        end = parse_utc(row.get("end") or row.get("to"))
        if end is not None:
            with_end.append((start, end, value))
        else:
            starts.append((start, value))
    return sorted(with_end + periods_from_starts(starts), key=lambda p: p[0])


def load_file(path: str) -> Dict[str, Any]:
    """``{"signal", "zone", "source", "forecast": [periods], "observed": [periods]}`` from ``path``."""
    name = os.path.basename(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as err:
        raise GridFetchError(f"cannot read the forecast file {name}: {err.strerror or err}") from None
    meta: Dict[str, Any] = {"signal": None, "zone": None, "source": None}
    observed: List[Mapping[str, Any]] = []
    if path.lower().endswith(".csv"):
        rows = list(csv.DictReader(text.splitlines()))
        forecast = [r for r in rows if (r.get("kind") or "forecast").strip() == "forecast"]
        observed = [r for r in rows if (r.get("kind") or "").strip() == "observed"]
        signals = {(r.get("signal") or "").strip() for r in rows} - {""}
        if len(signals) > 1:
            raise GridFetchError(f"{name}: average and marginal rows mixed in one file")
        meta["signal"] = signals.pop() if signals else None
    else:
        try:
            doc = json.loads(text)
        except ValueError:
            raise GridFetchError(f"the forecast file {name} is not JSON") from None
        if isinstance(doc, dict) and isinstance(doc.get("data"), list):  # a recorded UK Carbon Intensity response
            uk: List[Dict[str, Any]] = [r for r in doc["data"] if isinstance(r, dict) and isinstance(r.get("intensity"), dict)]
            forecast = [{"from": r.get("from"), "to": r.get("to"), "value": r["intensity"].get("forecast")} for r in uk]
            observed = [{"from": r.get("from"), "to": r.get("to"), "value": r["intensity"].get("actual")} for r in uk if r["intensity"].get("actual") is not None]
            meta.update(zone="GB", source="UK Carbon Intensity API, NESO (recorded, CC BY 4.0)")
        elif isinstance(doc, list):
            forecast = doc
        elif isinstance(doc, dict):
            forecast, observed = doc.get("forecast") or [], doc.get("observed") or []
            meta.update({k: doc.get(k) for k in ("signal", "zone", "source")})
        else:
            raise GridFetchError(f"{name}: expected a list of rows or an object with forecast[]")
    if meta["signal"] is not None and meta["signal"] not in SIGNALS:
        raise GridFetchError(f"{name}: signal must be average or marginal, got {meta['signal']!r}")
    if not all(isinstance(r, dict) for r in list(forecast) + list(observed)):
        raise GridFetchError(f"{name}: every row must be an object")
    meta["forecast"] = _rows_to_periods(forecast, name)
    meta["observed"] = _rows_to_periods(observed, name)
    return meta


class FileProvider(ForecastProvider):
    """A forecast file (``zone`` is the path). The file's ``signal`` (default ``average``) labels it."""

    name = "file"
    source = "user forecast file"
    needs_network = False

    def __init__(self, path: str, *, cache_s: float = 60.0, signal: Optional[str] = None) -> None:
        super().__init__(zone=None, base_url="file:" + os.path.abspath(path), cache_s=cache_s)
        self.path = path
        self._signal = signal
        self.zone = os.path.basename(path)

    def __repr__(self) -> str:
        return f"FileProvider({self.path!r})"

    def _load(self, kind: str, now: _dt.datetime) -> Forecast:
        meta = load_file(self.path)
        signal = self._signal or meta["signal"] or "average"
        source = str(meta["source"] or f"user forecast file {os.path.basename(self.path)}")
        if kind == "observed":
            source += " (observed)"
        return Forecast(self.name, source, meta["zone"] or self.zone, signal, tuple(meta[kind]), now) if meta[kind] else self.forecast([], now)

    @property
    def has_history(self) -> bool:  # type: ignore[override]
        try:
            return bool(load_file(self.path)["observed"])
        except GridFetchError:
            return False

    def fetch(self, now: _dt.datetime) -> Forecast:
        return self._load("forecast", now)

    def fetch_history(self, start: _dt.datetime, end: _dt.datetime) -> Forecast:
        return self._load("observed", end)
