"""One request's record, the ledger's interval, and the checks of request arguments.

Units: seconds on the tracker's monotonic clock, joules, token counts. See
:mod:`wattprint.run.requests` for how energy is attributed; :meth:`RequestRecord.weight`
is the token weighting it uses (prefill tokens spread over ``[start_s, first_token_s]``,
decode tokens over ``[first_token_s, end_s]``; over the whole request without a
first-token time; one decode token when no count is known).

Failure modes: the checks raise ``ValueError`` naming the argument; :func:`safe_count`
logs and drops a bad count set on a record instead of raising at a request's end.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Callable, List, Optional, Tuple

__all__ = ["RequestRecord", "Interval", "count", "safe_count", "check_time", "label"]

logger = logging.getLogger("wattprint")

_EPS_S = 1e-6  # a request of zero duration lasts this long


class RequestRecord:
    """One request. ``Tracker.request()`` yields it; set ``tokens_out`` (and call :meth:`first_token`).

    After it settles, ``energy_j`` (joules, all components), ``components`` (joules per
    component id), ``prefill_energy_j``/``decode_energy_j`` (when the first-token time is
    known) and ``estimated`` are filled in.
    """

    __slots__ = (
        "tokens_in", "tokens_out", "model", "endpoint", "start_s", "end_s", "first_token_s", "_clock",
        "energy", "estimated_j", "prefill_j", "seq", "done",
    )  # fmt: skip

    def __init__(self, tokens_in: Optional[int], tokens_out: Optional[int], start_s: float, end_s: Optional[float] = None,
                 first_token_s: Optional[float] = None, model: Optional[str] = None, endpoint: Optional[str] = None,
                 clock: Optional[Callable[[], float]] = None) -> None:  # fmt: skip
        self.tokens_in, self.tokens_out = tokens_in, tokens_out
        self.model, self.endpoint = model, endpoint
        self.start_s, self.end_s, self.first_token_s = start_s, end_s, first_token_s
        self._clock = clock
        self.energy: List[float] = []
        self.estimated_j = 0.0
        self.prefill_j = 0.0
        self.seq = 0
        self.done = False

    def first_token(self) -> None:
        """Mark the first output token now (the first call counts)."""
        if self.first_token_s is None and self._clock is not None:
            self.first_token_s = self._clock()

    @property
    def energy_j(self) -> float:
        return sum(self.energy) + self.estimated_j

    @property
    def estimated(self) -> bool:
        return self.estimated_j > 0.0

    @property
    def duration_s(self) -> float:
        return max(0.0, (self.end_s if self.end_s is not None else self.start_s) - self.start_s)

    # -- weights -------------------------------------------------------------

    def weight(self, a: float, b: float, wp: float, wd: float) -> Tuple[float, float]:
        """(prefill, decode) weighted tokens processed in ``[a, b]``."""
        s = self.start_s
        e = max(self.end_s if self.end_s is not None else s, s + _EPS_S)
        tin = self.tokens_in or 0
        tout = self.tokens_out or 0
        if tin <= 0 and tout <= 0:
            tout = 1
        ft = self.first_token_s
        if ft is not None and s < ft < e:
            pre = wp * tin * _overlap(s, ft, a, b) / (ft - s)
            dec = wd * tout * _overlap(ft, e, a, b) / (e - ft)
            return pre, dec
        share = _overlap(s, e, a, b) / (e - s)
        return wp * tin * share, wd * tout * share

    def span(self) -> Tuple[float, float]:
        s = self.start_s
        return s, max(self.end_s if self.end_s is not None else s, s + _EPS_S)


def _overlap(s: float, e: float, a: float, b: float) -> float:
    return max(0.0, min(e, b) - max(s, a))


class Interval:
    __slots__ = ("t0", "t1", "idx", "energy", "idle_only")

    def __init__(self, t0: float, t1: float, idx: List[int], energy: List[float]) -> None:
        self.t0, self.t1, self.idx, self.energy = t0, t1, idx, energy
        self.idle_only = False


def count(name: str, value: Any) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0 or math.isinf(value):
        raise ValueError(f"{name} must be a count >= 0, got {value!r}")
    return int(value)


def safe_count(value: Any) -> Optional[int]:
    """A count set by the caller on a record; a bad one is dropped (logged), never raised at the request's end."""
    try:
        return count("tokens_out", value)
    except ValueError:
        logger.warning("wattprint: tokens_out=%r is not a count >= 0; the request is counted without it", value)
        return None


def check_time(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite time in seconds, got {value!r}")
    return float(value)


def label(value: Any) -> Optional[str]:
    return None if value is None else str(value)[:200]
