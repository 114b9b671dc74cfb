"""``wattprint run --live``: the child's output and the live status line, never on one line.

On a terminal the status line is rewritten in place; a child writing to the same terminal
would glue its text onto it (``... 1.0 sepoch 1: loss 0.500``) and leave stale status lines.
:func:`spawn` therefore gives the child a pseudo-terminal for each of its stdout and stderr
that is a terminal here (so it still sees a terminal: colours, line buffering and progress
bars behave as without wattprint; stdout and stderr on the same terminal share one, so their
order is the child's, as on a plain terminal), and relays what it writes through
:meth:`wattprint.exporters.live.LiveStatus.write_through`, which clears the status line,
writes the child's bytes and draws the status line again below them.

Only when the status line is live on a terminal; otherwise the child inherits the streams
as before. POSIX only (``pty``); elsewhere the child inherits the streams.

Failure modes: a pseudo-terminal that cannot be opened falls back to inherited streams;
a broken output stream loses the child's bytes, never the run; a grandchild that keeps the
terminal open after the child exits is waited for at most ``drain_s`` seconds.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from typing import Any, Dict, List, Optional, Sequence

__all__ = ["Relayed", "spawn", "command_record", "redact"]


class Relayed:
    """A child process whose terminal output is relayed around the status line."""

    def __init__(self, child: "subprocess.Popen[bytes]", threads: List[threading.Thread], masters: List[int]) -> None:
        self.child = child
        self._threads = threads
        self._masters = masters

    def wait(self, drain_s: float = 2.0) -> int:
        """Wait for the child, then for its output to be relayed (at most ``drain_s`` seconds)."""
        rc = self.child.wait()
        for t in self._threads:
            t.join(drain_s)
        for fd in self._masters:
            try:
                os.close(fd)
            except OSError:
                pass
        return rc

    def send_signal(self, signum: int) -> None:
        self.child.send_signal(signum)


def _copy_window_size(src_fd: int, dst_fd: int) -> None:
    try:
        import fcntl
        import termios

        size = fcntl.ioctl(src_fd, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(dst_fd, termios.TIOCSWINSZ, size)
    except (ImportError, OSError):
        pass


def _pump(master: int, status: Any, out: Any) -> None:
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: every writer closed its end
            return
        if not data:
            return
        status.write_through(out, data)


def spawn(cmd: Sequence[str], status: Any, *, streams: Optional[Dict[str, Any]] = None) -> Any:
    """Start ``cmd``; relay its terminal output through ``status`` when that is a live terminal line.

    Args:
        cmd: the command line.
        status: a :class:`~wattprint.exporters.live.LiveStatus` (or ``None``: plain ``Popen``).
        streams: ``{"stdout": ..., "stderr": ...}`` text streams to relay to (default ``sys.stdout``/``sys.stderr``).

    Returns:
        A :class:`Relayed` (or a plain ``Popen``), both with ``wait()`` and ``send_signal()``.

    Raises:
        OSError: the command cannot be started.
    """
    if status is None or not getattr(status, "tty", False) or not getattr(status, "enabled", False) or os.name != "posix":
        return subprocess.Popen(list(cmd))
    import pty

    streams = streams or {"stdout": sys.stdout, "stderr": sys.stderr}
    kwargs: Dict[str, Any] = {}
    masters: List[int] = []
    slaves: List[int] = []
    pumps: List[tuple] = []
    terminals: List[tuple] = []  # (fstat of the terminal, its pty's slave): one pty per terminal
    try:
        for name, stream in streams.items():
            try:
                is_tty = stream.isatty()
                fd = stream.fileno()
                here = os.fstat(fd)
            except (AttributeError, OSError, ValueError):
                continue
            if not is_tty:
                continue
            shared = next((sl for st, sl in terminals if os.path.samestat(st, here)), None)
            if shared is not None:  # stdout and stderr on one terminal: one pty keeps the child's order
                kwargs[name] = shared
                continue
            master, slave = pty.openpty()
            _copy_window_size(fd, slave)
            masters.append(master)
            slaves.append(slave)
            terminals.append((here, slave))
            kwargs[name] = slave
            pumps.append((master, getattr(stream, "buffer", stream)))
    except OSError:
        for fd in masters + slaves:
            os.close(fd)
        return subprocess.Popen(list(cmd))
    try:
        child = subprocess.Popen(list(cmd), **kwargs)
    finally:
        for fd in slaves:  # the child holds its own copies
            os.close(fd)
    threads = [threading.Thread(target=_pump, args=(m, status, out), name="wattprint-relay", daemon=True) for m, out in pumps]
    for t in threads:
        t.start()
    return Relayed(child, threads, masters)


_SECRET = re.compile(r"(token|secret|passw|pwd|api[-_]?key|apikey|auth|credential|private[-_]?key)", re.IGNORECASE)
REDACTED = "<redacted>"


def redact(argv: Sequence[str]) -> List[str]:
    """``argv`` with secrets hidden: the value after a flag whose name looks like one (``--hf-token X``),
    ``--token=X``, ``KEY=X`` assignments, and URL passwords (``https://user:pw@host``)."""
    out: List[str] = []
    hide_next = False
    for arg in map(str, argv):
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        name, eq, _value = arg.partition("=")
        if eq and _SECRET.search(name):
            out.append(f"{name}={REDACTED}")
            continue
        if arg.startswith("-") and _SECRET.search(arg):
            hide_next = True
        out.append(re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1" + REDACTED + "@", arg))
    return out


def command_record(cmd: Sequence[str], exit_code: Optional[int], reason: Optional[str] = None) -> Dict[str, Any]:
    """The footprint's ``command`` section for ``wattprint run``: the command (secrets redacted), its exit
    code (a negative code is ``128 + signal`` as a shell reports it) and, when it did not end by itself, why."""
    code = None if exit_code is None else (exit_code if exit_code >= 0 else 128 - exit_code)
    record: Dict[str, Any] = {"argv": redact(cmd), "exit_code": code}
    if exit_code is not None and exit_code < 0:
        record["signal"] = -exit_code
    if reason:
        record["reason"] = str(reason)
    return record
