"""The HTTP helpers shared by the live grid (:mod:`wattprint.run.grid_live`) and the forecasts.

``get_json`` does one GET with a timeout and turns every failure into a
:class:`GridFetchError` whose message is safe to record (the URL without its
query, the HTTP status, never a header or a token); ``number`` checks one
intensity value (g/kWh, finite, >= 0); ``redact`` masks a token (and each of
its ``user:password`` parts) in a message; ``watttime_bearer`` logs in to
WattTime once per 25 minutes per (base URL, user).

Failure modes: every helper raises :class:`GridFetchError` (never anything
else) for a refused token, an HTTP error, a timeout, a connection failure or a
body that is not JSON; callers record the message as a fallback reason.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Dict, Optional, Tuple

__all__ = ["GridFetchError", "get_json", "number", "redact", "watttime_bearer", "LB_PER_MWH_TO_G_PER_KWH"]

LB_PER_MWH_TO_G_PER_KWH = 0.45359237

_WATTTIME_TOKENS: Dict[Tuple[str, str], Tuple[float, str]] = {}
_WATTTIME_LOCK = threading.Lock()


class GridFetchError(Exception):
    """A live fetch failed; the message is safe to record (no secrets)."""


def number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise GridFetchError(f"unexpected {what} in the response: {value!r}")
    return float(value)


def get_json(session: Any, url: str, timeout_s: float, **kw: Any) -> Any:
    try:
        resp = session.get(url, timeout=timeout_s, **kw)
    except Exception as err:  # requests.Timeout, ConnectionError, ...
        raise GridFetchError(f"{type(err).__name__} on GET {url.split('?')[0]}") from None
    if resp.status_code in (401, 403):
        raise GridFetchError(f"HTTP {resp.status_code} from {url.split('?')[0]}: the token was refused")
    if resp.status_code >= 400:
        raise GridFetchError(f"HTTP {resp.status_code} from {url.split('?')[0]}")
    try:
        return resp.json()
    except ValueError:
        raise GridFetchError(f"the response of {url.split('?')[0]} is not JSON") from None


def redact(reason: str, token: Optional[str]) -> str:
    """``reason`` with ``token`` (and each ``user:password`` part of 4+ characters) replaced by ``***``."""
    if token:
        reason = reason.replace(token, "***")
        for part in token.split(":"):
            if len(part) >= 4:
                reason = reason.replace(part, "***")
    return reason


def watttime_bearer(session: Any, base: str, token: Optional[str], timeout_s: float) -> str:
    """A WattTime bearer token for ``token="user:password"`` (``GET /login``, HTTP Basic), cached 25 min."""
    user, _, password = (token or "").partition(":")
    key = (base, user)
    now = time.monotonic()
    with _WATTTIME_LOCK:
        cached = _WATTTIME_TOKENS.get(key)
    if cached is not None and now - cached[0] <= 25 * 60:
        return cached[1]
    doc = get_json(session, f"{base}/login", timeout_s, auth=(user, password))
    bearer = doc.get("token") if isinstance(doc, dict) else None
    if not bearer or not isinstance(bearer, str):
        raise GridFetchError("no token in the WattTime login response")
    with _WATTTIME_LOCK:
        _WATTTIME_TOKENS[key] = (now, bearer)
    return bearer
