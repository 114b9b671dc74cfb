"""Process-wide hooks of running trackers: SIGTERM/SIGINT, interpreter exit, fork.

A started :class:`~wattprint.Tracker` registers here and unregisters when it
stops. While any registered tracker handles signals, SIGTERM and SIGINT are
caught: each such tracker is stopped with status ``partial`` (its
``_on_signal(name)``), then the previous handler runs (the default one
re-raises the signal, so the exit code is the usual one). At interpreter exit
every tracker still registered is stopped (``_on_exit()``). In a forked child
each registered tracker is told (``_after_fork()``: it re-creates its locks and
goes inert) and the registry is emptied.

Failure modes: none raise. Signal handlers are installed only from the main
thread of the main interpreter; elsewhere they are skipped silently. A
tracker's hook that raises is logged with its traceback.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import weakref
from typing import Any, Dict, Protocol

__all__ = ["register", "unregister", "active"]

logger = logging.getLogger("wattprint")


class Hooked(Protocol):
    handles_signals: bool

    def _on_signal(self, name: str) -> None: ...

    def _on_exit(self) -> None: ...

    def _after_fork(self) -> None: ...


_ACTIVE: "weakref.WeakSet[Any]" = weakref.WeakSet()
_ACTIVE_LOCK = threading.Lock()
_prev_handlers: Dict[int, Any] = {}
_our_handler_installed = False


def active() -> list:
    """The registered trackers (a copy)."""
    return list(_ACTIVE)


def register(t: Hooked) -> None:
    with _ACTIVE_LOCK:
        _ACTIVE.add(t)
        if t.handles_signals:
            _install_signals()


def unregister(t: Hooked) -> None:
    with _ACTIVE_LOCK:
        _ACTIVE.discard(t)
        if not any(x.handles_signals for x in _ACTIVE):
            _restore_signals()


def _signal_handler(signum: int, frame: Any) -> None:
    name = signal.Signals(signum).name
    prev = _prev_handlers.get(signum, signal.SIG_DFL)  # before stop() restores the handlers
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


@atexit.register
def _at_exit() -> None:
    for t in list(_ACTIVE):
        try:
            t._on_exit()
        except Exception:
            logger.exception("wattprint: could not write the footprint at exit")


def _after_fork_in_child() -> None:
    global _our_handler_installed, _ACTIVE_LOCK
    _ACTIVE_LOCK = threading.Lock()  # the parent may have held it at fork time
    for t in list(_ACTIVE):
        try:
            t._after_fork()
        except Exception:
            logger.exception("wattprint: a tracker could not reset itself after fork")
    _ACTIVE.clear()
    _our_handler_installed = False
    _prev_handlers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
