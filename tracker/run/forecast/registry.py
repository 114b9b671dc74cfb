"""Build a forecast provider from its name and settings (arguments or ``WATTPRINT_FORECAST*``).

    make_provider("ukci", zone="postcode:RG10")
    make_provider("file", path="forecast.csv")
    make_provider(None)   # None: nothing configured (WATTPRINT_FORECAST unset): no provider, no network

Settings: ``forecast_provider`` (``WATTPRINT_FORECAST`` or ``WATTPRINT_FORECAST_PROVIDER``), ``forecast_zone``
(``WATTPRINT_FORECAST_ZONE``), ``forecast_token`` (``WATTPRINT_FORECAST_TOKEN``; never
logged), ``forecast_url`` (``WATTPRINT_FORECAST_URL``), ``forecast_timeout_s`` (seconds, > 0,
default 10). For ``file`` the zone is the path (``forecast_file`` / ``WATTPRINT_FORECAST_FILE``).

Failure modes: an unknown provider, a missing zone or token, a bad URL or timeout, or a
missing ``requests`` package raise :class:`~wattprint.errors.ConfigError` naming the setting.
Nothing here opens a socket.
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any, Dict, Mapping, Optional, Type

from wattprint.errors import ConfigError
from wattprint.run.forecast.base import ForecastProvider
from wattprint.run.forecast.providers import ElectricityMapsProvider, EnerginetProvider, UkciProvider, WattTimeProvider
from wattprint.run.forecast.user_file import FileProvider
from wattprint.settings import setting_float, setting_str

__all__ = ["PROVIDERS", "make_provider", "forecast_provider"]

_HTTP: Dict[str, Type[ForecastProvider]] = {
    "ukci": UkciProvider,
    "electricitymaps": ElectricityMapsProvider,
    "watttime": WattTimeProvider,
    "energinet": EnerginetProvider,
}
PROVIDERS = tuple(_HTTP) + ("file",)


def make_provider(
    name: Optional[str],
    *,
    zone: Optional[str] = None,
    token: Optional[str] = None,
    url: Optional[str] = None,
    path: Optional[str] = None,
    timeout_s: Optional[float] = None,
    cache_s: float = 900.0,
    session: Any = None,
    env: Optional[Mapping[str, str]] = None,
) -> Optional[ForecastProvider]:
    """The provider named ``name`` (or ``WATTPRINT_FORECAST``), ``None`` when none is configured.

    Raises:
        ConfigError: see the module docstring.
    """
    env = os.environ if env is None else env
    chosen = setting_str("forecast_provider", name, env, None) or (env.get("WATTPRINT_FORECAST") or None)
    if chosen is None:
        return None
    key = chosen.strip().lower()
    if key not in PROVIDERS:
        raise ConfigError("forecast_provider", f"unknown forecast provider {chosen!r}; allowed: {', '.join(PROVIDERS)}")
    if key == "file":
        file_path = setting_str("forecast_file", path or zone, env, None)
        if file_path is None:
            raise ConfigError("forecast_file", "the file provider needs a path (a CSV or JSON forecast)")
        if not os.path.isfile(file_path):
            raise ConfigError("forecast_file", f"no such forecast file: {file_path!r}")
        return FileProvider(file_path)
    zone = setting_str("forecast_zone", zone, env, None)
    token = setting_str("forecast_token", token, env, None)
    url = setting_str("forecast_url", url, env, None)
    if url is not None and not url.startswith(("http://", "https://")):
        raise ConfigError("forecast_url", f"must be an http(s) URL, got {url!r}")
    t = setting_float("forecast_timeout_s", timeout_s, env, 10.0, minimum=0.0, inclusive=False)
    if session is None and importlib.util.find_spec("requests") is None:
        raise ConfigError("forecast_provider", "forecasts need the requests package: pip install 'wattprint[live]'")
    if key == "ukci" and zone is not None:
        kind, _, ident = zone.partition(":")
        if zone.strip().upper() not in ("GB", "NATIONAL") and (kind not in ("regionid", "postcode") or not ident.strip()):
            raise ConfigError("forecast_zone", f"UK Carbon Intensity zone {zone!r}: use GB, regionid:N (1-17) or postcode:OUTCODE")
    if key == "electricitymaps":
        if zone is None:
            raise ConfigError("forecast_zone", "Electricity Maps needs a zone (e.g. DE, US-MIDA-PJM)")
        if not token:
            raise ConfigError("forecast_token", "Electricity Maps needs an API key (forecast_token or WATTPRINT_FORECAST_TOKEN)")
    if key == "watttime":
        if zone is None:
            raise ConfigError("forecast_zone", "WattTime needs a region (e.g. CAISO_NORTH)")
        if not token or ":" not in token:
            raise ConfigError("forecast_token", "WattTime needs 'user:password' (forecast_token or WATTPRINT_FORECAST_TOKEN)")
    if key == "energinet":
        zone = (zone or "").strip().upper()
        if zone not in ("DK1", "DK2"):
            raise ConfigError("forecast_zone", f"Energinet covers DK1 (west) and DK2 (east), got {zone or None!r}")
    return _HTTP[key](zone, token, base_url=url, timeout_s=t, cache_s=cache_s, session=session)


forecast_provider = make_provider  # the public name: wattprint.forecast_provider(...)
