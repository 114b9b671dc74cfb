"""The Tracker's windows and lifecycle corners, kept out of :mod:`wattprint.run.tracker`.

- :class:`WindowRecorder`: named spans measured by two synchronous counter readings
  (nestable, thread-safe). A window still open when the run stops is closed at the stop
  reading and kept, marked ``open_at_stop``, instead of vanishing; when its ``with`` block
  ends later nothing is read or counted again.
- :class:`StopGate`: a second ``stop()`` from another thread waits (bounded) for the first
  to finish and gets the same footprint instead of ``None``; the stopping thread itself
  (a signal handler re-entering ``stop()``) never waits.
- :func:`exit_status`: how a ``with Tracker():`` block ended, as ``(status, reason)``:
  an exception is ``failed``; ``sys.exit(0)``/``sys.exit()`` is ``completed``; any other
  exit code is ``failed`` with the code; ``KeyboardInterrupt`` is ``partial`` (interrupted).

Units: seconds on the tracker's monotonic clock, joules.

Failure modes: none raised except ``WattprintError`` from :meth:`WindowRecorder.measure`
on a tracker that is not running; a waiting ``stop()`` gives up after ``timeout_s`` and
returns whatever footprint exists (``None`` if the first stop has not built one).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from wattprint.errors import WattprintError
from wattprint.footprint.build import WindowLog

__all__ = ["WindowRecorder", "StopGate", "exit_status"]


class WindowRecorder:
    """The run's windows: totals per name, the last raw ones, and those still open."""

    def __init__(self, steps: Callable[[], int]) -> None:
        self._log = WindowLog()
        self._open: Dict[int, Dict[str, Any]] = {}
        self._steps = steps
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def measure(self, ledger: Any, clock: Any, name: str, running: bool) -> Iterator[Dict[str, Any]]:
        """Measure ``name`` between two readings of ``ledger``; yields the record, filled on exit."""
        if not running or ledger is None:
            raise WattprintError("window() needs a started tracker: call start() or use `with Tracker():` first")
        t_start = clock.monotonic()
        ledger.read(t_start)
        record: Dict[str, Any] = {"name": str(name), "start_s": t_start - ledger.t0_s}
        state = {"record": record, "before": ledger.snapshot(), "steps": self._steps(), "t_start": t_start}
        with self._lock:
            record["depth"] = len(self._open)
            self._open[id(state)] = state
        try:
            yield record
        finally:
            with self._lock:
                still_open = self._open.pop(id(state), None) is not None
            if still_open:  # not closed by the run's stop
                t_end = clock.monotonic()
                ledger.read(t_end)
                self._close(state, ledger.snapshot(), t_end)

    def close_open(self, snapshot: Dict[str, float], now_s: float) -> int:
        """At stop: close every open window at the stop reading (``open_at_stop``). Returns how many."""
        with self._lock:
            states, self._open = list(self._open.values()), {}
        for state in states:
            state["record"]["open_at_stop"] = True
            self._close(state, snapshot, now_s)
        return len(states)

    def _close(self, state: Dict[str, Any], after: Dict[str, float], t_end: float) -> None:
        before = state["before"]
        per = {cid: after[cid] - before.get(cid, 0.0) for cid in after}
        state["record"].update(duration_s=t_end - state["t_start"], energy_j=sum(per.values()), components=per,
                               steps=self._steps() - state["steps"])  # fmt: skip
        with self._lock:
            self._log.add(state["record"])

    def raw(self) -> List[Dict[str, Any]]:
        with self._lock:
            return self._log.raw()

    def totals(self) -> List[Dict[str, Any]]:
        with self._lock:
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
