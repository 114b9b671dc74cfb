"""Live grid carbon intensity (opt-in), over ``requests``.

Providers:
    ``electricitymaps``: Electricity Maps v3 ``GET /carbon-intensity/latest?zone=Z`` with the
        ``auth-token`` header (a key is needed; the free tier covers one zone).
    ``ukci``: the UK Carbon Intensity API (National Energy System Operator, no key, CC BY 4.0):
        ``GET /intensity`` (national), ``/regional/regionid/N`` or ``/regional/postcode/OUTCODE``.
        The ``actual`` value is used when published, else the ``forecast``.
    ``watttime``: WattTime v3. ``GET /login`` (HTTP Basic, ``grid_token="user:password"``)
        gives a bearer token (30 min); ``GET /v3/forecast?region=Z&signal_type=co2_moer``
        gives the marginal intensity in lb/MWh (converted: x 0.45359237). The forecast is
        subscriber-only except for ``CAISO_NORTH``; MOER is a *marginal* rate, not an average.

A :class:`LiveGrid` fetches in its own named daemon thread, first at
``start()`` and then every ``refresh_s``; each request has a timeout. Results
are cached per (provider, zone, URL) for ``refresh_s`` across trackers in the
process. Nothing is fetched before ``start()``, and nothing at all unless a
provider was configured; :func:`resolve_run_factors` attaches one to a run's factors.

Failure modes: a bad setting raises :class:`~wattprint.errors.ConfigError` when the
run is built. Fetch failures are recorded as a reason (the accounting
then falls back to the bundled figure and says why); they never raise into
the caller. The token never appears in logs, reasons, reprs or footprints.
"""

from __future__ import annotations

import datetime as _dt
import importlib.util
import logging
import os
import threading
import time
from dataclasses import replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from wattprint.errors import ConfigError
from wattprint.footprint.factors import ACCOUNTING_OPTIONS, Factors, accounting_option, resolve_factors
from wattprint.run.forecast._http import _WATTTIME_TOKENS as _WATTTIME_TOKENS  # tests clear it here
from wattprint.run.forecast._http import LB_PER_MWH_TO_G_PER_KWH, GridFetchError, redact, watttime_bearer
from wattprint.run.forecast._http import get_json as _get_json
from wattprint.run.forecast._http import number as _number
from wattprint.settings import setting_float
from wattprint.units import parse_utc

__all__ = ["LiveGrid", "PROVIDERS", "from_options", "clear_cache", "resolve_run_factors"]

logger = logging.getLogger("wattprint")

PROVIDERS = ("electricitymaps", "ukci", "watttime")
BASE_URLS = {
    "electricitymaps": "https://api.electricitymaps.com/v3",
    "ukci": "https://api.carbonintensity.org.uk",
    "watttime": "https://api.watttime.org",
}
PROVIDER_NAMES = {
    "electricitymaps": "Electricity Maps (live)",
    "ukci": "UK Carbon Intensity API, NESO (live, CC BY 4.0)",
    "watttime": "WattTime v3 co2_moer (live, marginal)",
}
MAX_READINGS = 10_000

Reading = Tuple[_dt.datetime, float]

_CACHE: Dict[Tuple[str, str, str], Tuple[float, Reading]] = {}
_CACHE_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget cached readings (tests)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def fetch_electricitymaps(session: Any, base: str, zone: str, token: Optional[str], timeout_s: float) -> Reading:
    doc = _get_json(session, f"{base}/carbon-intensity/latest", timeout_s, params={"zone": zone}, headers={"auth-token": token or ""})
    if not isinstance(doc, dict) or "carbonIntensity" not in doc:
        raise GridFetchError("no carbonIntensity in the Electricity Maps response")
    value = _number(doc["carbonIntensity"], "carbonIntensity")
    return (parse_utc(doc.get("datetime")) or _dt.datetime.now(_dt.timezone.utc), value)


def fetch_ukci(session: Any, base: str, zone: Optional[str], token: Optional[str], timeout_s: float) -> Reading:
    z = (zone or "").strip()
    if not z or z.upper() in ("GB", "NATIONAL"):
        doc = _get_json(session, f"{base}/intensity", timeout_s, headers={"Accept": "application/json"})
        try:
            period = doc["data"][0]
        except (KeyError, IndexError, TypeError):
            raise GridFetchError("no data[0] in the UK Carbon Intensity response") from None
    else:
        kind, _, ident = z.partition(":")
        if kind not in ("regionid", "postcode") or not ident:
            raise GridFetchError(f"zone {zone!r}: use GB, regionid:N or postcode:OUTCODE")
        doc = _get_json(session, f"{base}/regional/{kind}/{ident}", timeout_s, headers={"Accept": "application/json"})
        try:
            region = doc["data"][0]
            period = region["data"][0] if "data" in region else region
        except (KeyError, IndexError, TypeError):
            raise GridFetchError("no data in the UK Carbon Intensity regional response") from None
    intensity = period.get("intensity") if isinstance(period, dict) else None
    if not isinstance(intensity, dict):
        raise GridFetchError("no intensity in the UK Carbon Intensity response")
    value = intensity.get("actual")
    if value is None:
        value = intensity.get("forecast")
    return (parse_utc(period.get("from")) or _dt.datetime.now(_dt.timezone.utc), _number(value, "intensity"))


