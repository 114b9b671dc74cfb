"""One interface for carbon-intensity forecasts: :class:`Forecast` and :class:`ForecastProvider`.

Units: intensities in gCO2e/kWh; times aware UTC datetimes; durations seconds.
A forecast is a sorted series of half-open periods ``[start, end)`` of constant
intensity. Its ``signal`` is ``"average"`` (what the grid emits per kWh on
average: UK Carbon Intensity, Electricity Maps, Energinet) or ``"marginal"``
(the emissions of the next kWh: WattTime ``co2_moer``); the two are never mixed
in one figure.

A provider fetches only when asked (``get``/``history``) or when its
background refresher was started (``prefetch``); a result is cached per
(provider, zone, URL) for ``cache_s`` across providers of the process.

Failure modes: a bad setting raises :class:`~wattprint.errors.ConfigError` when
the provider is built. ``fetch``/``fetch_history`` raise
:class:`~wattprint.run.forecast._http.GridFetchError`; ``get`` and ``history``
never raise: they return ``None`` and keep the reason (``reason``), with the
token masked. A response with no usable period is a failure, not an empty forecast.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from wattprint.run.forecast._http import GridFetchError, redact
from wattprint.units import iso_utc

__all__ = ["Forecast", "ForecastProvider", "Period", "SIGNALS", "periods_from_starts", "clear_cache"]

logger = logging.getLogger("wattprint")

SIGNALS = ("average", "marginal")
MAX_PERIODS = 20_000

Period = Tuple[_dt.datetime, _dt.datetime, float]  # start, end (UTC), gCO2e/kWh

_CACHE: Dict[Tuple[str, str, str, str], Tuple[float, Any]] = {}
_CACHE_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget cached forecasts (tests)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def periods_from_starts(points: Sequence[Tuple[_dt.datetime, float]], step_s: Optional[float] = None) -> List[Period]:
    """Periods from ``(start, value)`` points: each ends where the next starts; the last lasts the
    smallest gap seen (a single point: ``step_s``, default one hour). Duplicate starts keep the last value."""
    by_start = {t: v for t, v in points}
    starts = sorted(by_start)
    if not starts:
        return []
    gaps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:], strict=False)]
    last_s = min(gaps) if gaps else (step_s or 3600.0)
    out: List[Period] = []
    for i, t in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else t + _dt.timedelta(seconds=last_s)
        out.append((t, end, by_start[t]))
    return out


@dataclass(frozen=True)
class Forecast:
    """A carbon-intensity series: ``periods`` (start, end, gCO2e/kWh), sorted, not overlapping."""

    provider: str
    source: str
    zone: Optional[str]
    signal: str
    periods: Tuple[Period, ...]
    fetched_at: Optional[_dt.datetime] = None
    notes: Tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.signal not in SIGNALS:
            raise ValueError(f"signal must be one of {SIGNALS}, got {self.signal!r}")
        cleaned: List[Period] = []
        for start, end, value in sorted(self.periods, key=lambda p: p[0]):
            if end <= start or (cleaned and start < cleaned[-1][1]):
                continue  # an empty period or one overlapping the previous: dropped
            cleaned.append((start, end, float(value)))
        object.__setattr__(self, "periods", tuple(cleaned[:MAX_PERIODS]))

    @property
    def start(self) -> Optional[_dt.datetime]:
        return self.periods[0][0] if self.periods else None

    @property
    def end(self) -> Optional[_dt.datetime]:
        return self.periods[-1][1] if self.periods else None

    def intensity_at(self, t: _dt.datetime) -> Optional[float]:
        """The intensity of the period holding ``t`` (``None`` outside the series or in a hole)."""
        for start, end, value in self.periods:
            if start <= t < end:
                return value
        return None

    def integral(self, start: _dt.datetime, end: _dt.datetime) -> Optional[float]:
        """∫ intensity dt over ``[start, end)``, in gCO2e/kWh·s; ``None`` unless the series covers all of it."""
        if end <= start:
            return 0.0
        total, covered = 0.0, 0.0
        for p_start, p_end, value in self.periods:
            lo, hi = max(start, p_start), min(end, p_end)
            if hi > lo:
                s = (hi - lo).total_seconds()
                total += value * s
                covered += s
        if covered + 1e-6 < (end - start).total_seconds():
            return None
        return total

    def mean(self, start: _dt.datetime, end: _dt.datetime) -> Optional[float]:
        """The time-weighted mean intensity over ``[start, end)``, gCO2e/kWh (``None`` when not covered)."""
        area = self.integral(start, end)
        span = (end - start).total_seconds()
        if area is None:
            return None
        return area / span if span > 0 else self.intensity_at(start)

    def describe(self) -> Dict[str, Any]:
        """What the footprint records of the forecast used (not every period)."""
        steps = sorted({(e - s).total_seconds() for s, e, _ in self.periods})
        values = [v for _, _, v in self.periods]
        return {
            "provider": self.provider, "source": self.source, "zone": self.zone, "signal": self.signal,
            "periods": len(self.periods), "step_s": steps[0] if steps else None,
            "first": iso_utc(self.start) if self.start else None, "last": iso_utc(self.end) if self.end else None,
            "fetched_at": iso_utc(self.fetched_at) if self.fetched_at else None,
            "min_g_per_kwh": min(values) if values else None, "max_g_per_kwh": max(values) if values else None,
        }  # fmt: skip


class ForecastProvider:
    """A source of forecasts (and, where the provider publishes it, the observed history).

    Subclasses set ``name``, ``source``, ``signal``, ``default_url`` and implement
    :meth:`fetch` (and :meth:`fetch_history` when history exists).

    Args:
        zone: the provider's zone (see each provider).
        token: API key or ``"user:password"``; kept private, never logged.
        base_url: the provider's base URL (default: the public API).
        timeout_s: per-request timeout, seconds.
        cache_s: how long a result is reused, seconds.
        session: a ``requests.Session``-like object (default: a new ``requests.Session``, made on first fetch).
    """

    name = "base"
    source = ""
    signal = "average"
    default_url = ""
    has_history = False
    needs_network = True

    def __init__(self, zone: Optional[str] = None, token: Optional[str] = None, *, base_url: Optional[str] = None,
                 timeout_s: float = 10.0, cache_s: float = 900.0, session: Any = None) -> None:  # fmt: skip
        self.zone = zone
        self.__token = token
        self.base_url = (base_url or self.default_url).rstrip("/")
        self.timeout_s = timeout_s
        self.cache_s = cache_s
        self._session = session
        self.reason: Optional[str] = None
        self._latest: Optional[Forecast] = None
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self.ready = threading.Event()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(zone={self.zone!r}, base_url={self.base_url!r})"

    @property
    def _token(self) -> Optional[str]:
        return self.__token

    def session(self) -> Any:
        if self._session is None:
            import requests  # lazy: only when a provider was configured and asked

            self._session = requests.Session()
        return self._session

    # -- what subclasses implement --------------------------------------------------
    def fetch(self, now: _dt.datetime) -> Forecast:  # pragma: no cover - abstract
        raise NotImplementedError

    def fetch_history(self, start: _dt.datetime, end: _dt.datetime) -> Forecast:
        raise GridFetchError(f"{self.source} publishes no observed history")

    def forecast(self, periods: Sequence[Period], now: _dt.datetime, notes: Sequence[str] = (), signal: Optional[str] = None) -> Forecast:
        if not periods:
            raise GridFetchError(f"no usable period in the {self.source} response")
        return Forecast(self.name, self.source, self.zone, signal or self.signal, tuple(periods), now, tuple(notes))

    # -- what callers use: cached, never raising ------------------------------------
    def _cached(self, kind: str, key_extra: str, make: Any) -> Optional[Forecast]:
        key = (self.name + ":" + kind, self.zone or "", self.base_url, key_extra)
        now_s = time.monotonic()
        with _CACHE_LOCK:
            hit = _CACHE.get(key)
        if hit is not None and now_s - hit[0] < self.cache_s:
            return hit[1]  # type: ignore[no-any-return]
        try:
            result = make()
        except GridFetchError as err:
            self._fail(str(err))
            return None
        except Exception as err:  # a bug or an odd response: recorded, never raised
            self._fail(f"{type(err).__name__}: {err}")
            return None
        with _CACHE_LOCK:
            _CACHE[key] = (now_s, result)
        self.reason = None
        return result  # type: ignore[no-any-return]

    def _fail(self, reason: str) -> None:
        self.reason = reason = redact(reason, self.__token)
        logger.warning("wattprint: forecast from %s failed (%s)", self.source, reason)

    def get(self, now: Optional[_dt.datetime] = None) -> Optional[Forecast]:
        """The forecast from ``now`` (cached), or ``None`` with :attr:`reason` set. Never raises."""
        now = now or _dt.datetime.now(_dt.timezone.utc)
        result = self._cached("forecast", "", lambda: self.fetch(now))
        if result is not None:
            with self._lock:
                self._latest = result
        self.ready.set()
        return result

    def history(self, start: _dt.datetime, end: _dt.datetime) -> Optional[Forecast]:
        """The observed intensity over ``[start, end)`` (``None`` with :attr:`reason` when unavailable)."""
        if not self.has_history:
            self.reason = f"{self.source} publishes no observed history"
            return None
        return self._cached("history", f"{iso_utc(start)}/{iso_utc(end)}", lambda: self.fetch_history(start, end))

    # -- off the training thread ----------------------------------------------------
    def prefetch(self, refresh_s: Optional[float] = None, event: Any = None) -> None:
        """Fetch now and every ``refresh_s`` (default ``cache_s``) in a named daemon thread. Idempotent."""
        if self._thread is not None:
            return
        stop = event or self._stop
        period = refresh_s or self.cache_s

        def run() -> None:
            while True:
                self.get()
                if stop.wait(period):
                    return

        self._stop = stop
        self._thread = threading.Thread(target=run, name="wattprint-forecast", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()

    def latest(self) -> Optional[Forecast]:
        """The last forecast fetched (by ``get`` or the refresher), without fetching."""
        with self._lock:
            return self._latest

    def intensity_at(self, t: _dt.datetime) -> Optional[float]:
        """The intensity at ``t`` from the last forecast fetched (``None`` if none covers ``t``)."""
        fc = self.latest()
        return fc.intensity_at(t) if fc is not None else None
