"""Atomic file writes and locked CSV appends (shared by the core and the exporters).

Failure modes: both raise ``OSError`` (read-only folder, full disk) and leave
no half-written file behind; callers decide whether to log or raise.
"""

from __future__ import annotations

import csv
import io
import json
import os
import threading
import uuid
from typing import Any, Mapping, Sequence

try:  # POSIX advisory locks; on other platforms appends are not cross-process safe
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_json", "append_csv_row"]


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder, fsync, then rename."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    # a short temp name: ``<path>.<pid>.<thread>.tmp`` would pass the 255-byte name limit for long names
    tmp = os.path.join(folder, f".wattprint-{os.getpid()}-{threading.get_ident()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str, document: Any) -> None:
    atomic_write_text(path, json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")


def append_csv_row(path: str, fieldnames: Sequence[str], row: Mapping[str, Any]) -> None:
    """Append one row, writing the header first when the file is new or empty.

    The whole row is written with one ``write`` under an exclusive ``flock``, so
    processes appending to the same file at once neither lose nor tear rows.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(fieldnames), extrasaction="ignore", lineterminator="\n")
    writer.writerow({k: _cell(row.get(k)) for k in fieldnames})
    line = buf.getvalue()
    with open(path, "a+", encoding="utf-8", newline="") as fh:
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            fh.seek(0, os.SEEK_END)
            if fh.tell() == 0:
                head = io.StringIO()
                csv.writer(head, lineterminator="\n").writerow(fieldnames)
                line = head.getvalue() + line
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return value
