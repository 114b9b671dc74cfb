"""A run's file outputs: ``<run_id>.json`` and a row of ``runs.csv``. The one writer of both.

The Tracker writes its own files through here, and
:class:`~wattprint.exporters.JsonExporter` / :class:`~wattprint.exporters.CsvExporter`
are thin over the same functions, so every ``runs.csv`` is written the same way:
one row per run, appended with one ``write`` under an exclusive ``flock``; a new
file gets the header (:data:`~wattprint.footprint.CSV_FIELDS` by default), and
a file written by an older wattprint (a shorter header) keeps its header, the row
being written to its columns, so the file stays rectangular.

The JSON file is the footprint document plus its ``timeline`` key, written to a
temp file in the same folder, fsynced and renamed over the target (a reader
never sees half a file). Checkpoints are renamed the same way, but only every
:data:`SYNC_EVERY_CHECKPOINTS`-th (the first included) is fsynced: a killed
process loses nothing either way (the kernel holds the write), a power cut can
lose the checkpoints since the last synced one (10 minutes at the defaults);
an fsync costs about as much CPU as the rest of a checkpoint.

Checkpoints cost what changed, not the run's length: a checkpoint writes the
footprint document *without* its timeline (a few kB whatever the run's length)
and appends the timeline points kept since the last checkpoint to the journal
``<run_id>.timeline.jsonl`` beside it (:data:`JOURNAL_SUFFIX`; one ``write`` per
checkpoint). Its first line is a header
``{"journal": "wattprint.timeline/1", "run_id": ..., "components": [...]}``,
every other line one point ``[t_s, steps, [joules per component]]`` (cumulative,
so a torn last line or a dropped point loses only resolution). ``stop()``
compacts: the final JSON carries the whole timeline and the journal is removed.
A killed run leaves a valid ``partial`` footprint plus its journal;
:func:`wattprint.report.load_footprint` reads the timeline back from it. A run
id too long for the journal's name checkpoints the whole timeline as before.

:class:`RunFiles` never writes outside its ``output_dir``: the run id must pass
:func:`wattprint.settings.check_file_name` (``ConfigError`` at construction),
and before each write the target is resolved (links followed) and refused when
it lies elsewhere (e.g. a ``runs.csv`` swapped for a link out of the folder).

Failure modes: :func:`write_json` raises ``OSError`` (read-only folder, full
disk); :func:`append_csv` raises ``OSError`` or ``ValueError`` (the file's first
line is not a CSV header). The Tracker logs them; the exporter runner records them.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import stat
import threading
from typing import Any, List, Optional, Sequence, Tuple

from wattprint import _io
from wattprint.footprint.model import CSV_FIELDS, Footprint
from wattprint.run import hooks
from wattprint.settings import check_file_name

__all__ = ["RunFiles", "json_path", "csv_path", "journal_path", "write_json", "append_csv", "existing_header", "CSV_NAME",
           "JOURNAL_SUFFIX", "JOURNAL_ID"]

logger = logging.getLogger("wattprint")

CSV_NAME = "runs.csv"
JOURNAL_SUFFIX = ".timeline.jsonl"
JOURNAL_ID = "wattprint.timeline/1"
_NAME_MAX_BYTES = 255
_MAX_UNWRITTEN = 4096  # timeline points kept for the journal while checkpoints fail
SYNC_EVERY_CHECKPOINTS = 10  # every 10th checkpoint (the first included) is fsynced: 10 min at the 60 s default


def json_path(output_dir: str, run_id: str) -> str:
    """``<output_dir>/<run_id>.json``."""
    return os.path.join(output_dir, f"{run_id}.json")


def csv_path(output_dir: str) -> str:
    """``<output_dir>/runs.csv``."""
    return os.path.join(output_dir, CSV_NAME)


def journal_path(output_dir: str, run_id: str) -> str:
    """``<output_dir>/<run_id>.timeline.jsonl``, the checkpoints' timeline journal."""
    return os.path.join(output_dir, f"{run_id}{JOURNAL_SUFFIX}")


def _journal_lines(points: Sequence[Tuple[float, int, Sequence[float]]]) -> str:
    """One ``[t_s,steps,[energy_j,...]]`` line per point. One C-encoder pass over all of them: a point
    is ``[t,steps,[...]]``, so ``]],[`` occurs only between two points. Raises ``ValueError`` on NaN."""
    if not points:
        return ""
    text = json.dumps(points if isinstance(points, list) else list(points), allow_nan=False, separators=(",", ":"))
    return text[1:-1].replace("]],[", "]]\n[") + "\n"


