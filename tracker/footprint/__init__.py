"""The footprint layer: the data contract and pure functions over it.

The ``Footprint`` model and its schema, the figure table, the one builder, accounting,
factors and hardware tables (``data/*.csv``), planning (``estimate``) and the job merge.
Imports only the engine's host info (plus ``units``, ``errors``, ``_io``); it never reads a
sensor and never starts a thread.
"""

from wattprint.footprint.model import CSV_FIELDS, FIGURES, SCHEMA_ID, Figure, Footprint

__all__ = ["CSV_FIELDS", "FIGURES", "SCHEMA_ID", "Figure", "Footprint"]
