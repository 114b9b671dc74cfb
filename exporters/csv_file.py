"""CSV: one row per run, appended safely by many processes at once.

The header is :data:`wattprint.footprint.CSV_FIELDS` (stable; new columns are
only ever appended at the end). Each row is written with one ``write`` under
an exclusive ``flock`` on the file, and the header is written only by the
process that finds the file empty under that lock, so concurrent runs leave
exactly one header and one intact row each. Readable by :mod:`csv` and pandas.

The writing is :func:`wattprint.run.outputs.append_csv`, the Tracker's own writer.
A file written by an older wattprint (a shorter header) keeps its header:
rows are written to its columns, so the file stays rectangular.

Failure modes: ``export`` raises ``OSError`` (read-only folder, full disk) or
``ValueError`` (the file's first line is not a CSV header); the exporter
runner logs it and the run and the other outputs go on.
"""

from __future__ import annotations

import os
from typing import List, Optional, Sequence, Union

from wattprint.errors import ConfigError
from wattprint.exporters._paths import check_template, resolve_path
from wattprint.footprint.model import CSV_FIELDS, Footprint
from wattprint.run.outputs import append_csv, existing_header

__all__ = ["CsvExporter", "existing_header"]


class CsvExporter:
    """Appends one row per run to a CSV file.

    Args:
        path: the file (``runs.csv``), a folder (``<folder>/runs.csv``), or a
            template with ``{project}`` / ``{run_id}``.
        fields: the columns of a new file (default :data:`CSV_FIELDS`); an
            existing file keeps its own header.

    Attributes:
        last_path: the file last appended to, or ``None``.
    """

    def __init__(self, path: Union[str, "os.PathLike[str]"], *, fields: Optional[Sequence[str]] = None) -> None:
        self.path = check_template(path)  # a bad template fails here, naming path, not at the run's end
        self.fields: List[str] = list(fields) if fields is not None else list(CSV_FIELDS)
        unknown = [f for f in self.fields if f not in CSV_FIELDS]
        if unknown:
            raise ConfigError("fields", f"unknown column(s) {unknown}; valid: {', '.join(CSV_FIELDS)}")
        self.last_path: Optional[str] = None

    def export(self, footprint: Footprint) -> None:
        """Append the run's row. Raises ``OSError`` or ``ValueError`` (see the module)."""
        target = resolve_path(self.path, footprint, "runs.csv")
        append_csv(target, footprint, self.fields)
        self.last_path = target

    def __repr__(self) -> str:
        return f"CsvExporter({os.fspath(self.path)!r})"