def write_json(path: str, footprint: Footprint, *, timeline: bool = True, sync: bool = True) -> None:
    """Write the footprint (and, by default, its ``timeline``) to ``path`` atomically. Raises ``OSError``.

    The final footprint (with its timeline) is indented for people; a checkpoint (``timeline=False``,
    rewritten every ``checkpoint_interval_s``) is written on one line, the cheap way (C encoder).
    ``sync``: fsync before the rename (see :func:`wattprint._io.atomic_write_bytes`)."""
    _io.atomic_write_text(path, footprint.to_json(timeline=timeline, indent=2 if timeline else None) + "\n", sync=sync)


def append_csv(path: str, footprint: Footprint, fields: Optional[Sequence[str]] = None) -> List[str]:
    """Append the run's row to ``path`` under the file's own header (a new file gets ``fields``,
    default :data:`CSV_FIELDS`). Returns the header used. Raises ``OSError`` or ``ValueError``."""
    header = existing_header(path) or list(fields if fields is not None else CSV_FIELDS)
    _io.append_csv_row(path, header, footprint.csv_row())
    return header


def existing_header(path: str) -> Optional[List[str]]:
    """The header of an existing, non-empty CSV file, or ``None``.

    Raises:
        ValueError: the first line is empty or not a list of names.
        OSError: the path is a link or not a regular file.
    """
    try:
        fd = _io.open_regular(path, os.O_RDONLY)  # a FIFO planted as runs.csv would block a plain open()
    except FileNotFoundError:
        return None
    with open(fd, "r", encoding="utf-8", newline="") as fh:
        first = fh.readline()
    if not first:
        return None
    if not first.endswith("\n"):
        # another process is writing the first row right now; the header it writes is ours
        return None
    header = next(csv.reader([first]), [])
    if not header or any(not h for h in header):
        raise ValueError(f"{path}: the first line is not a CSV header; move the file away or pick another path")
    return header


