"""Atomic file writes and locked CSV appends (shared by the core and the exporters).

:func:`csv_cell` is the one CSV cell sanitiser (``runs.csv`` and ``report
--format csv``): a text cell that a spreadsheet would read as a formula (it
starts with ``=``, ``+``, ``-``, ``@``, tab or CR) gets a leading ``'``, as
OWASP recommends for CSV injection; numbers (``-1.5``, ``+3``) are left alone.
:func:`visible` is the one terminal and log sanitiser (report tables, the CLI's
lines and every ``wattprint`` log record, through :class:`VisibleLogFilter`):
control characters and bidi overrides become ``\\xNN`` escapes, so a name can
neither drive a terminal nor start a forged line. :func:`md_escape` is the one
Markdown sanitiser (``report --format md``, the model card).

Failure modes: both writers raise ``OSError`` (read-only folder, full disk) and leave
no half-written file behind; callers decide whether to log or raise.
"""

from __future__ import annotations

import csv
import errno
import io
import itertools
import json
import logging
import math
import os
import stat
import threading
from typing import Any, Mapping, Optional, Sequence

try:  # POSIX advisory locks; on other platforms appends are not cross-process safe
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_json", "append_csv_row", "append_bytes", "open_regular", "csv_cell", "csv_line",
           "visible", "encodable", "md_escape", "VisibleLogFilter"]

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


_TMP_PREFIX = ".wattprint-"
_swept: set = set()
_tmp_serial = itertools.count()


def sweep_stale_temps(folder: str) -> int:
    """Remove temp files (``.wattprint-<pid>-….tmp``) that a killed writer left in ``folder``: those
    whose process is gone. Returns how many; errors are ignored (another process may sweep too)."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        name = entry.name
        if not (name.startswith(_TMP_PREFIX) and name.endswith(".tmp")):
            continue
        try:
            pid = int(name[len(_TMP_PREFIX):].split("-", 1)[0])
        except ValueError:
            continue
        if pid == os.getpid() or _alive(pid):
            continue
        try:
            os.unlink(entry.path)
            removed += 1
        except OSError:
            pass
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process: leave its file alone
    return True


def atomic_write_bytes(path: str, data: bytes, *, sync: bool = True) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder, fsync (unless ``sync`` is
    false), then rename. Without ``sync`` the file survives the process being killed at any point
    (the kernel holds the write), not necessarily a power cut. The first write into a folder in
    this process sweeps temp files killed writers left there (and creates the folder).
    Raises ``OSError``; no temp file is left behind."""
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in _swept:
        os.makedirs(folder, exist_ok=True)
        _swept.add(folder)
        sweep_stale_temps(folder)
    # a short temp name: ``<path>.<pid>.<thread>.tmp`` would pass the 255-byte name limit for long names;
    # unique in this process by its counter, across processes by the pid (and O_EXCL)
    tmp = os.path.join(folder, f"{_TMP_PREFIX}{os.getpid()}-{threading.get_ident()}-{next(_tmp_serial)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(tmp, flags, 0o666)
    except FileNotFoundError:  # the folder went away since: make it again, once
        os.makedirs(folder, exist_ok=True)
        fd = os.open(tmp, flags, 0o666)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                if written <= 0:
                    raise OSError(errno.ENOSPC, f"no room to write {tmp}")
                view = view[written:]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_text(path: str, text: str, *, sync: bool = True) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8", "backslashreplace"), sync=sync)  # a lone surrogate as its escape (encodable)


def strict_json(document: Any, *, indent: Optional[int] = 2) -> str:
    """JSON text every strict parser reads (JavaScript's ``JSON.parse`` included): a NaN or
    infinite float becomes ``null`` (unknown), other objects their ``str``. The common case
    (all finite) costs one ``json.dumps``."""
    try:
        return json.dumps(document, indent=indent, default=str, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(document), indent=indent, default=str, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def atomic_write_json(path: str, document: Any, *, indent: Optional[int] = 2, sync: bool = True) -> None:
    """Write ``document`` as strict JSON (:func:`strict_json`) to ``path`` atomically; ``indent=None``
    writes it on one line, through the json module's C encoder (about 5x cheaper than indenting)."""
    atomic_write_text(path, strict_json(document, indent=indent) + "\n", sync=sync)


def open_regular(path: str, flags: int, mode: int = 0o666) -> int:
    """``os.open`` for a file wattprint appends to or reads back from ``output_dir``: never through a
    symbolic link, never blocking on a FIFO or device planted under the name (``O_NONBLOCK`` for the
    open only), and only a regular file. Returns the descriptor.

    Raises:
        OSError: the path is a link (``ELOOP``), not a regular file, or cannot be opened.
    """
    try:
        fd = os.open(path, flags | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0), mode)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, f"{path} is a symbolic link; wattprint does not write through links") from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, f"{path} is not a regular file (a FIFO, device or folder?); wattprint leaves it alone")
        if fcntl is not None and hasattr(os, "O_NONBLOCK"):
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return fd


