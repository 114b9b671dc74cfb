"""The Tracker's side of serving: its request ledger, the per-request log, ``request()``.

:class:`~wattprint.Tracker` delegates here through :mod:`wattprint.run.serving_gate`, which imports
this module at the first request (a run that serves nothing never loads it): :func:`open_ledger` then,
:func:`tick` on each sampler tick, :func:`finish` at ``stop()``, :func:`request`
for ``Tracker.request``. The optional JSON Lines log (``requests_log``, a file
name inside ``output_dir``) gets one object per settled request: times in
seconds since the run started, ``energy_j`` and ``components`` in joules,
``carbon_g`` in gCO2e (operational) and ``water_ml`` in millilitres (on-site +
off-site, also apart), with low/high ``bounds``, through
:func:`wattprint.footprint.inference.per_joule` (the run's accounting).

Failure modes: a log that cannot be written is logged once and dropped; the
run and the server go on. ``request()`` on a tracker that is not running raises
:class:`~wattprint.errors.WattprintError`.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import os
import threading
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Sequence

from wattprint.engine.ledger import Ledger
from wattprint.errors import WattprintError
from wattprint.footprint.build import component_entry
from wattprint.footprint.inference import per_joule
from wattprint.run import serving_gate
from wattprint.run.requests import RequestLedger, RequestRecord

__all__ = ["open_ledger", "tick", "finish", "request", "record", "RequestLog", "RequestLedger", "RequestRecord"]

logger = logging.getLogger("wattprint")


def _kept(ledger: Any) -> tuple:
    """A tick's readings as kept until the first request (:func:`wattprint.run.serving_gate.kept`: two lists, else two dict copies)."""
    return serving_gate.kept(ledger)


_dicts = serving_gate.as_dicts  # kept readings as dicts by component id


def _readings(ledger: Any) -> tuple:
    """The ledger's energies and read times as two new dicts."""
    return _dicts(getattr(ledger, "ids", ()), *_kept(ledger))


def open_ledger(settings: Any, ledger: Ledger, now_s: float, clock: Callable[[], float], factors: Any,
                exporters: Sequence[Any] = ()) -> RequestLedger:  # fmt: skip
    """A request ledger over ``ledger``'s components, with its baseline at ``now_s``; exporters with
    ``on_request(record_dict)`` and the ``requests_log`` file subscribe to it."""
    req = RequestLedger([c.id for c in ledger.components], clock, retention_s=settings.request_retention_s,
                        prefill_token_weight=settings.prefill_token_weight,
                        decode_token_weight=settings.decode_token_weight)  # fmt: skip
    energy, read_at = _readings(ledger)
    req.start(now_s, energy, read_at)
    req.dormant = _Dormant()
    comps = [component_entry(c, 0.0, 0.0, 0.0) for c in ledger.components]
    row = _RowMaker(req, comps, factors)
    if settings.requests_log:
        req.log = RequestLog(os.path.join(settings.output_dir, settings.requests_log), row)
        req.subscribe(req.log.write)
    for exp in exporters:
        fn = getattr(exp, "on_request", None)
        if callable(fn):
            req.subscribe(_RowCall(fn, row))
    return req


#: Ticks kept while no request has come (one bound, the serving gate's: it keeps them first).
DORMANT_TICKS = serving_gate.DORMANT_TICKS


class _Dormant:
    """Until the first request, a tick only keeps its readings (:func:`_kept`: two lists); the ledger's
    interval and settling work (more than the engine's own per tick) starts with the first request."""

    def __init__(self) -> None:
        self.ticks: "collections.deque[tuple]" = collections.deque(maxlen=DORMANT_TICKS)
        self.lock = threading.Lock()


def tick(req: Optional[RequestLedger], ledger: Ledger, now_s: float) -> None:
    if req is None:
        return
    dormant = req.dormant
    if dormant is None:
        req.on_tick(now_s, *_readings(ledger))
        return
    energy, read_at = _kept(ledger)
    with dormant.lock:
        if req.dormant is not None:  # still no request: keep the readings only
            dormant.ticks.append((now_s, energy, read_at))
            return
    req.on_tick(now_s, *_dicts(req.ids, energy, read_at))


def _wake(req: RequestLedger) -> None:
    """The first request: replay the kept ticks in order (exactly what the ledger would have seen)."""
    dormant = req.dormant
    if dormant is None:
        return
    with dormant.lock:
        if req.dormant is None:
            return
        ids = req.ids
        for now_s, energy, read_at in dormant.ticks:  # lists (Ledger.readings') or dicts, as they were kept
            req.on_tick(now_s, *_dicts(ids, energy, read_at))
        req.dormant = None


def finish(req: Optional[RequestLedger], ledger: Ledger, now_s: float) -> None:
    if req is not None:
        _wake(req)  # a run that served nothing settles its kept ticks as idle, as before
        energy, read_at = _readings(ledger)
        req.finish(now_s, energy, read_at)
        log = getattr(req, "log", None)
        if log is not None:
            log.close()


@contextlib.contextmanager
def request(req: Optional[RequestLedger], running: bool, tokens_in: Optional[int], model: Optional[str],
            endpoint: Optional[str]) -> Iterator[RequestRecord]:  # fmt: skip
    """``Tracker.request``: open a record, yield it, close it (also when the body raises)."""
    if req is None or not running:
        raise WattprintError("request() needs a started tracker: call start() or use `with Tracker():` first")
    _wake(req)
    rec = req.begin(tokens_in, model, endpoint)
    try:
        yield rec
    finally:
        req.end(rec)


