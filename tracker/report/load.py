"""Find and read saved footprints (``<run_id>.json``), and account for distributed jobs once.

:func:`load_footprints` takes files and output folders and returns a
:class:`LoadResult`: the runs in start order, the files that were skipped and
why, and what was done with per-rank footprints. In a folder, a distributed
job is reported once:

* rank files (``<run_id>-rank<k>.json``) next to their job footprint
  (``<run_id>.job.json``) are *folded*: the job already counts them;
* rank files whose job footprint is missing (the job died before rank 0's
  gather) are *merged* here into one job footprint with
  :func:`wattprint.footprint.merge.merge_footprints`, exactly as the
  distributed integration would have written it.

``ranks=True`` turns both off and lists every rank as its own run. Figures
keep the footprint's base units (J, kg, L, s); nothing is converted here.

Failure modes: a path that does not exist, or a file named explicitly that
is not a wattprint footprint (missing, unreadable, not JSON, wrong schema),
raises :class:`~wattprint.errors.ReportError`; in a folder such files are
skipped and listed in ``LoadResult.skipped``. Rank files that cannot be
merged (the merge raises ``ValueError``, ``KeyError`` or ``TypeError``, e.g.
a component without an id) stay separate runs, and the reason is recorded in
``LoadResult.unmerged``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from wattprint.errors import ReportError
from wattprint.footprint.merge import merge_footprints
from wattprint.footprint.model import SCHEMA_ID, Footprint

__all__ = ["LoadResult", "load_footprint", "load_footprints", "find_footprints", "as_footprint", "document_of"]


@dataclass
class LoadResult:
    """Footprints found under some paths.

    Attributes:
        footprints: the runs, in path order (files in a folder sorted by start time).
        paths: the file each footprint came from (same order); for a job merged
            here, the first of its rank files.
        skipped: ``(path, reason)`` for the files in folders that were not footprints.
        folded: ``(path, job run id)`` for per-rank footprints found in a folder next
            to their distributed job footprint, which already counts them.
        merged: ``(job run id, rank files)`` for jobs whose job footprint was
            missing, merged here from their rank footprints.
        unmerged: ``(job run id, reason)`` for rank footprints that could not be
            merged; they are listed as runs of their own.
    """

    footprints: List[Footprint] = field(default_factory=list)
    paths: List[str] = field(default_factory=list)
    skipped: List[Tuple[str, str]] = field(default_factory=list)
    folded: List[Tuple[str, str]] = field(default_factory=list)
    merged: List[Tuple[str, List[str]]] = field(default_factory=list)
    unmerged: List[Tuple[str, str]] = field(default_factory=list)


def as_footprint(fp: Any) -> Footprint:
    """``fp`` as a :class:`Footprint`: a document mapping is wrapped, its ``timeline`` key becoming the timeline."""
    if isinstance(fp, Footprint):
        return fp
    doc = dict(fp)
    timeline = doc.pop("timeline", None)
    return Footprint(doc, timeline if isinstance(timeline, Mapping) else {})


def document_of(fp: Any) -> Dict[str, Any]:
    """The footprint document of a :class:`Footprint` (a copy) or of a mapping (a shallow copy)."""
    return fp.to_dict() if isinstance(fp, Footprint) else dict(fp)


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


def _distributed(fp: Footprint) -> Mapping[str, Any]:
    sec = fp.get("distributed")
    return sec if isinstance(sec, dict) else {}


def _is_job(fp: Footprint) -> bool:
    """A distributed job footprint (it lists its ranks)."""
    return isinstance(_distributed(fp).get("ranks"), list)


def _job_of_rank(fp: Footprint) -> Optional[str]:
    """The job run id a per-rank footprint belongs to (``None`` for a job or a single-process run)."""
    sec = _distributed(fp)
    if _is_job(fp):
        return None
    job = sec.get("job_run_id")
    return str(job) if job and str(job) != fp.run_id else None


def _merge_orphans(job_id: str, members: List[Tuple[str, Footprint]], result: LoadResult) -> List[Tuple[str, Footprint]]:
    """One job footprint from the rank footprints of a job whose ``.job.json`` is missing."""
    try:
        job = merge_footprints([fp.to_dict() for _, fp in members], run_id=job_id)
    except (ValueError, KeyError, TypeError) as err:
        result.unmerged.append((job_id, f"cannot merge its {len(members)} rank footprint(s): {err}"))
        return members
    doc = job.to_dict()
    world = (doc.get("distributed") or {}).get("world_size")
    missing = f"; {world - len(members)} of {world} ranks missing" if isinstance(world, int) and world > len(members) else ""
    doc["notes"] = list(doc.get("notes") or []) + [
        f"merged by wattprint report from {len(members)} rank footprint(s); the job footprint was not written{missing}"
    ]
    result.merged.append((job_id, [f for f, _ in members]))
    return [(members[0][0], Footprint(doc, {}))]


def _account_ranks(batch: List[Tuple[str, Footprint]], result: LoadResult) -> List[Tuple[str, Footprint]]:
    """Fold ranks into their job footprint when it is there; merge them into one when it is not."""
    jobs = {fp.run_id for _, fp in batch if _is_job(fp)}
    orphans: Dict[str, List[Tuple[str, Footprint]]] = {}
    kept: List[Tuple[str, Footprint]] = []
    for f, fp in batch:
        job = _job_of_rank(fp)
        if job is None:
            kept.append((f, fp))
        elif job in jobs:
            result.folded.append((f, job))
        else:
            orphans.setdefault(job, []).append((f, fp))
    for job, members in orphans.items():
        kept.extend(_merge_orphans(job, members, result))
    kept.sort(key=lambda pf: str(pf[1].get("started_at") or ""))
    return kept


def load_footprints(paths: Sequence[str], *, recursive: bool = False, ranks: bool = False) -> LoadResult:
    """Load the footprints named by ``paths`` (files or output folders).

    A file named explicitly must be a footprint; in a folder, other JSON
    files are skipped. The same file given twice is read once. Runs from a
    folder are ordered by ``started_at``. In a folder, the per-rank
    footprints of a distributed job are folded into its job footprint
    (``<run_id>.job.json``, listed in ``LoadResult.folded``) or, when that
    is missing, merged into one here (``LoadResult.merged``), unless
    ``ranks`` is true, so a comparison never counts a job twice.

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
            batch = _account_ranks(batch, result)
        for f, fp in batch:
            result.paths.append(f)
            result.footprints.append(fp)
    return result
