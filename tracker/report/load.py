"""wattprint.report.load."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple

from wattprint.errors import ReportError
from wattprint.footprint.model import SCHEMA_ID, Footprint


@dataclass
class LoadResult:
    """Footprints found under some paths.

    Attributes:
        footprints: the runs, in path order (files in a folder sorted by start time).
        paths: the file each footprint came from (same order).
        skipped: ``(path, reason)`` for the files in folders that were not footprints.
        folded: ``(path, job run id)`` for per-rank footprints found in a folder next
            to their distributed job footprint, which already counts them.
    """

    footprints: List[Footprint] = field(default_factory=list)
    paths: List[str] = field(default_factory=list)
    skipped: List[Tuple[str, str]] = field(default_factory=list)
    folded: List[Tuple[str, str]] = field(default_factory=list)


def _is_footprint(doc: Any) -> bool:
    return (
        isinstance(doc, dict)
        and str(doc.get("schema", "")).startswith(SCHEMA_ID.split("/")[0] + "/")
        and isinstance(doc.get("energy"), dict)
        and isinstance(doc.get("components"), list)
    )


def load_footprint(path: str) -> Footprint:
    """Read one ``<run_id>.json`` written by wattprint (with or without its timeline).

    Raises:
        ReportError: the file is missing, unreadable, not JSON, or not a footprint.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ReportError(f"{path}: cannot read ({err})") from err
    except json.JSONDecodeError as err:
        raise ReportError(f"{path}: not JSON ({err.msg}, line {err.lineno}); a run still being written?") from err
    if not _is_footprint(doc):
        raise ReportError(f"{path}: not a wattprint footprint (no schema {SCHEMA_ID!r})")
    timeline = doc.pop("timeline", None)
    return Footprint(doc, timeline if isinstance(timeline, dict) else {})


def find_footprints(paths: Sequence[str], *, recursive: bool = False) -> List[str]:
    """The ``*.json`` files named by ``paths`` (files as given; folders listed, sorted).

    Raises:
        ReportError: a path does not exist.
    """
    found: List[str] = []
    for p in paths:
        if os.path.isdir(p):
            if recursive:
                for root, dirs, files in os.walk(p):
                    dirs.sort()
                    found.extend(os.path.join(root, f) for f in sorted(files) if f.endswith(".json"))
            else:
                found.extend(os.path.join(p, f) for f in sorted(os.listdir(p)) if f.endswith(".json"))
        elif os.path.exists(p):
            found.append(p)
        else:
            raise ReportError(f"{p}: no such file or folder")
    return found


def _job_of(fp: Footprint) -> Tuple[bool, Optional[str]]:
    """(is a distributed job footprint, the job run id a rank footprint belongs to)."""
    sec = fp.get("distributed")
    if not isinstance(sec, dict):
        return False, None
    if isinstance(sec.get("ranks"), list):
        return True, None
    job = sec.get("job_run_id")
    return False, (str(job) if job and str(job) != fp.run_id else None)


def load_footprints(paths: Sequence[str], *, recursive: bool = False, ranks: bool = False) -> LoadResult:
    """Load the footprints named by ``paths`` (files or output folders).

    A file named explicitly must be a footprint; in a folder, other JSON
    files are skipped. The same file given twice is read once. Runs from a
    folder are ordered by ``started_at``. In a folder holding a distributed
    job footprint (``<run_id>.job.json``), that job's per-rank footprints are
    folded into it (listed in ``LoadResult.folded``) unless ``ranks`` is true,
    so a comparison never counts a job twice.

    Raises:
        ReportError: a path does not exist, or an explicit file is not a footprint.
    """
    result = LoadResult()
    seen: set = set()
    for p in paths:
        explicit = not os.path.isdir(p)
        batch: List[Tuple[str, Footprint]] = []
        for f in find_footprints([p], recursive=recursive):
            key = os.path.realpath(f)
            if key in seen:
                continue
            seen.add(key)
            try:
                batch.append((f, load_footprint(f)))
            except ReportError as err:
                if explicit:
                    raise
                result.skipped.append((f, str(err).split(": ", 1)[-1]))
        batch.sort(key=lambda pf: str(pf[1].get("started_at") or ""))
        if not explicit and not ranks:
            jobs = {fp.run_id for _, fp in batch if _job_of(fp)[0]}
            kept = []
            for f, fp in batch:
                job = _job_of(fp)[1]
                if job is not None and job in jobs:
                    result.folded.append((f, job))
                else:
                    kept.append((f, fp))
            batch = kept
        for f, fp in batch:
            result.paths.append(f)
            result.footprints.append(fp)
    return result