def record(req: Optional[RequestLedger], running: bool, tokens_in: Optional[int], tokens_out: Optional[int], start_s: float,
           end_s: float, first_token_s: Optional[float], model: Optional[str], endpoint: Optional[str]) -> RequestRecord:  # fmt: skip
    """``Tracker.record_request``."""
    if req is None or not running:
        raise WattprintError("record_request() needs a started tracker: call start() or use `with Tracker():` first")
    _wake(req)
    return req.record(tokens_in, tokens_out, start_s, end_s, first_token_s, model, endpoint)


class _RowCall:
    """Calls an exporter's ``on_request`` with a settled record's row."""

    def __init__(self, fn: Callable[[Dict[str, Any]], Any], row: Callable[[RequestRecord], Dict[str, Any]]) -> None:
        self.fn, self.row = fn, row

    def __call__(self, rec: RequestRecord) -> None:
        self.fn(self.row(rec))

    def __repr__(self) -> str:
        return f"on_request of {getattr(self.fn, '__self__', self.fn)!r}"


class _RowMaker:
    """A settled record as a JSON-ready dict (the log's line, the exporters' argument)."""

    def __init__(self, req: RequestLedger, comps: Sequence[Dict[str, Any]], factors: Any) -> None:
        self.req, self.ids = req, req.ids
        self._coef: Optional[Dict[str, Any]] = None
        self._comps, self._factors = comps, factors

    def coefficients(self) -> Dict[str, Any]:
        if self._coef is None:  # once: the factors of a run do not change (a live grid uses its latest value)
            self._coef = per_joule(self._comps, self._factors)
        return self._coef

    def __call__(self, rec: RequestRecord) -> Dict[str, Any]:
        coef = self.coefficients()
        t0 = self.req.t0_s or 0.0
        comps = {cid: e for cid, e in zip(self.ids, rec.energy, strict=True)}
        carbon_g = sum(coef["carbon_g_per_j"].get(cid, 0.0) * e for cid, e in comps.items())
        water_ml = sum(coef["water_ml_per_j"].get(cid, 0.0) * e for cid, e in comps.items())
        if rec.estimated_j:
            carbon_g += rec.estimated_j * coef["mean_carbon_g_per_j"]
            water_ml += rec.estimated_j * coef["mean_water_ml_per_j"]
        row: Dict[str, Any] = {
            "id": rec.seq, "model": rec.model, "endpoint": rec.endpoint,
            "start_s": rec.start_s - t0, "end_s": (rec.end_s if rec.end_s is not None else rec.start_s) - t0,
            "duration_s": rec.duration_s,
            "ttft_s": rec.first_token_s - rec.start_s if rec.first_token_s is not None else None,
            "tokens_in": rec.tokens_in, "tokens_out": rec.tokens_out,
            "energy_j": rec.energy_j, "components": comps,
            "prefill_energy_j": rec.prefill_j if rec.first_token_s is not None else None,
            "decode_energy_j": sum(rec.energy) - rec.prefill_j if rec.first_token_s is not None else None,
            "carbon_g": carbon_g, "water_ml": water_ml,
            "water_onsite_ml": sum(coef["onsite_water_ml_per_j"].get(cid, 0.0) * e for cid, e in comps.items()),
            "water_offsite_ml": sum(coef["offsite_water_ml_per_j"].get(cid, 0.0) * e for cid, e in comps.items()),
            "bounds": _bounds(coef["bounds_per_j"], comps),
            "estimated": rec.estimated, "estimated_energy_j": rec.estimated_j,
        }  # fmt: skip
        return row


def _bounds(per_j: Dict[str, Dict[str, List[float]]], comps: Dict[str, float]) -> Dict[str, List[float]]:
    """Low/high of a request's measured energy, operational carbon and water, from each component's per-joule bounds."""
    out: Dict[str, List[float]] = {"energy_j": [0.0, 0.0], "carbon_g": [0.0, 0.0], "water_ml": [0.0, 0.0]}
    for cid, e in comps.items():
        for key, (lo, hi) in (per_j.get(cid) or {}).items():
            out[key][0] += lo * e
            out[key][1] += hi * e
    return out


class RequestLog:
    """The JSON Lines file of settled requests (appended; flushed at each settle batch's end and at close)."""

    def __init__(self, path: str, row: Callable[[RequestRecord], Dict[str, Any]]) -> None:
        self.path, self._row = path, row
        self._fh: Optional[IO[str]] = None
        self._failed = False
        self._lock = threading.Lock()
        self.lines = 0

    def write(self, rec: RequestRecord) -> None:
        if self._failed:
            return
        line = json.dumps(self._row(rec), separators=(",", ":"), allow_nan=False) + "\n"
        with self._lock:
            try:
                if self._fh is None:
                    os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
                    self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
                self._fh.write(line)
                self.lines += 1
                if self.lines % 256 == 0:
                    self._fh.flush()
            except OSError as err:
                self._failed = True
                logger.warning("wattprint: the request log %s cannot be written (%s); requests are still counted", self.path, err)

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                try:
                    self._fh.close()
                except OSError:
                    pass
                self._fh = None
