"""The bundled data tables (``wattprint/footprint/data/*.csv``) and their cell readers.

Every CSV in ``data/`` has a header row; lines starting with ``#`` are comments
(sources, licences). Cells are text; :func:`opt_float` and :func:`opt_int`
read the optional numeric ones (an empty cell is ``None``).

Failure modes: a missing file raises ``FileNotFoundError`` (a broken install);
a cell that is not a number raises ``ValueError`` naming it (a broken table,
caught by the table tests).
"""

from __future__ import annotations

import csv
from importlib import resources
from typing import Dict, List, Optional

__all__ = ["read_data_csv", "opt_float", "opt_int"]


def read_data_csv(filename: str) -> List[Dict[str, str]]:
    """Rows of a CSV file in ``wattprint/footprint/data`` as dicts of strings (``#`` lines are comments)."""
    text = resources.files("wattprint.footprint").joinpath("data").joinpath(filename).read_text(encoding="utf-8")
    return list(csv.DictReader(line for line in text.splitlines() if line and not line.startswith("#")))


def opt_float(text: Optional[str]) -> Optional[float]:
    """A number from an optional cell: ``None`` for an empty or missing cell."""
    text = (text or "").strip()
    return float(text) if text else None


def opt_int(text: Optional[str]) -> Optional[int]:
    """An integer from an optional cell: ``None`` for an empty or missing cell."""
    text = (text or "").strip()
    return int(text) if text else None