def append_csv_row(path: str, fieldnames: Sequence[str], row: Mapping[str, Any]) -> None:
    """Append one row, writing the header first when the file is new or empty.

    The whole row is written with one ``os.write`` under an exclusive ``flock``, so
    processes appending to the same file at once neither lose nor tear rows. A file
    whose last row was torn (no final newline, e.g. a full disk) gets a newline
    first, so this row is not glued onto it; a write that fails or falls short
    (``ENOSPC``) is cut back off the file before ``OSError`` is raised.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    line = csv_line([csv_cell(row.get(k)) for k in fieldnames])
    # never through a symlink (a runs.csv replaced by a link in a shared folder would write elsewhere), never a FIFO
    fd = open_regular(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size == 0:
            line = csv_line(fieldnames) + line
        elif _last_byte(fd, size) != b"\n":
            line = "\n" + line
        _write_whole(fd, line.encode("utf-8", "backslashreplace"), size, path, sync=True)  # as encodable()
    finally:
        os.close(fd)  # closing drops the flock


def append_bytes(path: str, data: bytes) -> None:
    """Append ``data`` to the existing file ``path`` (never through a symlink) with one ``write``;
    a write that fails or falls short (``ENOSPC``) is cut back off the file before ``OSError`` is
    raised, so the file holds either all of ``data`` or none of it. No ``fsync``."""
    fd = open_regular(path, os.O_WRONLY | os.O_APPEND)
    try:
        _write_whole(fd, data, os.fstat(fd).st_size, path, sync=False)
    finally:
        os.close(fd)


def _write_whole(fd: int, data: bytes, size: int, path: str, *, sync: bool) -> None:
    """One ``write`` of ``data`` at the end of a file ``size`` bytes long: all of it, or the file cut back to ``size``."""
    try:
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(errno.ENOSPC, f"short write to {path}: {written} of {len(data)} bytes")
        if sync:
            os.fsync(fd)
    except BaseException:
        try:
            os.ftruncate(fd, size)  # take the torn tail back off
        except OSError:
            pass
        raise


def _last_byte(fd: int, size: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, 1, size - 1)
    os.lseek(fd, size - 1, os.SEEK_SET)  # pragma: no cover - no pread (Windows)
    return os.read(fd, 1)


def csv_line(cells: Sequence[Any]) -> str:
    """One CSV record ending in ``\\n``; a cell holding a CR or LF is quoted (the csv module
    quotes only the line terminator's characters, so it is written with ``\\r\\n`` and cut)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(cells)
    return buf.getvalue()[:-2] + "\n"


def csv_cell(value: Any) -> Any:
    """One CSV cell: ``None`` -> ``""``, bools ``true``/``false``, floats in full (``repr``), and
    text that would start a spreadsheet formula prefixed with ``'`` (numbers left alone)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        value = encodable(value)  # a lone surrogate as its escape: the report's CSV goes to a strict UTF-8 stdout too
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        try:
            float(value)
            return value  # a number such as -1.5 or +3
        except ValueError:
            return "'" + value
    return value


# bidirectional overrides and isolates reorder what a terminal or a Markdown viewer shows (code points);
# visible() escapes them and settings.check_file_name refuses them in names
BIDI_OVERRIDES = frozenset((0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069))


def visible(text: str) -> str:
    """Text that cannot drive a terminal: control characters (ESC, BEL, CR, newline: clear-screen,
    titles, OSC 52 clipboard writes, forged lines), C1 controls, bidi overrides and lone surrogates
    are shown as ``\\xNN`` / ``\\uNNNN`` escapes; everything else is kept."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        o = ord(ch)
        if o < 0x20 or 0x7F <= o < 0xA0 or o in BIDI_OVERRIDES or o in (0x2028, 0x2029) or 0xD800 <= o < 0xE000:
            out.append(f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}")
        else:
            out.append(ch)
    return "".join(out)


def encodable(text: str) -> str:
    """``text`` that encodes as UTF-8: a lone surrogate (what Python makes of bytes that are not
    UTF-8 in an environment variable or a file name) becomes its ``\\udcff`` escape, as the
    file writers here write it; other text is returned as it is."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


_MD_SPECIAL = {"\\": "\\\\", "|": "\\|", "<": "&lt;", ">": "&gt;", "&": "&amp;", "[": "\\[", "]": "\\]", "`": "\\`", "*": "\\*",
               "_": "\\_", "#": "\\#"}


def md_escape(text: str) -> str:
    """Markdown-inert text (a table cell, a heading, a word in a sentence): no raw HTML, links,
    code spans, emphasis, headings or table breaks, one line (:func:`visible`)."""
    return "".join(_MD_SPECIAL.get(ch, ch) for ch in visible(text))


class VisibleLogFilter(logging.Filter):
    """Makes every record of the ``wattprint`` logger one visible line (:func:`visible`): a name
    carrying ESC or a newline can neither drive the terminal nor forge a ``wattprint:`` line.
    A traceback keeps its own lines; the exception's message in it is made visible too."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to logging's own error report
            return True
        record.msg, record.args = visible(message), None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = _visible_traceback(record.exc_info)
        return True


def _visible_traceback(exc_info: Any) -> str:
    import traceback

    text = "".join(traceback.format_exception(*exc_info)).rstrip("\n")
    err: Optional[BaseException] = exc_info[1]
    seen = set()
    while err is not None and id(err) not in seen:  # the message of each exception in the chain
        seen.add(id(err))
        raw = "".join(traceback.format_exception_only(type(err), err)).rstrip("\n")
        text = text.replace(raw, visible(raw))
        err = err.__cause__ or err.__context__
    return "".join(ch if ch == "\n" else visible(ch) for ch in text)


_LOG_FILTER = VisibleLogFilter()
logging.getLogger("wattprint").addFilter(_LOG_FILTER)  # every wattprint module logs to this one logger