def fetch_watttime(session: Any, base: str, zone: str, token: Optional[str], timeout_s: float) -> Reading:
    bearer = watttime_bearer(session, base, token, timeout_s)
    doc = _get_json(
        session,
        f"{base}/v3/forecast",
        timeout_s,
        params={"region": zone, "signal_type": "co2_moer", "horizon_hours": 0},
        headers={"Authorization": f"Bearer {bearer}"},
    )
    try:
        point = doc["data"][0]
    except (KeyError, IndexError, TypeError):
        raise GridFetchError("no data[0] in the WattTime response") from None
    units = ((doc.get("meta") or {}).get("units") or "lbs_co2_per_mwh") if isinstance(doc, dict) else "lbs_co2_per_mwh"
    value = _number(point.get("value"), "value")
    if "lb" in units:
        value *= LB_PER_MWH_TO_G_PER_KWH
    return (parse_utc(point.get("point_time")) or _dt.datetime.now(_dt.timezone.utc), value)


_FETCHERS: Dict[str, Callable[..., Reading]] = {
    "electricitymaps": fetch_electricitymaps,
    "ukci": fetch_ukci,
    "watttime": fetch_watttime,
}


class LiveGrid:
    """Fetches live grid intensity in a background daemon thread.

    Args:
        provider: one of :data:`PROVIDERS`.
        zone: the provider's zone (see the module docstring).
        token: API key (Electricity Maps) or ``"user:password"`` (WattTime); kept private.
        base_url: the provider's base URL (default: the public API).
        timeout_s: per-request timeout, seconds.
        refresh_s: period between fetches, seconds (also the cache lifetime).
        session: a ``requests.Session``-like object (default: a new ``requests.Session``).
    """

    def __init__(
        self,
        provider: str,
        zone: Optional[str],
        token: Optional[str] = None,
        *,
        base_url: Optional[str] = None,
        timeout_s: float = 5.0,
        refresh_s: float = 900.0,
        session: Any = None,
    ) -> None:
        self.provider = provider
        self.zone = zone
        self.__token = token
        self.base_url = (base_url or BASE_URLS[provider]).rstrip("/")
        self.timeout_s = timeout_s
        self.refresh_s = refresh_s
        self._session = session
        self._lock = threading.Lock()
        self._readings: List[Reading] = []
        self._stop = threading.Event()
        self._first_done = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._reason: Optional[str] = None
        self._fetches = 0
        self._failures = 0
        self._last_ok_utc: Optional[_dt.datetime] = None

    def __repr__(self) -> str:
        return f"LiveGrid(provider={self.provider!r}, zone={self.zone!r}, base_url={self.base_url!r})"

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        """Start the fetch thread (idempotent). Returns at once."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="wattprint-grid", daemon=True)
        self._thread.start()

    def stop(self, wait_s: float = 0.0) -> None:
        """Stop fetching. Waits at most ``wait_s`` for a first fetch still in flight."""
        if self._thread is not None and not self._first_done.is_set() and wait_s > 0:
            self._first_done.wait(wait_s)
        self._stop.set()

    def wait_ready(self, timeout_s: float) -> bool:
        """Wait until the first fetch finished (successfully or not)."""
        return self._first_done.wait(timeout_s)

    def _run(self) -> None:
        try:
            while True:
                self.fetch_once()
                if self._stop.wait(self.refresh_s):
                    return
        finally:
            self._first_done.set()

    def fetch_once(self) -> None:
        """One fetch (or a cache hit). Records a reading or a reason; never raises."""
        try:
            self._fetch()
        finally:
            self._first_done.set()

    def _fetch(self) -> None:
        key = (self.provider, self.zone or "", self.base_url)
        now = time.monotonic()
        with _CACHE_LOCK:
            hit = _CACHE.get(key)
        if hit is not None and now - hit[0] < self.refresh_s:
            self._add(hit[1])
            return
        try:
            session = self._session
            if session is None:
                import requests  # lazy: only when a provider was configured

                session = self._session = requests.Session()
            reading = _FETCHERS[self.provider](session, self.base_url, self.zone, self.__token, self.timeout_s)
        except GridFetchError as err:
            self._fail(str(err))
            return
        except Exception as err:  # a bug or an odd response: record, never raise
            self._fail(f"{type(err).__name__}: {err}")
            return
        with _CACHE_LOCK:
            _CACHE[key] = (now, reading)
        self._add(reading)

    def _add(self, reading: Reading) -> None:
        with self._lock:
            self._fetches += 1
            if not self._readings or self._readings[-1] != reading:
                self._readings.append(reading)
                if len(self._readings) > MAX_READINGS:
                    del self._readings[: len(self._readings) - MAX_READINGS]
            self._reason = None
            self._last_ok_utc = _dt.datetime.now(_dt.timezone.utc)

    def _fail(self, reason: str) -> None:
        reason = redact(reason, self.__token)
        with self._lock:
            self._fetches += 1
            self._failures += 1
            self._reason = reason
        logger.warning("wattprint: live grid intensity from %s failed (%s); using the bundled figure", self.provider, reason)

    # -- what the accounting reads ------------------------------------------
    def readings(self) -> List[Reading]:
        with self._lock:
            return sorted(self._readings, key=lambda r: r[0])

    def status(self) -> Dict[str, Any]:
        with self._lock:
            n = len(self._readings)
            if n:
                state = "live"
            elif not self._first_done.is_set():
                state = "pending"
            else:
                state = "fallback"
            reason = self._reason
            if state == "pending":
                reason = "no live reading had arrived yet"
            return {
                "provider": self.provider,
                "source": PROVIDER_NAMES[self.provider],
                "zone": self.zone,
                "url": self.base_url,
                "status": state,
                "readings": n,
                "fetches": self._fetches,
                "failures": self._failures,
                "reason": reason,
            }


def from_options(provider: Any, setting: str, region_code: str, options: Mapping[str, Any], env: Mapping[str, str]) -> LiveGrid:
    """Build a :class:`LiveGrid` from accounting options / ``WATTPRINT_GRID*`` variables.

    Raises:
        ConfigError: unknown provider, missing zone or token, bad timeout.
    """
    name = str(provider).strip().lower()
    if name not in PROVIDERS:
        raise ConfigError(setting, f"unknown live grid provider {provider!r}; allowed: {', '.join(PROVIDERS)}")

    if options.get("grid_session") is None and importlib.util.find_spec("requests") is None:
        raise ConfigError(setting, "live grid intensity needs the requests package: pip install 'wattprint[live]'")
    zone, zone_setting = accounting_option("grid_zone", options, env)
    token, token_setting = accounting_option("grid_token", options, env)
    url, url_setting = accounting_option("grid_url", options, env)
    if zone is not None and (not isinstance(zone, str) or not zone.strip()):
        raise ConfigError(zone_setting, f"must be a non-empty string, got {zone!r}")
    if name == "electricitymaps":
        if zone is None:
            zone = region_code if (len(region_code) == 2 and region_code.isalpha()) else None
        if zone is None:
            raise ConfigError("grid_zone", f"Electricity Maps needs a zone (e.g. DE, US-MIDA-PJM); region {region_code!r} does not name one")
        if not token:
            raise ConfigError("grid_token", "Electricity Maps needs an API key (grid_token= or WATTPRINT_GRID_TOKEN)")
    if name == "watttime":
        if zone is None:
            raise ConfigError("grid_zone", "WattTime needs a region (e.g. CAISO_NORTH)")
        if not token or ":" not in str(token):
            raise ConfigError("grid_token", "WattTime needs 'user:password' (grid_token= or WATTPRINT_GRID_TOKEN)")
    if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        raise ConfigError(url_setting, f"must be an http(s) URL, got {url!r}")
    timeout_s = _positive_float("grid_timeout_s", options.get("grid_timeout_s"), env, 5.0)
    refresh_s = _positive_float("grid_refresh_s", options.get("grid_refresh_s"), env, 900.0)
    return LiveGrid(name, zone, token, base_url=url, timeout_s=timeout_s, refresh_s=refresh_s, session=options.get("grid_session"))


def _positive_float(name: str, value: Any, env: Mapping[str, str], default: float) -> float:
    v = setting_float(name, value, env, default, minimum=0.0, inclusive=False)
    assert v is not None  # a default was given
    return v


def resolve_run_factors(**kwargs: Any) -> Factors:
    """The factors of a tracked run: :func:`~wattprint.footprint.factors.resolve_factors`, plus the live grid.

    Takes the same keyword arguments as ``resolve_factors`` (``accounting_options``
    spread in). With a ``grid`` provider (keyword or ``WATTPRINT_GRID``) the result's
    ``live`` is a :class:`LiveGrid`, not yet started (nothing is fetched before
    ``Factors.start()``), and ``stop_wait_s`` is ``grid_stop_wait_s`` (default 1 s).

    Raises:
        ConfigError: what ``resolve_factors`` raises; an unknown provider, a missing zone
            or token, a bad URL or timeout; a live grid together with an explicit
            ``intensity_g_per_kwh``.
    """
    factors = resolve_factors(**kwargs)
    env: Mapping[str, str] = os.environ if kwargs.get("env") is None else kwargs["env"]
    options = {k: v for k, v in kwargs.items() if k in ACCOUNTING_OPTIONS}
    provider, setting = accounting_option("grid", options, env)
    if provider is None:
        return factors
    if kwargs.get("intensity_g_per_kwh") is not None:
        raise ConfigError(setting, "a live grid and an explicit intensity_g_per_kwh exclude each other; choose one")
    live = from_options(provider, setting, factors.region, options, env)
    stop_wait_s = setting_float("grid_stop_wait_s", options.get("grid_stop_wait_s"), env, 1.0, minimum=0.0)
    return replace(factors, live=live, stop_wait_s=1.0 if stop_wait_s is None else stop_wait_s)
