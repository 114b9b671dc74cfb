"""JSON: the footprint document and its timeline, written atomically.

The writing is :func:`wattprint.run.outputs.write_json`, the Tracker's own writer.
The file is the ``wattprint.footprint/1`` document with one more top-level key,
``timeline`` (layout in ``docs/exporters.md``). It is written to a temp file in
the same folder, flushed, fsynced and renamed over the target, so a reader
never sees half a file and a crash leaves the previous version in place.

Failure modes: ``export`` raises ``OSError`` (read-only folder, full disk);
the exporter runner logs it and the run and the other outputs go on.
"""

from __future__ import annotations

import os
from typing import Optional, Union

from wattprint.exporters._paths import check_template, resolve_path
from wattprint.footprint.model import Footprint
from wattprint.run.outputs import write_json

__all__ = ["JsonExporter"]


class JsonExporter:
    """Writes the footprint (and its timeline) as JSON.

    Args:
        path: the file, a folder (``<folder>/<run_id>.json``), or a template
            with ``{run_id}`` / ``{project}``, e.g. ``"ckpt/{run_id}.footprint.json"``.
        timeline: include the ``timeline`` key (default ``True``).
        live: also rewrite the file with the partial footprint (status
            ``"partial"``) at every sample, so a killed run leaves its figures
            behind (default ``False``; the tracker already checkpoints its own file).

    Attributes:
        last_path: the file last written, or ``None``.
    """

    def __init__(self, path: Union[str, "os.PathLike[str]"], *, timeline: bool = True, live: bool = False) -> None:
        self.path = check_template(path)  # a bad template fails here, naming path, not at the run's end
        self.timeline = timeline
        self.last_path: Optional[str] = None
        if live:
            self.on_sample = self._write  # only live exporters get samples

    def _write(self, footprint: Footprint) -> None:
        target = resolve_path(self.path, footprint, "{run_id}.json")
        write_json(target, footprint, timeline=self.timeline)
        self.last_path = target

    def export(self, footprint: Footprint) -> None:
        """Write the final footprint. Raises ``OSError`` when the file cannot be written."""
        self._write(footprint)

    def __repr__(self) -> str:
        return f"JsonExporter({os.fspath(self.path)!r})"
