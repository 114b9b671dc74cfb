"""What the report accepts as input: regular files only, and documents whose shape it can read.

:func:`read_regular` refuses a FIFO, device or socket named ``*.json`` (without a blocking open,
which a FIFO would turn into a hang); :func:`shape_problem` says why a schema-shaped document
cannot be reported (wrong types where the tables read). :mod:`wattprint.report.load` skips such
files in folders, naming the file and the reason.

Failure modes: :func:`read_regular` raises ``OSError``/``UnicodeDecodeError`` as ``open`` would,
and :class:`~wattprint.errors.ReportError` for a file that is not regular.
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Optional

from wattprint.errors import ReportError

__all__ = ["shape_problem", "read_regular"]

_NUMBER = (int, float)
_SECTIONS = ("energy", "carbon", "water", "work", "factors", "bounds", "host", "embodied", "forecast", "inference", "job", "distributed")


def shape_problem(doc: Mapping[str, Any]) -> Optional[str]:
    """Why a schema-shaped document cannot be reported (wrong types where the tables read), or ``None``.

    A light check of what the report reads, without a schema library: sections are objects,
    ``components``/``windows``/``gaps``/``notes`` lists of the right items, figures numbers (or null).
    """
    for key in _SECTIONS:
        if doc.get(key) is not None and not isinstance(doc.get(key), dict):
            return f"'{key}' is {type(doc.get(key)).__name__}, not an object"
    for key in ("it_j", "it_kwh", "facility_kwh"):
        v = doc["energy"].get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, _NUMBER)):
            return f"energy.{key} is {v!r}, not a number"
    for section in ("carbon", "water", "work"):
        for key, v in (doc.get(section) or {}).items():
            if key.endswith(("_kg", "_l", "_j", "_kwh")) and v is not None and (isinstance(v, bool) or not isinstance(v, _NUMBER)):
                return f"{section}.{key} is {v!r}, not a number"
    for c in doc["components"]:
        if not isinstance(c, dict):
            return f"a component is {type(c).__name__}, not an object"
        v = c.get("energy_j")
        if v is not None and (isinstance(v, bool) or not isinstance(v, _NUMBER)):
            return f"component {c.get('id')!r} energy_j is {v!r}, not a number"
    for key, item in (("windows", dict), ("window_totals", dict), ("gaps", dict), ("notes", str), ("sources", dict)):
        v = doc.get(key)
        if v is not None and (not isinstance(v, list) or not all(isinstance(x, item) for x in v)):
            return f"'{key}' is not a list of {item.__name__}"
    for key in ("run_id", "project", "status", "started_at", "region"):
        v = doc.get(key)
        if v is not None and not isinstance(v, str):
            return f"'{key}' is {type(v).__name__}, not text"
    return None


def read_regular(path: str) -> str:
    """The text of a regular file; a FIFO, device or socket named ``*.json`` is refused without opening
    it for a blocking read (a FIFO would hang the report)."""
    import stat

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ReportError(f"{path}: not a regular file (a FIFO, device or socket)")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        with os.fdopen(fd, encoding="utf-8", closefd=False) as fh:
            return fh.read()
    finally:
        os.close(fd)
