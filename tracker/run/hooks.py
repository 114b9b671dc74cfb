"""Process-wide hooks of running trackers: SIGTERM/SIGINT, interpreter exit, fork.

A started :class:`~wattprint.Tracker` registers here and unregisters when it
stops. While any registered tracker handles signals, SIGTERM and SIGINT are
caught: each such tracker is stopped with status ``partial`` (its
``_on_signal(name)``), then the previous handler runs (the default one
re-raises the signal, so the exit code is the usual one). At interpreter exit
every tracker still registered is stopped (``_on_exit()``). In a forked child
each registered tracker is told (``_after_fork()``: it re-creates its locks and
goes inert) and the registry is emptied.

Locking is signal-safe: the registry lock is re-entrant, and a signal that
lands while this thread is inside :func:`register` / :func:`unregister` is
deferred (recorded, not handled) until the registry is consistent again, then
handled as usual; so the handler never waits on a lock its own thread holds.
A tracker that handles signals stays "stopping" from :func:`unregister` until
its final files are written (:func:`files_written`, called by
:meth:`wattprint.run.outputs.RunFiles.write_final`): meanwhile our handler
stays installed and a signal is deferred, then chained once the JSON file and
the ``runs.csv`` row are on disk. The same signal a second time while deferred
goes through at once (a deliberate second Ctrl-C), and so does a signal still
deferred after ``DEFER_LIMIT_S`` (10 s: it is sent again, e.g. when ``stop()``
raised before writing); at interpreter exit any deferred signal is handled.

Failure modes: none raise. Signal handlers are installed only from the main
thread of the main interpreter; elsewhere they are skipped silently. A
tracker's hook that raises is logged with its traceback.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import threading
import weakref
from typing import Any, Dict, Iterator, List, Protocol, Tuple

__all__ = ["register", "unregister", "files_written", "active"]

logger = logging.getLogger("wattprint")


class Hooked(Protocol):
    handles_signals: bool

    def _on_signal(self, name: str) -> None: ...

    def _on_exit(self) -> None: ...

    def _after_fork(self) -> None: ...


_ACTIVE: "weakref.WeakSet[Any]" = weakref.WeakSet()
_ACTIVE_LOCK = threading.RLock()
_prev_handlers: Dict[int, Any] = {}
_our_handler_installed = False
_local = threading.local()  # .depth: how deep this thread is inside register/unregister
_pending: List[Tuple[int, Any]] = []  # deferred signals: (signum, the handler to chain to)
DEFER_LIMIT_S = 10.0  # the longest a signal waits for a stopping tracker's files, seconds
_stopping: Dict[int, int] = {}  # thread id -> trackers unregistered there whose final files are not written yet


def active() -> list:
    """The registered trackers (a copy)."""
    return list(_ACTIVE)


@contextlib.contextmanager
def _critical() -> Iterator[None]:
    """The registry lock, with signals landing on this thread meanwhile deferred to the end."""
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        with _ACTIVE_LOCK:
            yield
    finally:
        _local.depth -= 1
    _release()


def _deferring() -> bool:
    return getattr(_local, "depth", 0) > 0 or bool(_stopping)


def _release() -> None:
    """Handle the signals deferred meanwhile, once nothing defers them any more.

    Off the main thread a deferred signal is re-sent to the process, so the main
    thread (where handlers run and can be restored) handles it."""
    while _pending and not _deferring():
        signum, prev = _pending.pop(0)
        if threading.current_thread() is threading.main_thread():
            _handle(signum, None, prev)
        else:
            os.kill(os.getpid(), signum)


def register(t: Hooked) -> None:
    with _critical():
        _ACTIVE.add(t)
        if t.handles_signals:
            _install_signals()


def unregister(t: Hooked) -> None:
    """Forget ``t``; if it handles signals, it is "stopping" until :func:`files_written` on this thread."""
    with _critical():
        _ACTIVE.discard(t)
        if t.handles_signals and _our_handler_installed:
            ident = threading.get_ident()
            _stopping[ident] = _stopping.get(ident, 0) + 1
        _restore_if_unused()


def files_written() -> None:
    """The final files of a tracker unregistered on this thread are written (or skipped):
    restore the handlers if no one needs them, then handle the signals deferred meanwhile."""
    with _critical():
        ident = threading.get_ident()
        left = _stopping.get(ident, 0) - 1
        if left > 0:
            _stopping[ident] = left
        else:
            _stopping.pop(ident, None)
        _restore_if_unused()


def _restore_if_unused() -> None:
    if not _stopping and not any(x.handles_signals for x in _ACTIVE):
        _restore_signals()


def _signal_handler(signum: int, frame: Any) -> None:
    prev = _prev_handlers.get(signum, signal.SIG_DFL)  # before stop() restores the handlers
    if _deferring():
        if all(e[0] != signum for e in _pending):
            entry = (signum, prev)
            _pending.append(entry)
            _arm_deadline(entry)
            return
    # not deferring, or the same signal twice (or its deadline passed): it goes through at once
    _pending[:] = [e for e in _pending if e[0] != signum]
    _handle(signum, frame, prev)


def _arm_deadline(entry: Tuple[int, Any]) -> None:
    """Bound a deferral: if ``entry`` is still pending after :data:`DEFER_LIMIT_S` (say, a
    ``stop()`` raised before its files were written), the signal is sent again and goes through."""
    timer = threading.Timer(DEFER_LIMIT_S, _redeliver, args=(entry,))
    timer.daemon = True
    timer.start()


def _redeliver(entry: Tuple[int, Any]) -> None:
    if any(e is entry for e in _pending):
        with _ACTIVE_LOCK:
            _stopping.clear()  # whoever was stopping is stuck or failed: stop deferring for it
        os.kill(os.getpid(), entry[0])


def _handle(signum: int, frame: Any, prev: Any) -> None:
    name = signal.Signals(signum).name
    for t in list(_ACTIVE):
        if t.handles_signals:
            try:
                t._on_signal(name)
            except Exception:
                logger.exception("wattprint: could not write the footprint on %s", name)
    if callable(prev):
        prev(signum, frame)
    elif prev == signal.SIG_DFL:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    # SIG_IGN: the signal was being ignored; keep ignoring it.


def _install_signals() -> None:
    global _our_handler_installed
    if _our_handler_installed or threading.current_thread() is not threading.main_thread():
        return
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            _prev_handlers[sig] = signal.getsignal(sig)
            signal.signal(sig, _signal_handler)
        _our_handler_installed = True
    except (ValueError, OSError):  # not the main interpreter, or signals unavailable
        pass


def _restore_signals() -> None:
    global _our_handler_installed
    if not _our_handler_installed or threading.current_thread() is not threading.main_thread():
        return
    for sig, prev in _prev_handlers.items():
        try:
            if signal.getsignal(sig) is _signal_handler:
                signal.signal(sig, prev if prev is not None else signal.SIG_DFL)
        except (ValueError, OSError):
            pass
    _prev_handlers.clear()
    _our_handler_installed = False


def _each_active(method: str, failure: str) -> None:
    """Call ``method`` on every registered tracker; one failing is logged with its traceback, never raised."""
    for t in list(_ACTIVE):
        try:
            getattr(t, method)()
        except Exception:
            logger.exception("wattprint: %s", failure)


@atexit.register
def _at_exit() -> None:
    _each_active("_on_exit", "could not write the footprint at exit")
    _stopping.clear()
    _release()


def _after_fork_in_child() -> None:
    global _our_handler_installed, _ACTIVE_LOCK
    _ACTIVE_LOCK = threading.RLock()  # the parent may have held it at fork time
    _local.depth = 0
    _pending.clear()
    _stopping.clear()
    _each_active("_after_fork", "a tracker could not reset itself after fork")
    _ACTIVE.clear()
    _our_handler_installed = False
    _prev_handlers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
