"""The Tracker's request side until the first request: readings kept, :mod:`wattprint.run.serving` not loaded.

A run that serves nothing never imports the request ledger (:mod:`wattprint.run.serving`,
:mod:`wattprint.run.requests` and their helpers). :func:`open_ledger` at ``start()`` keeps the
baseline readings; :func:`tick` keeps each tick's readings: the two lists of :meth:`Ledger.readings` (energies and read
times in component order, no dict per tick; a ledger without it: two dicts, its own when it makes new ones on each access,
else copies). The first :func:`request` or :func:`record` builds the real ledger from the baseline exactly as ``start()``
would have (:func:`wattprint.run.serving.open_ledger`), hands it the kept ticks (made dicts as it replays them), and from
then on every call goes to :mod:`wattprint.run.serving`. A run without requests has nothing to settle
and writes no request line, so :func:`finish` then does nothing and :meth:`RequestGate.summary` is ``None``.

Failure modes: those of :mod:`wattprint.run.serving` (``request()`` on a tracker that is not running
raises :class:`~wattprint.errors.WattprintError`); keeping readings never raises.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, Optional, Sequence, Tuple

from wattprint.engine.ledger import Ledger

if TYPE_CHECKING:
    from wattprint.run.requests import RequestLedger, RequestRecord

__all__ = ["RequestGate", "open_ledger", "tick", "finish", "request", "record", "kept", "as_dicts", "DORMANT_TICKS"]

#: Ticks kept while no request has come (replayed at the first one, so that a late ``record_request``
#: still finds its intervals); :mod:`wattprint.run.serving` uses this bound too.
DORMANT_TICKS = 4096


def _fresh(ledger: Any) -> bool:
    """True when each access to the ledger's ``energy_j`` and ``read_at_s`` makes a new dict (no copy needed then)."""
    with ledger.lock:
        return ledger.energy_j is not ledger.energy_j and ledger.read_at_s is not ledger.read_at_s


def _readings(ledger: Any, fresh: bool = False) -> Tuple[Dict[str, float], Dict[str, Optional[float]]]:
    with ledger.lock:
        if fresh:
            return ledger.energy_j, ledger.read_at_s
        return dict(ledger.energy_j), dict(ledger.read_at_s)


def kept(ledger: Any, fresh: bool = False) -> tuple:
    """A tick's readings as kept until the first request: :meth:`Ledger.readings`' two lists (in ``ledger.ids``
    order, no dict) when the ledger has it, else two dicts (the ledger's own when ``fresh``, else copies)."""
    return ledger.readings() if callable(getattr(ledger, "readings", None)) else _readings(ledger, fresh)


def as_dicts(ids: Sequence[str], energy: Any, read_at: Any) -> tuple:
    """Kept readings as the request ledger takes them: dicts by component id (lists are in ``ids`` order)."""
    if type(energy) is not list:
        return energy, read_at
    return dict(zip(ids, energy, strict=True)), dict(zip(ids, read_at, strict=True))


class _AtStart:
    """The ledger as it was at ``start()`` (what :func:`wattprint.run.serving.open_ledger` reads of it)."""

    def __init__(self, ledger: Ledger) -> None:
        self.lock = threading.Lock()
        self.components = list(ledger.components)
        self.energy_j, self.read_at_s = _readings(ledger)


class RequestGate:
    """One run's request side: the kept readings until the first request, then the real ledger (``ledger``)."""

    def __init__(self, settings: Any, ledger: Ledger, now_s: float, clock: Callable[[], float], factors: Any,
                 exporters: Sequence[Any]) -> None:  # fmt: skip
        self._args: Tuple[Any, ...] = (settings, _AtStart(ledger), now_s, clock, factors, list(exporters))
        self.lock = threading.Lock()
        self.ticks: "Optional[collections.deque[tuple]]" = collections.deque(maxlen=DORMANT_TICKS)
        self.ledger: Optional[RequestLedger] = None
        self.serving: Any = None  # the wattprint.run.serving module, once loaded
        self.fresh = _fresh(ledger)  # the ledger's readings are new dicts on each access: kept as they come
        self.columns = callable(getattr(ledger, "readings", None))  # kept as Ledger.readings' lists (no dict per tick)

    def wake(self) -> "RequestLedger":
        """The real ledger, built on first call as ``start()`` would have built it, with the kept ticks."""
        with self.lock:
            if self.ledger is None:
                from wattprint.run import serving  # on first use: a run that serves nothing never loads it

                req = serving.open_ledger(*self._args)
                req.dormant.ticks.extend(self.ticks or ())  # replayed by serving at this very request
                self.ticks = None
                self.serving, self.ledger = serving, req
            return self.ledger

    def summary(self) -> Optional[Dict[str, Any]]:
        req = self.ledger
        return req.summary() if req is not None else None  # before any request: None, as the ledger's


def open_ledger(settings: Any, ledger: Ledger, now_s: float, clock: Callable[[], float], factors: Any,
                exporters: Sequence[Any] = ()) -> RequestGate:  # fmt: skip
    """The run's :class:`RequestGate`, baseline at ``now_s`` (the arguments of :func:`wattprint.run.serving.open_ledger`)."""
    return RequestGate(settings, ledger, now_s, clock, factors, exporters)


def tick(gate: Optional[RequestGate], ledger: Ledger, now_s: float) -> None:
    if gate is None:
        return
    if gate.ledger is None:
        energy, read_at = ledger.readings() if gate.columns else _readings(ledger, gate.fresh)
        with gate.lock:
            if gate.ticks is not None:  # still no request: keep the readings only
                gate.ticks.append((now_s, energy, read_at))
                return
    gate.serving.tick(gate.ledger, ledger, now_s)


def finish(gate: Optional[RequestGate], ledger: Ledger, now_s: float) -> None:
    if gate is not None and gate.ledger is not None:  # else no request ever came: nothing to settle, no line to write
        gate.serving.finish(gate.ledger, ledger, now_s)


@contextlib.contextmanager
def request(gate: Optional[RequestGate], running: bool, tokens_in: Optional[int], model: Optional[str],
            endpoint: Optional[str]) -> Iterator["RequestRecord"]:  # fmt: skip
    """``Tracker.request`` (see :func:`wattprint.run.serving.request`); raises there when not running."""
    from wattprint.run import serving

    with serving.request(gate.wake() if gate is not None and running else None, running, tokens_in, model, endpoint) as rec:
        yield rec


def record(gate: Optional[RequestGate], running: bool, tokens_in: Optional[int], tokens_out: Optional[int], start_s: float,
           end_s: float, first_token_s: Optional[float], model: Optional[str], endpoint: Optional[str]) -> "RequestRecord":  # fmt: skip
    """``Tracker.record_request`` (see :func:`wattprint.run.serving.record`); raises there when not running."""
    from wattprint.run import serving

    req = gate.wake() if gate is not None and running else None
    return serving.record(req, running, tokens_in, tokens_out, start_s, end_s, first_token_s, model, endpoint)
