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

Memory is flat in the number of runs: each file is parsed once and the parsed
timeline is not kept (it is most of a file); a footprint read from a folder
holds a :class:`FileTimeline` that reads it again from the file only when asked
(plots, HTML). A checkpoint of a killed run has no timeline in its document:
the timeline journal beside it (``<run_id>.timeline.jsonl``, written by
:mod:`wattprint.run.outputs`) is read back instead, a torn last line ignored.

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
from wattprint.report.inputs import read_regular, shape_problem
from wattprint.footprint.merge import merge_footprints
from wattprint.footprint.model import SCHEMA_ID, Footprint
from wattprint.report.summary import SummaryFootprint

__all__ = ["LoadResult", "load_footprint", "load_footprints", "find_footprints", "as_footprint", "document_of", "FileTimeline",
           "journal_timeline"]

JOURNAL_SUFFIX = ".timeline.jsonl"  # as wattprint.run.outputs writes it (report does not import the run layer)
JOURNAL_ID = "wattprint.timeline/1"
_MAX_JOURNAL_POINTS = 4096


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


def journal_timeline(path: str) -> Dict[str, Any]:
    """The timeline dict from a checkpoint journal (``{}`` when missing or unreadable).

    Points are cumulative, so thinning them (to at most 4096, evenly) loses only resolution."""
    try:
        if not os.path.isfile(path):  # a FIFO named like a journal is never opened
            return {}
        with open(path, encoding="utf-8") as fh:
            header = json.loads(fh.readline())
            if not isinstance(header, dict) or header.get("journal") != JOURNAL_ID:
                return {}
            ids = [str(c) for c in header.get("components") or []]
            rows: List[Tuple[float, int, List[float]]] = []
            for line in fh:
                try:
                    t, steps, e = json.loads(line)
                    e = [float(x) for x in e]
                    if len(e) == len(ids) and (not rows or float(t) >= rows[-1][0]):
                        rows.append((float(t), int(steps), e))
                except (ValueError, TypeError):
                    break  # a torn last line (killed mid-write)
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    stride = max(1, -(-len(rows) // _MAX_JOURNAL_POINTS))
    rows = rows[::stride] + ([rows[-1]] if rows and (len(rows) - 1) % stride else [])
    t_s = [r[0] for r in rows]
    energy = {cid: [r[2][i] for r in rows] for i, cid in enumerate(ids)}
    power: Dict[str, List[Optional[float]]] = {}
    for cid, v in energy.items():
        series: List[Optional[float]] = [None]
        series += [round((v[k] - v[k - 1]) / (t_s[k] - t_s[k - 1]), 6) if t_s[k] > t_s[k - 1] else None for k in range(1, len(v))]
        power[cid] = series
    return {"t_s": t_s, "steps": [r[1] for r in rows], "energy_j": energy, "power_w": power, "downsample_stride": stride,
            "source": "checkpoint journal"}


class FileTimeline(Mapping):
    """A footprint's timeline, read from its file (or journal) again only when first used; then kept."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._dict: Optional[Dict[str, Any]] = None

    def to_dict(self) -> Dict[str, Any]:
        if self._dict is None:
            self._dict = _read_timeline(self.path)
        return self._dict

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Any:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())


def _journal_of(path: str) -> str:
    return path[: -len(".json")] + JOURNAL_SUFFIX if path.endswith(".json") else path + JOURNAL_SUFFIX


def _read_timeline(path: str) -> Dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            timeline = json.load(fh).get("timeline")
    except (OSError, ValueError, AttributeError, UnicodeDecodeError, RecursionError):
        timeline = None
    if isinstance(timeline, dict):
        return timeline
    return journal_timeline(_journal_of(path))


_TIMELINE_KEY = ',\n  "timeline": '  # the last top-level key, as wattprint writes it (indent 2)


def _parse(text: str, *, skip_timeline: bool) -> Any:
    """The JSON document; with ``skip_timeline``, a file written by wattprint is parsed without
    its trailing ``timeline`` (most of the file), any other file whole."""
    if skip_timeline:
        cut = text.rfind(_TIMELINE_KEY)
        if cut > 0:
            try:
                return json.loads(text[:cut] + "\n}")
            except ValueError:
                pass  # not laid out as we write it: parse it whole
    return json.loads(text)


def load_footprint(path: str, *, lazy_timeline: bool = False) -> Footprint:
    """Read one ``<run_id>.json`` written by wattprint (with or without its timeline).

    A document without a timeline takes it from its checkpoint journal, if one is beside it.
    ``lazy_timeline``: keep no parsed timeline; it is read from the file again when first used.

    Raises:
        ReportError: the file is missing, unreadable, not JSON, or not a footprint.
    """
    try:
        doc = _parse(read_regular(path), skip_timeline=lazy_timeline)
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ReportError(f"{path}: cannot read ({err})") from err
    except json.JSONDecodeError as err:
        raise ReportError(f"{path}: not JSON ({err.msg}, line {err.lineno}); a run still being written?") from err
    except RecursionError:
        raise ReportError(f"{path}: nested too deeply to be a footprint") from None
    except ValueError as err:  # e.g. an integer of thousands of digits
        raise ReportError(f"{path}: not a readable footprint ({err})") from None
    if not _is_footprint(doc):
        raise ReportError(f"{path}: not a wattprint footprint (no schema {SCHEMA_ID!r})")
    problem = shape_problem(doc)
    if problem is not None:
        raise ReportError(f"{path}: malformed footprint: {problem}")
    timeline = doc.pop("timeline", None)
    if lazy_timeline:
        return Footprint(doc, FileTimeline(path))
    if not isinstance(timeline, dict):
        timeline = journal_timeline(_journal_of(path)) if os.path.exists(_journal_of(path)) else {}
    return Footprint(doc, timeline)


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


def load_footprints(paths: Sequence[str], *, recursive: bool = False, ranks: bool = False, keep: str = "all") -> LoadResult:
    """Load the footprints named by ``paths`` (files or output folders).

    A file named explicitly must be a footprint; in a folder, other JSON
    files are skipped. The same file given twice is read once. Runs from a
    folder are ordered by ``started_at``. In a folder, the per-rank
    footprints of a distributed job are folded into its job footprint
    (``<run_id>.job.json``, listed in ``LoadResult.folded``) or, when that
    is missing, merged into one here (``LoadResult.merged``), unless
    ``ranks`` is true, so a comparison never counts a job twice.

    ``keep="summary"``: each run read from a folder is reduced, as soon as it is read, to a
    :class:`~wattprint.report.summary.SummaryFootprint` (what the comparison table and the
    csv/md summaries need), so memory stays flat in the number of runs; rank files that may
    still be merged are kept whole until they are. ``keep="all"`` (default) keeps documents
    (their timelines are read again from the file when first used).

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
                fp = load_footprint(f, lazy_timeline=not explicit)
                if keep == "summary" and (ranks or _job_of_rank(fp) is None):
                    fp = SummaryFootprint(fp)
                batch.append((f, fp))
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