class RunFiles:
    """The files of one run in ``output_dir``: ``<run_id>.json`` (checkpoints and final) and its ``runs.csv`` row.

    Write failures are logged, never raised: the footprint is still returned by ``stop()``.
    """

    def __init__(self, output_dir: str, run_id: str, save: bool) -> None:
        """Raises ``ConfigError`` (naming ``run_id``) when the run id is not a safe file name."""
        check_file_name("run_id", run_id, suffix=".json")
        self.output_dir, self.run_id, self.save = output_dir, run_id, save
        self.json_path = json_path(output_dir, run_id)
        self.csv_path = csv_path(output_dir)
        fits = len(os.fsencode(f"{run_id}{JOURNAL_SUFFIX}")) <= _NAME_MAX_BYTES  # the bytes the file system sees
        self.journal_path: Optional[str] = journal_path(output_dir, run_id) if fits else None
        self._journal_started = False
        self._unwritten: List[Tuple[float, int, Sequence[float]]] = []  # drained timeline points not yet in the journal
        self._failing = False  # the last checkpoint failed (logged once per spell)
        self._checkpoints = 0  # checkpoints tried so far (every SYNC_EVERY_CHECKPOINTS-th is fsynced)
        # a checkpoint (sampler thread) and the final write (stop) never overlap, and no checkpoint follows the
        # final one: a checkpoint still writing when stop() gave up joining the sampler would overwrite it
        self._write_lock = threading.RLock()  # re-entrant: a signal's stop() may land inside a checkpoint
        self._final = False

    def _check_inside(self, *paths: str) -> None:
        """Raise ``OSError`` when one of ``paths`` (files named directly in ``output_dir``), resolved, is not
        a file directly in the resolved ``output_dir``. A name that is not a link resolves there by
        construction (it has no separator, :func:`check_file_name`), so only a link is resolved."""
        folder: Optional[str] = None
        for path in paths:
            try:
                if not stat.S_ISLNK(os.lstat(path).st_mode):
                    continue
            except FileNotFoundError:
                continue
            folder = folder or os.path.realpath(self.output_dir)
            target = os.path.realpath(path)
            if os.path.dirname(target) != folder:
                raise OSError(f"{path} resolves to {target}, outside {folder}; refusing to write there")

    def write_json(self, footprint: Footprint) -> bool:
        """Write (or overwrite) ``<run_id>.json``; False (logged) on failure or when not saving."""
        if not self.save:
            return False
        try:
            self._check_inside(self.json_path)
            write_json(self.json_path, footprint)
            return True
        except Exception as err:
            logger.error("wattprint: could not write %s (%s); the footprint is still returned by stop() "
                         "(Footprint.save(path) writes it once there is room)", self.json_path, err)  # fmt: skip
            return False

    def write_checkpoint(self, footprint: Footprint, ledger: Any) -> bool:
        """A checkpoint: the document without its timeline, then the new timeline points onto
        the journal (``ledger``: the run's :class:`~wattprint.engine.ledger.Ledger`). In that
        order, a kill between the two leaves a journal that ends at or before the document's
        ``duration_s``, never one with points the document does not cover.
        False (logged) on failure or when not saving; never raises."""
        if not self.save:
            return False
        with self._write_lock:
            if self._final:  # the final footprint is written (or being written): never overwrite it
                return False
            return self._checkpoint(footprint, ledger)

    def _checkpoint(self, footprint: Footprint, ledger: Any) -> bool:
        if self.journal_path is None:
            return self.write_json(footprint)
        # power-cut durability every SYNC_EVERY_CHECKPOINTS-th time, not every time: an fsync costs about
        # as much CPU as the rest of a checkpoint; a kill (SIGKILL, OOM) loses nothing either way
        sync = self._checkpoints % SYNC_EVERY_CHECKPOINTS == 0
        self._checkpoints += 1
        try:
            self._check_inside(self.json_path, self.journal_path)
            write_json(self.json_path, footprint, timeline=False, sync=sync)
            points, rewrite = ledger.drain_journal()
            # points drained but not yet on disk (a full disk) go with the next checkpoint; they are
            # cumulative, so keeping only the latest ones loses resolution, never energy
            self._unwritten = points if rewrite else (self._unwritten + points)[-_MAX_UNWRITTEN:]
            if rewrite or not self._journal_started:
                header = json.dumps({"journal": JOURNAL_ID, "run_id": self.run_id, "components": list(ledger.ids)})
                _io.atomic_write_text(self.journal_path, header + "\n" + _journal_lines(self._unwritten), sync=sync)
                self._journal_started = True
            elif self._unwritten:
                try:  # all the lines or none (a short write is cut back): no torn line for later ones to follow
                    _io.append_bytes(self.journal_path, _journal_lines(self._unwritten).encode("utf-8"))
                except FileNotFoundError:
                    self._journal_started = False  # the journal was removed: start it afresh next time
                    raise
            self._unwritten = []
        except Exception as err:
            if not self._failing:  # once per failing spell (a full disk fails every checkpoint), not every time
                logger.error("wattprint: could not write the checkpoint %s (%s); later checkpoints are tried quietly, "
                             "the footprint is still returned by stop()", self.json_path, err)  # fmt: skip
            self._failing = True
            return False
        if self._failing:
            logger.info("wattprint: checkpoints of %s are written again", self.json_path)
            self._failing = False
        return True

    def remove_journal(self) -> None:
        """Compaction: the final JSON holds the whole timeline, so the journal goes. Never raises."""
        if self.journal_path is None or not self._journal_started:
            return
        try:
            self._check_inside(self.journal_path)
            os.unlink(self.journal_path)
        except FileNotFoundError:
            pass
        except Exception as err:
            logger.warning("wattprint: could not remove %s (%s)", self.journal_path, err)
        self._journal_started = False

    def write_final(self, footprint: Footprint) -> None:
        """The JSON file first (with the whole timeline; the journal is then removed),
        then the ``runs.csv`` row (both logged on failure).

        Ends the signal-deferral window :func:`wattprint.run.hooks.unregister` opened: a
        SIGTERM/SIGINT that landed since is handled (chained) here, once both are written.
        """
        try:
            if not self.save:
                return
            with self._write_lock:  # waits for a checkpoint in progress; none is written after this
                self._final = True
                if self.write_json(footprint):
                    self.remove_journal()
            try:
                self._check_inside(self.csv_path)
                append_csv(self.csv_path, footprint)
            except Exception as err:
                logger.error("wattprint: could not append to %s (%s)", self.csv_path, err)
        finally:
            hooks.files_written()
