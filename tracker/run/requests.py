"""The request ledger: measured energy split among the requests a server handled.

Units: times are seconds on the tracker's monotonic clock (``time.monotonic()``
by default), energy joules, tokens counts.

How energy is attributed (no sensor is read per request):

- On every sampler tick the ledger sees each component's cumulative joules.
  Where a component was read since the last tick, the energy in between is one
  *interval* ``[t0, t1]`` of that component (components read together share an
  interval). Intervals are kept, bounded, until they *settle*.
- A request is active in an interval where its ``[start_s, end_s]`` overlaps it.
  The share of the interval covered by at least one request is busy, the rest
  idle: ``idle = E × idle_time / interval`` (so idle energy is power × idle time).
- Within an interval, energy is spread evenly over time and cut into segments
  at requests' start, first-token and end times; a segment's energy goes to the
  requests active in it, split by the tokens each processed in it: ``w = prefill_token_weight × tokens_in`` spread
  evenly over ``[start_s, first_token_s]`` plus ``decode_token_weight ×
  tokens_out`` spread over ``[first_token_s, end_s]`` (over the whole request
  when the first-token time is unknown). A request with no token counts weighs
  one decode token. Defaults: prefill 0.25, decode 1.0 per token: a prefill
  token is processed in parallel with the prompt's others and costs a fraction
  of a memory-bound decode step; set the weights from your own profile.
  Σ requests + idle = measured, per component, within rounding.
- An interval settles when no request still open (``Tracker.request``) started
  before its end; once ``record_request`` has been used (requests timed
  elsewhere, told after they end), intervals wait ``retention_s`` (default
  600 s) for the requests that overlap them. Intervals older than
  ``retention_s`` settle anyway; ``stop()`` settles all.
- A request told after some of its intervals settled is still counted: that part
  of its energy is estimated at the run's mean joules per weighted token so far
  (per component) and the record is marked ``estimated``; estimated joules are
  outside the measured sum and reported on their own.

Settled requests go to subscribers (:meth:`RequestLedger.subscribe`: the JSON
Lines log, Prometheus) and to :class:`~wattprint.run.requests_stats.RequestStats`.

Failure modes: a subscriber that raises is logged once and skipped, never
raised into the server; bad arguments to :meth:`RequestLedger.record` raise
``ValueError``. Nothing here reads a sensor or does I/O under its lock;
subscribers are called after the lock is released.
"""

from __future__ import annotations

import bisect
import heapq
import logging
import math
import operator
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from wattprint.run.request_record import Interval, RequestRecord, check_time, count, label, safe_count
from wattprint.run.requests_stats import RequestStats

__all__ = [
    "RequestLedger", "RequestRecord", "DEFAULT_RETENTION_S", "DEFAULT_PREFILL_TOKEN_WEIGHT",
    "DEFAULT_DECODE_TOKEN_WEIGHT", "MAX_INTERVALS",
]  # fmt: skip
_END = operator.attrgetter("t1")  # an interval's end, the settled list's order

logger = logging.getLogger("wattprint")

DEFAULT_RETENTION_S = 600.0
DEFAULT_PREFILL_TOKEN_WEIGHT = 0.25
DEFAULT_DECODE_TOKEN_WEIGHT = 1.0
MAX_INTERVALS = 200_000  # hard bound on retained intervals; the oldest settle first


