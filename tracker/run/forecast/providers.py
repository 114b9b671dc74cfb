"""The HTTP forecast providers: UK Carbon Intensity, Electricity Maps, WattTime, Energinet.

Units: gCO2e/kWh (WattTime's lb/MWh converted, x 0.45359237); UTC.

- ``ukci``: the UK Carbon Intensity API (NESO, no key, CC BY 4.0), 48 h ahead, half-hourly.
  ``GET /intensity/{from}/fw48h`` (national; ``zone`` empty, ``GB`` or ``national``),
  ``/regional/intensity/{from}/fw48h/regionid/N`` (``zone="regionid:N"``) or
  ``/regional/intensity/{from}/fw48h/postcode/OUTCODE`` (``zone="postcode:RG10"``).
  History: ``GET /intensity/{from}/{to}`` gives the national ``actual`` (regional figures are
  estimates only, so regional runs are realised forecast-only). Average signal.
- ``electricitymaps``: ``GET /carbon-intensity/forecast?zone=Z`` (header ``auth-token``; a paid
  plan), hourly; history ``GET /carbon-intensity/history?zone=Z`` (the last 24 h). Average (lifecycle).
- ``watttime``: ``GET /login`` (HTTP Basic, ``token="user:password"``), then
  ``GET /v3/forecast?region=Z&signal_type=co2_moer`` (5-min points, 24 h); history
  ``GET /v3/historical?region=Z&start=..&end=..&signal_type=co2_moer``. **Marginal** signal.
- ``energinet``: Energi Data Service (Energinet, no key) ``GET /dataset/CO2EmisProg`` with
  ``filter={"PriceArea":["DK1"]}`` (zone ``DK1`` or ``DK2``), 5-min prognosis; history
  ``GET /dataset/CO2Emis``. ``Minutes5UTC`` is naive UTC. Average signal.

Failure modes: a wrong zone or a missing token raise ``ConfigError`` in the factory
(:func:`wattprint.run.forecast.make_provider`); a refused token, an HTTP error, a timeout,
a malformed or empty body raise ``GridFetchError`` from ``fetch``, which
:meth:`ForecastProvider.get` turns into ``None`` and a reason.
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any, List, Tuple

from wattprint.run.forecast._http import LB_PER_MWH_TO_G_PER_KWH, GridFetchError, get_json, number, watttime_bearer
from wattprint.run.forecast.base import Forecast, ForecastProvider, Period, periods_from_starts
from wattprint.units import parse_utc

__all__ = ["UkciProvider", "ElectricityMapsProvider", "WattTimeProvider", "EnerginetProvider"]


def _items(doc: Any, key: str, what: str) -> List[Any]:
    items = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise GridFetchError(f"no {key}[] in the {what} response")
    return items


def _when(value: Any, what: str) -> _dt.datetime:
    t = parse_utc(value)
    if t is None:
        raise GridFetchError(f"unexpected time in the {what} response: {value!r}")
    return t


def _ukci_time(t: _dt.datetime) -> str:
    return t.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


class UkciProvider(ForecastProvider):
    name = "ukci"
    source = "UK Carbon Intensity API, NESO (forecast, CC BY 4.0)"
    default_url = "https://api.carbonintensity.org.uk"

    def _path(self) -> Tuple[str, str]:
        z = (self.zone or "").strip()
        if not z or z.upper() in ("GB", "NATIONAL"):
            return "national", ""
        kind, _, ident = z.partition(":")
        return kind, ident

    def _periods(self, doc: Any, field: str) -> List[Period]:
        data = doc.get("data") if isinstance(doc, dict) else None
        if isinstance(data, dict):  # regional: {"data": {"regionid": .., "data": [...]}}
            data = data.get("data")
        elif isinstance(data, list) and data and isinstance(data[0], dict) and "regionid" in data[0]:
            data = data[0].get("data")  # regional, older shape: {"data": [{"regionid": .., "data": [...]}]}
        if not isinstance(data, list):
            raise GridFetchError("no data[] in the UK Carbon Intensity response")
        out: List[Period] = []
        for row in data:
            intensity = row.get("intensity") if isinstance(row, dict) else None
            if not isinstance(intensity, dict):
                raise GridFetchError("a period without intensity in the UK Carbon Intensity response")
            value = intensity.get(field)
            if value is None:
                continue  # e.g. no actual yet for this half hour
            out.append((_when(row.get("from"), "UK Carbon Intensity"), _when(row.get("to"), "UK Carbon Intensity"), number(value, field)))
        return out

    def fetch(self, now: _dt.datetime) -> Forecast:
        kind, ident = self._path()
        t = _ukci_time(now)
        if kind == "national":
            url = f"{self.base_url}/intensity/{t}/fw48h"
        else:
            url = f"{self.base_url}/regional/intensity/{t}/fw48h/{kind}/{ident}"
        doc = get_json(self.session(), url, self.timeout_s, headers={"Accept": "application/json"})
        return self.forecast(self._periods(doc, "forecast"), now)

    @property
    def has_history(self) -> bool:  # type: ignore[override]
        return self._path()[0] == "national"

    def fetch_history(self, start: _dt.datetime, end: _dt.datetime) -> Forecast:
        url = f"{self.base_url}/intensity/{_ukci_time(start)}/{_ukci_time(end)}"
        doc = get_json(self.session(), url, self.timeout_s, headers={"Accept": "application/json"})
        fc = self.forecast(self._periods(doc, "actual"), end)
        return Forecast(fc.provider, "UK Carbon Intensity API, NESO (actual, CC BY 4.0)", fc.zone, fc.signal, fc.periods, fc.fetched_at)


class ElectricityMapsProvider(ForecastProvider):
    name = "electricitymaps"
    source = "Electricity Maps (forecast)"
    default_url = "https://api.electricitymaps.com/v3"
    has_history = True

    def _periods(self, doc: Any, key: str) -> List[Period]:
        points = []
        for row in _items(doc, key, "Electricity Maps"):
            if not isinstance(row, dict) or row.get("carbonIntensity") is None:
                continue
            points.append((_when(row.get("datetime"), "Electricity Maps"), number(row["carbonIntensity"], "carbonIntensity")))
        return periods_from_starts(points, 3600.0)

    def _get(self, path: str) -> Any:
        return get_json(self.session(), f"{self.base_url}{path}", self.timeout_s, params={"zone": self.zone}, headers={"auth-token": self._token or ""})

    def fetch(self, now: _dt.datetime) -> Forecast:
        return self.forecast(self._periods(self._get("/carbon-intensity/forecast"), "forecast"), now)

    def fetch_history(self, start: _dt.datetime, end: _dt.datetime) -> Forecast:
        fc = self.forecast(self._periods(self._get("/carbon-intensity/history"), "history"), end)
        return Forecast(fc.provider, "Electricity Maps (history)", fc.zone, fc.signal, fc.periods, fc.fetched_at)


class WattTimeProvider(ForecastProvider):
    name = "watttime"
    source = "WattTime v3 co2_moer (forecast, marginal)"
    signal = "marginal"
    default_url = "https://api.watttime.org"
    has_history = True

    def _periods(self, doc: Any) -> List[Period]:
        meta = doc.get("meta") if isinstance(doc, dict) else None
        meta = meta if isinstance(meta, dict) else {}
        units = str(meta.get("units") or "lbs_co2_per_mwh")
        scale = LB_PER_MWH_TO_G_PER_KWH if "lb" in units else 1.0
        step = meta.get("data_point_period_seconds")
        points = []
        for row in _items(doc, "data", "WattTime"):
            if not isinstance(row, dict):
                continue
            points.append((_when(row.get("point_time"), "WattTime"), number(row.get("value"), "value") * scale))
        return periods_from_starts(points, float(step) if isinstance(step, (int, float)) and step > 0 else 300.0)

    def _get(self, path: str, params: Any) -> Any:
        bearer = watttime_bearer(self.session(), self.base_url, self._token, self.timeout_s)
        return get_json(self.session(), f"{self.base_url}{path}", self.timeout_s, params=params, headers={"Authorization": f"Bearer {bearer}"})

    def fetch(self, now: _dt.datetime) -> Forecast:
        doc = self._get("/v3/forecast", {"region": self.zone, "signal_type": "co2_moer"})
        return self.forecast(self._periods(doc), now)

    def fetch_history(self, start: _dt.datetime, end: _dt.datetime) -> Forecast:
        params = {"region": self.zone, "signal_type": "co2_moer", "start": start.isoformat(), "end": end.isoformat()}
        fc = self.forecast(self._periods(self._get("/v3/historical", params)), end)
        return Forecast(fc.provider, "WattTime v3 co2_moer (historical, marginal)", fc.zone, fc.signal, fc.periods, fc.fetched_at)


class EnerginetProvider(ForecastProvider):
    name = "energinet"
    source = "Energinet Energi Data Service CO2EmisProg (prognosis)"
    default_url = "https://api.energidataservice.dk"
    has_history = True

    def _get(self, dataset: str, start: _dt.datetime, end: _dt.datetime) -> List[Period]:
        fmt = "%Y-%m-%dT%H:%M"
        params = {
            "start": start.astimezone(_dt.timezone.utc).strftime(fmt), "end": end.astimezone(_dt.timezone.utc).strftime(fmt),
            "filter": json.dumps({"PriceArea": [self.zone]}), "sort": "Minutes5UTC ASC", "timezone": "UTC", "limit": 2000,
        }  # fmt: skip
        doc = get_json(self.session(), f"{self.base_url}/dataset/{dataset}", self.timeout_s, params=params)
        points = []
        for row in _items(doc, "records", "Energi Data Service"):
            if not isinstance(row, dict) or row.get("CO2Emission") is None:
                continue
            if row.get("PriceArea") not in (None, self.zone):
                continue
            points.append((_when(row.get("Minutes5UTC"), "Energi Data Service"), number(row["CO2Emission"], "CO2Emission")))
        return periods_from_starts(points, 300.0)

    def fetch(self, now: _dt.datetime) -> Forecast:
        return self.forecast(self._get("CO2EmisProg", now - _dt.timedelta(minutes=5), now + _dt.timedelta(hours=48)), now)

    def fetch_history(self, start: _dt.datetime, end: _dt.datetime) -> Forecast:
        fc = self.forecast(self._get("CO2Emis", start - _dt.timedelta(minutes=5), end + _dt.timedelta(minutes=5)), end)
        return Forecast(fc.provider, "Energinet Energi Data Service CO2Emis (observed)", fc.zone, fc.signal, fc.periods, fc.fetched_at)


