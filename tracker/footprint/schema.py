"""The JSON Schema of the footprint document (``wattprint.footprint/1``, draft 2020-12).

The schema ships as package data (``schemas/footprint.schema.json``) and is
read once, then handed out as a fresh dict on every call.

Failure modes: a broken install without the schema file raises
``FileNotFoundError``.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any, Dict

__all__ = ["footprint_schema"]


@functools.lru_cache(maxsize=1)
def _schema_text() -> str:
    return resources.files("wattprint.footprint").joinpath("schemas").joinpath("footprint.schema.json").read_text(encoding="utf-8")


def footprint_schema() -> Dict[str, Any]:
    """The JSON Schema of ``wattprint.footprint/1`` (a fresh dict; draft 2020-12)."""
    schema: Dict[str, Any] = json.loads(_schema_text())
    return schema
