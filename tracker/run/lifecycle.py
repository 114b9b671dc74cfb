"""The Tracker's windows and lifecycle corners, kept out of :mod:`wattprint.run.tracker`.

- :class:`WindowRecorder`: named spans measured by two counter readings, the window's
  *edges* (nestable, thread-safe). On the system clock an edge reads nothing on the
  caller's thread: it queues the reading for the run's edge reader
  (:class:`wattprint.engine.edges.EdgeReader`) and returns at once, so a sensor that
  hangs inside an edge's read never holds the caller. An edge's time is its reading's
  time (the reader may run a little after the call; edges queued together share one
  reading), and a window's ``start_s``, ``duration_s`` and energy all come from its two
  edge readings. The yielded record is a dict whose figures are filled at the first
  access that needs them, waiting for the edge readings at most the sensors' deadline
  (default 1 s; an edge still unread then is a recorded gap). With an injected clock
  (tests, replays: the caller drives time) the edges are read on the caller's thread at
  the call time. A window still open when the run stops is closed at the stop reading
  and kept, marked ``open_at_stop``, instead of vanishing; when its ``with`` block ends
  later nothing is read or counted again.
- :class:`StopGate`: a second ``stop()`` from another thread waits (bounded) for the first
  to finish and gets the same footprint instead of ``None``; the stopping thread itself
  (a signal handler re-entering ``stop()``) never waits.
- :func:`exit_status`: how a ``with Tracker():`` block ended, as ``(status, reason)``:
  an exception is ``failed``; ``sys.exit(0)``/``sys.exit()`` is ``completed``; any other
  exit code is ``failed`` with the code; ``KeyboardInterrupt`` is ``partial`` (interrupted).

Units: seconds on the tracker's monotonic clock, joules.

Failure modes: none raised except ``WattprintError`` on entering a window of a tracker
that is not running; a waiting ``stop()`` gives up after ``timeout_s`` and returns
whatever footprint exists (``None`` if the first stop has not built one).
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from typing import Any, Callable, Deque, Dict, ItemsView, Iterator, KeysView, List, Optional, Tuple, ValuesView

from wattprint.engine.clock import SYSTEM_CLOCK
from wattprint.engine.edges import Edge, EdgeReader
from wattprint.errors import WattprintError
from wattprint.footprint.build import WindowLog

__all__ = ["WindowRecorder", "WindowRecord", "StopGate", "exit_status"]

class WindowRecord(Dict[str, Any]):
    """A window's record: a dict whose edge-reading figures (``start_s``, ``duration_s``,
    ``energy_j``, ``components``, ``steps``) are filled at the first access that needs them."""

    __slots__ = ("_win",)
    _win: Optional["_Window"]

    def _fill(self) -> None:
        win = self._win
        if win is not None:
            win.recorder._fill(win)

    def __missing__(self, key: str) -> Any:
        self._fill()
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self._fill()
        return dict.get(self, key, default)

    def __contains__(self, key: object) -> bool:
        self._fill()
        return dict.__contains__(self, key)

    def __iter__(self) -> Iterator[str]:
        self._fill()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._fill()
        return dict.__len__(self)

    def keys(self) -> KeysView[str]:  # type: ignore[override]
        self._fill()
        return dict.keys(self)

    def values(self) -> ValuesView[Any]:  # type: ignore[override]
        self._fill()
        return dict.values(self)

    def items(self) -> ItemsView[str, Any]:  # type: ignore[override]
        self._fill()
        return dict.items(self)

    def copy(self) -> Dict[str, Any]:
        self._fill()
        return dict(dict.items(self))

    def __repr__(self) -> str:
        self._fill()
        return dict.__repr__(self)

    def __or__(self, other: Any) -> Any:
        self._fill()
        return dict.__or__(self, other)

    def __ror__(self, other: Any) -> Any:
        self._fill()
        return dict.__ror__(self, other)

    def pop(self, key: str, *default: Any) -> Any:  # type: ignore[override]
        self._fill()
        return dict.pop(self, key, *default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self._fill()
        return dict.setdefault(self, key, default)

    def __eq__(self, other: object) -> bool:
        self._fill()
        return dict.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def __reduce_ex__(self, protocol: Any) -> Any:  # copies and pickles as a plain dict
        return (dict, (self.copy(),))


class _Window(contextlib.AbstractContextManager):  # type: ignore[type-arg]
    """``with tracker.window(name) as record:``: the begin edge on entry, the end edge on exit;
    then the window's record, its two edges and the step counts at its calls."""

    __slots__ = ("recorder", "ledger", "clock", "name", "running", "record", "begin", "end", "steps0", "steps1")
    record: WindowRecord
    begin: Edge
    steps0: int
    steps1: int

    def __init__(self, recorder: "WindowRecorder", ledger: Any, clock: Any, name: str, running: bool) -> None:
        self.recorder, self.ledger, self.clock, self.name, self.running = recorder, ledger, clock, name, running
        self.end: Optional[Edge] = None

    def __enter__(self) -> Dict[str, Any]:
        return self.recorder._begin(self)

    def __exit__(self, *exc: Any) -> None:
        self.recorder._end(self)