class RequestLedger:
    """Attributes each interval's measured energy to the requests active in it (see the module docstring).

    Args:
        component_ids: the tracker's component ids, in order.
        clock: the tracker's monotonic clock (a callable returning seconds).
        retention_s: how long intervals wait for late ``record`` calls, seconds (>= 600 is the default).
        prefill_token_weight, decode_token_weight: per-token weights, >= 0.
    """

    def __init__(self, component_ids: Sequence[str], clock: Callable[[], float], retention_s: float = DEFAULT_RETENTION_S,
                 prefill_token_weight: float = DEFAULT_PREFILL_TOKEN_WEIGHT,
                 decode_token_weight: float = DEFAULT_DECODE_TOKEN_WEIGHT) -> None:  # fmt: skip
        self.ids = list(component_ids)
        self._n = len(self.ids)
        self.clock = clock
        self.retention_s = float(retention_s)
        self.wp, self.wd = float(prefill_token_weight), float(decode_token_weight)
        self._lock = threading.Lock()
        self.dormant: Any = None  # set by wattprint.run.serving: ticks kept until the first request
        self._last_e: List[Optional[float]] = [None] * self._n
        self._last_t: List[Optional[float]] = [None] * self._n
        self._intervals: List[Interval] = []  # not settled yet, ordered by t1
        self._settled: List[Interval] = []  # settled within retention_s, ordered by t1 (idle ones may reopen)
        self._open: Dict[int, RequestRecord] = {}
        self._pending: List[RequestRecord] = []  # ended, not yet settled; ordered by start_s
        self._pending_starts: List[float] = []
        self._settled_t: List[float] = [-math.inf] * self._n  # energy given out up to here, per component
        self._external = False
        self._seq = 0
        self.measured = [0.0] * self._n
        self.idle = [0.0] * self._n
        self.given = [0.0] * self._n  # joules given to requests (measured part)
        self.weight_given = [0.0] * self._n  # weighted tokens that received them
        self.stats = RequestStats(self.ids)
        self._subscribers: List[Callable[[RequestRecord], None]] = []
        self._failed_subscribers: set = set()
        self.t0_s: Optional[float] = None
        self.log: Any = None  # the RequestLog, when requests_log is set

    # -- inputs --------------------------------------------------------------

    def subscribe(self, callback: Callable[[RequestRecord], None]) -> None:
        """Call ``callback(record)`` for every settled request (from the sampler's thread, or ``stop()``'s)."""
        with self._lock:
            self._subscribers.append(callback)

    def begin(self, tokens_in: Optional[int] = None, model: Optional[str] = None, endpoint: Optional[str] = None) -> RequestRecord:
        """Open a request now; finish it with :meth:`end`."""
        n_in = count("tokens_in", tokens_in)
        with self._lock:  # the start is read under the lock: no interval settles past it unseen
            rec = RequestRecord(n_in, None, self.clock(), model=label(model), endpoint=label(endpoint), clock=self.clock)
            self._seq += 1
            rec.seq = self._seq
            self._open[rec.seq] = rec
        return rec

    def end(self, rec: RequestRecord) -> None:
        """Close a request opened by :meth:`begin` (now; twice is a no-op)."""
        end_s = self.clock()
        with self._lock:
            if self._open.pop(rec.seq, None) is None:
                return
            rec.end_s = end_s
            rec.tokens_out = safe_count(rec.tokens_out)
            self._add(rec)

    def record(self, tokens_in: Optional[int], tokens_out: Optional[int], start_s: float, end_s: float,
               first_token_s: Optional[float] = None, model: Optional[str] = None, endpoint: Optional[str] = None) -> RequestRecord:  # fmt: skip
        """A request timed elsewhere (seconds on the tracker's clock).

        Raises:
            ValueError: a negative token count, a non-finite time, ``end_s < start_s`` or a
                first-token time outside ``[start_s, end_s]``.
        """
        start_s, end_s = check_time("start_s", start_s), check_time("end_s", end_s)
        if end_s < start_s:
            raise ValueError(f"end_s ({end_s}) is before start_s ({start_s})")
        if first_token_s is not None:
            first_token_s = check_time("first_token_s", first_token_s)
            if not start_s <= first_token_s <= end_s:
                raise ValueError("first_token_s must lie within [start_s, end_s]")
        rec = RequestRecord(count("tokens_in", tokens_in), count("tokens_out", tokens_out), start_s, end_s,
                            first_token_s, label(model), label(endpoint))  # fmt: skip
        with self._lock:
            self._external = True
            self._seq += 1
            rec.seq = self._seq
            self._add(rec)
        return rec

    def _add(self, rec: RequestRecord) -> None:
        """Queue an ended request (lock held). Settled intervals it overlaps that went wholly to idle
        are reopened (exact); the rest of its already-settled part is estimated now."""
        rec.energy = [0.0] * self._n
        s, e = rec.span()
        if s < max(self._settled_t, default=-math.inf):
            reopened = [iv for iv in self._settled if iv.t1 > s and iv.t0 < e and iv.idle_only]
            if reopened:
                ids = {id(iv) for iv in reopened}
                self._settled = [iv for iv in self._settled if id(iv) not in ids]
                for iv in reopened:
                    for c, ej in zip(iv.idx, iv.energy, strict=True):
                        self.idle[c] -= ej
                    bisect.insort(self._intervals, iv, key=lambda x: x.t1)
            for c in range(self._n):
                settled = self._settled_t[c]
                if s >= settled:
                    continue
                pre, dec = rec.weight(s, min(e, settled), self.wp, self.wd)
                w = pre + dec
                for iv in reopened:  # those parts are exact again
                    if c in iv.idx:
                        p2, d2 = rec.weight(max(iv.t0, s), min(iv.t1, e, settled), self.wp, self.wd)
                        w -= p2 + d2
                rate = self.given[c] / self.weight_given[c] if self.weight_given[c] > 0 else 0.0
                if w > 1e-12:
                    rec.estimated_j += w * rate
        i = bisect.bisect_right(self._pending_starts, rec.start_s)
        self._pending_starts.insert(i, rec.start_s)
        self._pending.insert(i, rec)

    # -- sampler side ----------------------------------------------------------

    def start(self, now_s: float, energy_j: Mapping[str, float], read_at_s: Mapping[str, Optional[float]]) -> None:
        """The baseline: cumulative joules at the tracker's start."""
        with self._lock:
            self.t0_s = now_s
            for c, cid in enumerate(self.ids):
                self._last_e[c] = energy_j.get(cid)
                self._last_t[c] = read_at_s.get(cid) if read_at_s.get(cid) is not None else now_s
                self._settled_t[c] = now_s

    def on_tick(self, now_s: float, energy_j: Mapping[str, float], read_at_s: Mapping[str, Optional[float]], final: bool = False) -> None:
        """Take the intervals read since the last tick, settle what can settle, notify subscribers."""
        with self._lock:
            spans: Dict[Tuple[float, float], Interval] = {}
            for c, cid in enumerate(self.ids):
                t, e = read_at_s.get(cid), energy_j.get(cid)
                t_prev, e_prev = self._last_t[c], self._last_e[c]
                if t is None or e is None or (t_prev is not None and t <= t_prev):
                    continue
                self._last_t[c], self._last_e[c] = t, e
                if t_prev is None or e_prev is None:
                    continue
                delta = max(0.0, e - e_prev)
                self.measured[c] += delta
                iv = spans.get((t_prev, t))
                if iv is None:
                    iv = spans[(t_prev, t)] = Interval(t_prev, t, [], [])
                iv.idx.append(c)
                iv.energy.append(delta)
            for iv in sorted(spans.values(), key=lambda x: x.t1):
                self._intervals.append(iv)
            done = self._settle(now_s, final)
            subscribers = list(self._subscribers)
        for rec in done:
            for fn in subscribers:
                self._call(fn, rec)

    def finish(self, now_s: float, energy_j: Mapping[str, float], read_at_s: Mapping[str, Optional[float]]) -> None:
        """At ``stop()``: close still-open requests at ``now_s``, take the last interval, settle everything."""
        with self._lock:
            for rec in list(self._open.values()):
                rec.end_s = now_s
                rec.tokens_out = safe_count(rec.tokens_out)
                self._add(rec)
            if self._open:
                self.stats.unfinished += len(self._open)
            self._open.clear()
        self.on_tick(now_s, energy_j, read_at_s, final=True)

    def _settle(self, now_s: float, final: bool) -> List[RequestRecord]:
        """Settle intervals ending before the cutoff (lock held); returns the requests now complete."""
        if final:
            cutoff = math.inf
        else:
            oldest_open = min((r.start_s for r in self._open.values()), default=math.inf)
            cutoff = now_s - self.retention_s if self._external else oldest_open
            cutoff = max(cutoff, now_s - self.retention_s)
        k = 0
        ivs = self._intervals
        overflow = len(ivs) - MAX_INTERVALS
        while k < len(ivs) and (ivs[k].t1 <= cutoff or k < overflow):
            k += 1
        if k == 0:
            return []
        batch, self._intervals = ivs[:k], ivs[k:]
        t_max = max(iv.t1 for iv in batch)
        n_scan = bisect.bisect_left(self._pending_starts, t_max)
        scan = self._pending[:n_scan]
        # sweep the batch in t0 order: live = requests started before the interval's end, not ended before its start
        live: Dict[int, RequestRecord] = {}
        ends: List[Tuple[float, int]] = []
        j = 0
        for iv in sorted(batch, key=lambda x: x.t0):
            while j < len(scan) and scan[j].start_s < iv.t1:
                r = scan[j]
                live[r.seq] = r
                heapq.heappush(ends, (r.span()[1], r.seq))
                j += 1
            while ends and ends[0][0] <= iv.t0:
                live.pop(heapq.heappop(ends)[1], None)
            self._split(iv, list(live.values()))
        for iv in batch:
            for c in iv.idx:
                if iv.t1 > self._settled_t[c]:
                    self._settled_t[c] = iv.t1
        batch_by_end = sorted(batch, key=_END)
        reopened = bool(self._settled) and batch_by_end[0].t1 < self._settled[-1].t1
        self._settled.extend(batch_by_end)  # a usual tick ends after everything settled: the order holds, no O(n) sort
        if reopened:
            self._settled.sort(key=_END)
        horizon = now_s - self.retention_s
        drop = 0
        while drop < len(self._settled) and (self._settled[drop].t1 < horizon or len(self._settled) - drop > MAX_INTERVALS):
            drop += 1
        if drop:
            del self._settled[:drop]
        # a request is complete when every component has settled past its end and no reopened interval overlaps it
        done_until = min(self._settled_t) if self._n else math.inf
        done_until = min(done_until, min((iv.t0 for iv in self._intervals), default=math.inf))
        if final:
            done_until = math.inf
        done: List[RequestRecord] = []
        keep: List[RequestRecord] = []
        for rec in scan:
            (done if rec.span()[1] <= done_until or rec.span()[1] < now_s - self.retention_s else keep).append(rec)
        rest = self._pending[n_scan:]
        if final:
            done.extend(rest)
            rest = []
        self._pending = keep + rest
        self._pending_starts = [r.start_s for r in self._pending]
        for rec in done:
            rec.done = True
            self.stats.add(rec)
        return done

    def _split(self, iv: Interval, scan: Sequence[RequestRecord]) -> None:
        """Give out one interval: its energy is spread evenly over time, cut into segments at the
        requests' start, first-token and end times; each segment goes to the requests active in it
        by weighted tokens, or to idle when none is. So no request gets energy from a moment it was
        not in flight, and a request alone in a moment gets all of that moment's energy."""
        a, b = iv.t0, iv.t1
        length = b - a
        cands = [r for r in scan if r.span()[1] > a and r.span()[0] < b] if length > 0 else []
        iv.idle_only = not cands
        if not cands:
            for c, e in zip(iv.idx, iv.energy, strict=True):
                self.idle[c] += e
            return
        cuts = {a, b}
        for r in cands:
            s, e = r.span()
            for x in (s, e, r.first_token_s):
                if x is not None and a < x < b:
                    cuts.add(x)
        points = sorted(cuts)
        idle_s = 0.0
        shares: Dict[int, List[float]] = {}  # seq -> [share of the interval's energy, prefill part]
        weight_s = 0.0
        by_start = sorted(cands, key=lambda r: r.start_s)
        now_active: Dict[int, RequestRecord] = {}
        ends: List[Tuple[float, int]] = []
        j = 0
        for x, y in zip(points, points[1:], strict=False):  # a sweep: cost ~ segments x concurrency
            mid = (x + y) / 2.0
            while j < len(by_start) and by_start[j].start_s <= mid:
                r = by_start[j]
                now_active[r.seq] = r
                heapq.heappush(ends, (r.span()[1], r.seq))
                j += 1
            while ends and ends[0][0] <= mid:
                now_active.pop(heapq.heappop(ends)[1], None)
            active = [(r, *r.weight(x, y, self.wp, self.wd)) for r in now_active.values()]
            if not active:
                idle_s += y - x
                continue
            total_w = sum(p + d for _, p, d in active)
            if total_w <= 0:  # every active request weighs nothing here: share by time
                active = [(r, 0.0, 1.0) for r, _, _ in active]
                total_w = float(len(active))
            frac = (y - x) / length / total_w
            weight_s += total_w
            for r, p, d in active:
                sh = shares.get(r.seq)
                if sh is None:
                    sh = shares[r.seq] = [0.0, 0.0]
                sh[0] += (p + d) * frac
                sh[1] += p * frac
        by_seq = {r.seq: r for r in cands}
        idle_frac = idle_s / length
        for c, e in zip(iv.idx, iv.energy, strict=True):
            self.idle[c] += e * idle_frac
            self.given[c] += e * (1.0 - idle_frac)
            self.weight_given[c] += weight_s
            for seq, (share, pre) in shares.items():
                r = by_seq[seq]
                r.energy[c] += e * share
                if r.first_token_s is not None:
                    r.prefill_j += e * pre

    def _call(self, fn: Callable[[RequestRecord], None], rec: RequestRecord) -> None:
        try:
            fn(rec)
        except Exception:
            key = id(fn)
            if key not in self._failed_subscribers:
                self._failed_subscribers.add(key)
                logger.exception("wattprint: request subscriber %r failed; it is skipped from now on", fn)
            return

    # -- outputs ---------------------------------------------------------------

    def summary(self) -> Optional[Dict[str, Any]]:
        """The raw figures for the footprint's ``inference`` section (``None`` before any request)."""
        with self._lock:
            if not self.stats.requests and not self._open and not self._pending:
                return None
            raw = self.stats.to_dict()
            raw.update(
                measured_j=dict(zip(self.ids, self.measured, strict=True)),
                idle_j=dict(zip(self.ids, self.idle, strict=True)),
                pending_requests=len(self._pending), open_requests=len(self._open),
                retained_intervals=len(self._intervals), retention_s=self.retention_s,
                prefill_token_weight=self.wp, decode_token_weight=self.wd,
            )  # fmt: skip
            return raw