def _read_now(ledger: Any, clock: Any) -> Edge:
    """An edge read on this thread at the call time (an injected clock)."""
    e = Edge()
    e.t_s = clock.monotonic()
    ledger.read(e.t_s)
    e.energy_j, e.done = ledger.snapshot(), True
    return e


class WindowRecorder:
    """The run's windows: totals per name, the last raw ones, those still open and those whose readings are pending."""

    def __init__(self, steps: Callable[[], int]) -> None:
        self._log = WindowLog()
        self._open: Dict[_Window, None] = {}
        self._pending: Deque[_Window] = collections.deque()  # closed, in closing order; an edge reading not in yet
        self._steps = steps
        self._lock = threading.RLock()  # re-entrant: SIGTERM's stop() may land on a thread holding it
        self._reader: Optional[EdgeReader] = None
        self._t0_s = 0.0

    def measure(self, ledger: Any, clock: Any, name: str, running: bool) -> "contextlib.AbstractContextManager[Dict[str, Any]]":
        """Measure ``name`` between two readings of ``ledger``; yields the record, filled on exit (lazily, see above)."""
        return _Window(self, ledger, clock, name, running)

    def _begin(self, win: _Window) -> Dict[str, Any]:
        ledger = win.ledger
        if not win.running or ledger is None:
            raise WattprintError("window() needs a started tracker: call start() or use `with Tracker():` first")
        win.end = None
        if win.clock is SYSTEM_CLOCK:
            win.begin = (self._reader or self._open_reader(ledger, win.clock)).edge()
            record = win.record = WindowRecord(name=win.name if type(win.name) is str else str(win.name))
        else:
            win.begin = begin = _read_now(ledger, win.clock)
            self._t0_s = ledger.t0_s
            record = win.record = WindowRecord(name=str(win.name), start_s=begin.t_s - self._t0_s)
        record._win = win
        win.steps0 = win.steps1 = self._steps()
        with self._lock:
            dict.__setitem__(record, "depth", len(self._open))
            self._open[win] = None
        return record

    def _end(self, win: _Window) -> None:
        reader = self._reader if win.clock is SYSTEM_CLOCK else None
        with self._lock:
            if win not in self._open:  # closed by the run's stop
                return
            del self._open[win]
            win.steps1 = self._steps()
            if reader is not None:
                win.end = end = Edge()
                self._pending.append(win)
        if reader is not None:
            reader.edge(end)
            return
        win.end = _read_now(win.ledger, win.clock)
        with self._lock:
            self._complete_locked(win)

    def _open_reader(self, ledger: Any, clock: Any) -> EdgeReader:
        with self._lock:
            self._t0_s = ledger.t0_s
            if self._reader is None:
                self._reader = EdgeReader(ledger, clock, on_pass=self._drain)
            return self._reader

    def _complete_locked(self, win: _Window, stop_energy: Optional[Dict[str, float]] = None, stop_s: float = 0.0) -> None:
        rec = win.record
        if rec._win is None:
            return
        before = win.begin.energy_j
        if stop_energy is None:
            assert win.end is not None
            after, t_end = win.end.energy_j, win.end.t_s
        else:
            after, t_end = stop_energy, stop_s
        t_begin = win.begin.t_s
        if t_end < t_begin:  # the begin edge was read after the stop reading: empty, at the stop reading
            before, t_begin = after, t_end
        per = {cid: after[cid] - before.get(cid, 0.0) for cid in after}
        fig = {"name": dict.get(rec, "name"), "start_s": t_begin - self._t0_s, "depth": dict.get(rec, "depth", 0),
               "duration_s": t_end - t_begin, "energy_j": sum(per.values()), "components": per, "steps": win.steps1 - win.steps0}  # fmt: skip
        if dict.__len__(rec) > 2:  # open_at_stop, keys the caller set
            for k, v in dict.items(rec):
                fig.setdefault(k, v)
        dict.clear(rec)
        dict.update(rec, fig)
        rec._win = None
        self._log.add(fig)

    def _drain_locked(self) -> None:
        pending = self._pending
        while pending and pending[0].begin.done and pending[0].end.done:  # type: ignore[union-attr]
            self._complete_locked(pending.popleft())

    def _drain(self) -> None:
        """Finish, in closing order, the closed windows whose edges are read (never waits)."""
        if self._pending:
            with self._lock:
                self._drain_locked()

    def _fill(self, win: _Window) -> None:
        """A record's figures were asked for: wait (bounded) for its edge readings, then fill it."""
        reader = self._reader
        end = win.end
        if reader is not None:
            reader.wait((win.begin,) if end is None else (win.begin, end))
        with self._lock:
            if win.record._win is None:
                return
            if end is None or win in self._open:  # still open: only its start is known
                dict.__setitem__(win.record, "start_s", win.begin.t_s - self._t0_s)
                return
            self._drain_locked()
            if win.record._win is not None:  # an earlier window's reading is still out: this one first
                with contextlib.suppress(ValueError):
                    self._pending.remove(win)
                self._complete_locked(win)

    def settle(self) -> None:
        """Before the stop reading: wait, at most the sensors' deadline, for every edge reading queued so far."""
        reader = self._reader
        if reader is None:
            return
        with self._lock:
            edges: List[Edge] = [w.begin for w in self._open]
            for w in self._pending:
                edges += [w.begin, w.end] if w.end is not None else [w.begin]
        reader.wait(edges, time.monotonic() + reader.wait_s)

    def close_open(self, snapshot: Dict[str, float], now_s: float) -> int:
        """At stop: finish the pending windows (waiting at most the sensors' deadline for their edge
        readings), then close every open window at the stop reading (``open_at_stop``). Returns how many were open."""
        with self._lock:
            wins, self._open = list(self._open), {}
            pending = list(self._pending)
        reader = self._reader
        if reader is not None:
            edges: List[Edge] = [w.begin for w in wins]
            for w in pending:
                edges += [w.begin, w.end] if w.end is not None else [w.begin]
            reader.wait(edges, time.monotonic() + reader.wait_s)
            reader.close()
        with self._lock:
            for w in list(self._pending):  # an end read after the stop reading ends at the stop reading
                late = w.end is not None and w.end.t_s > now_s
                self._complete_locked(w, snapshot if late else None, now_s)
            self._pending.clear()
            for w in wins:
                w.steps1 = self._steps()
                dict.__setitem__(w.record, "open_at_stop", True)
                self._complete_locked(w, snapshot, now_s)
        return len(wins)

    def raw(self) -> List[Dict[str, Any]]:
        with self._lock:
            self._drain_locked()
            return self._log.raw()

    def totals(self) -> List[Dict[str, Any]]:
        with self._lock:
            self._drain_locked()
            return self._log.totals()

    def __len__(self) -> int:
        return len(self._log)


class StopGate:
    """Lets concurrent ``stop()`` calls all return the one footprint."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._owner: Optional[int] = None

    def claim(self) -> None:
        """The calling thread is the one stopping the run."""
        self._owner = threading.get_ident()

    def done(self) -> None:
        self._done.set()

    def wait(self, timeout_s: float) -> None:
        """Wait for the stopping thread, unless this is it (a signal handler inside ``stop()``)."""
        if self._owner is not None and self._owner != threading.get_ident():
            self._done.wait(timeout_s)


def exit_status(exc_type: Any, exc: Any) -> Tuple[Optional[str], Optional[str]]:
    """``(status, reason)`` for ``Tracker.stop`` from how a ``with`` block ended."""
    if exc_type is None:
        return None, None
    if issubclass(exc_type, SystemExit):
        code = getattr(exc, "code", None)
        if code in (None, 0):
            return None, None
        return "failed", f"sys.exit({code!r})"
    if issubclass(exc_type, KeyboardInterrupt):
        return "partial", "KeyboardInterrupt"
    return "failed", None
