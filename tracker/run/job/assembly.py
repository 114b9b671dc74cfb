"""The job footprint from rank summaries in a shared ``output_dir``: the last rank to stop assembles it, once.

Files, all inside ``output_dir``:

* ``<job>-rank<k>.json``: each rank's own footprint with its timeline (written by the run's files as usual);
* ``.wattprint-jobs/<job>/rank<k>.summary``: the same footprint **without** its timeline (a few kB),
  written atomically after the rank file; its presence says "rank k has stopped";
* ``.wattprint-jobs/<job>/claim``: created with ``O_EXCL`` by the one rank that assembles;
* ``<job>.job.json``: the job footprint (atomic), after which the ``.wattprint-jobs/<job>`` folder is removed.

After writing its summary a rank looks at the folder: if every rank's summary is there it claims the
job and assembles it. Rank 0 waits for the others up to ``wait_s`` seconds (real time, polled), and
stops waiting as soon as another rank has claimed the job; after the wait it assembles what is there; the job footprint lists the missing ranks (status ``partial``). Other ranks
never wait. A stop caused by a signal waits at most :data:`SIGNAL_GRACE_S`. Only summaries travel to
the assembler (the timelines stay in the rank files), and the merge is linear in ranks.

Failure modes: nothing raises into the caller. An unwritable folder, an unreadable or corrupt summary
(skipped, the rank counts as missing), or a failed merge is logged; the rank files stay on disk and
``wattprint report`` merges them later. A rank that stops after its job was assembled without it
logs a warning and writes no summary.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import time
from typing import Any, Dict, List, Mapping, Optional, Tuple

from wattprint._io import atomic_write_text
from wattprint.footprint.merge import merge_footprints, write_job_footprint
from wattprint.footprint.model import Footprint
from wattprint.units import parse_utc

__all__ = ["JOBS_FOLDER", "SIGNAL_GRACE_S", "job_folder", "write_summary", "present_ranks", "claim", "assemble_when_last", "read_summaries"]

logger = logging.getLogger("wattprint")

JOBS_FOLDER = ".wattprint-jobs"
SIGNAL_GRACE_S = 2.0  # a stop caused by SIGTERM/SIGINT waits at most this long for the other ranks
_POLL_S = (0.02, 0.5)  # first and longest poll interval while rank 0 waits


def job_folder(output_dir: str, job_id: str) -> str:
    return os.path.join(output_dir, JOBS_FOLDER, job_id)


def _summary_name(rank: int) -> str:
    return f"rank{int(rank)}.summary"


def write_summary(folder: str, rank: int, document: Mapping[str, Any]) -> int:
    """Write one rank's summary (its footprint document, no timeline) atomically; returns its size in bytes."""
    text = json.dumps(document, separators=(",", ":"), default=str)
    atomic_write_text(os.path.join(folder, _summary_name(rank)), text)
    return len(text.encode("utf-8"))


def remove_stale(output_dir: str, job_id: str, rank: int) -> None:
    """Before a run: this rank's summary (and, on rank 0, a claim) left by an earlier job of the same id."""
    folder = job_folder(output_dir, job_id)
    names = [_summary_name(rank)] + (["claim"] if rank == 0 else [])
    for name in names:
        try:
            os.unlink(os.path.join(folder, name))
        except OSError:
            pass


def present_ranks(folder: str) -> List[int]:
    """The ranks whose summary is in ``folder``, sorted."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    ranks = []
    for n in names:
        if n.startswith("rank") and n.endswith(".summary"):
            try:
                ranks.append(int(n[4:-8]))
            except ValueError:
                continue
    return sorted(ranks)


def claim(folder: str) -> bool:
    """``True`` for exactly one caller per job folder (``O_CREAT | O_EXCL``)."""
    try:
        fd = os.open(os.path.join(folder, "claim"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except OSError as err:
        if err.errno != errno.EEXIST:
            logger.error("wattprint: cannot claim the job footprint in %s (%s)", folder, err)
        return False
    try:
        os.write(fd, str(os.getpid()).encode())
    finally:
        os.close(fd)
    return True


def read_summaries(folder: str, ranks: List[int]) -> Tuple[List[Dict[str, Any]], int, List[int]]:
    """``(documents, bytes read, unreadable ranks)``; a corrupt summary is skipped (its rank counts as missing)."""
    docs: List[Dict[str, Any]] = []
    bad: List[int] = []
    total = 0
    for r in ranks:
        try:
            with open(os.path.join(folder, _summary_name(r)), "rb") as fh:
                raw = fh.read()
            total += len(raw)
            doc = json.loads(raw)
            if not isinstance(doc, dict):
                raise ValueError("not an object")
            docs.append(doc)
        except (OSError, ValueError) as err:
            logger.error("wattprint: rank %d's summary in %s is unreadable (%s); counted as missing", r, folder, err)
            bad.append(r)
    return docs, total, bad


def _assembled_without(output_dir: str, job_id: str, rank: int, started_at: Optional[str]) -> bool:
    """Whether this job's footprint was already written, listing this rank as missing (a late rank)."""
    path = os.path.join(output_dir, f"{job_id}.job.json")
    if not os.path.exists(path):
        return False
    try:
        with open(path, encoding="utf-8") as fh:
            job = json.load(fh)
        missing = (job.get("job") or {}).get("missing_ranks") or []
        ended, mine = parse_utc(job.get("ended_at")), parse_utc(started_at)
        return rank in missing and (ended is None or mine is None or ended >= mine)
    except (OSError, ValueError, AttributeError):
        return False


def _claimed_elsewhere(folder: str) -> bool:
    """Whether another rank has claimed the job: its claim is there, or it assembled and removed the folder."""
    return not os.path.isdir(folder) or os.path.exists(os.path.join(folder, "claim"))


def assemble_when_last(
    fp: Footprint,
    *,
    job_id: str,
    rank: int,
    world_size: int,
    output_dir: str,
    wait_s: float,
    factors: Any = None,
    interrupted: bool = False,
) -> Optional[Footprint]:
    """Publish this rank's summary; if this rank is the last (or rank 0 after ``wait_s``), build the job footprint.

    Returns:
        The job footprint on the one rank that assembled it (also written to
        ``<output_dir>/<job>.job.json``), else ``None``.
    """
    folder = job_folder(output_dir, job_id)
    if _assembled_without(output_dir, job_id, rank, fp.get("started_at")):
        logger.warning("wattprint: job %s was assembled before rank %d stopped; its own footprint is %s-rank%d.json",
                       job_id, rank, job_id, rank)  # fmt: skip
        return None
    try:
        write_summary(folder, rank, fp.to_dict())
    except OSError as err:
        logger.error("wattprint: cannot publish rank %d's summary in %s (%s); no job footprint from this rank", rank, folder, err)
        return None
    expected = set(range(world_size))
    wait = (min(wait_s, SIGNAL_GRACE_S) if interrupted else wait_s) if rank == 0 else 0.0
    deadline = time.monotonic() + max(0.0, wait)
    poll = _POLL_S[0]
    while True:
        present = set(present_ranks(folder))
        if expected <= present or (rank == 0 and time.monotonic() >= deadline):
            break
        if rank != 0:
            return None  # not the last: the last rank (or rank 0, after its wait) assembles
        if _claimed_elsewhere(folder):
            return None  # a rank that saw every summary assembles (and may have removed the folder already)
        time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
        poll = min(poll * 2, _POLL_S[1])
    if not claim(folder):
        return None
    return _assemble(folder, sorted(present & expected), job_id, world_size, output_dir, factors, fp.get("project"))


def _assemble(folder: str, ranks: List[int], job_id: str, world_size: int, output_dir: str, factors: Any, project: Any) -> Optional[Footprint]:
    docs, received, bad = read_summaries(folder, ranks)
    if not docs:
        logger.error("wattprint: no readable rank summary for job %s; the rank files stay on disk", job_id)
        return None
    try:
        job = merge_footprints(docs, factors=factors, run_id=job_id, project=project, world_size=world_size, received_bytes=received)
    except Exception:
        logger.exception("wattprint: could not merge job %s's rank summaries; the rank files stay on disk", job_id)
        return None
    if write_job_footprint(job, output_dir) is None:
        return job
    shutil.rmtree(folder, ignore_errors=True)
    try:
        os.rmdir(os.path.dirname(folder))  # .wattprint-jobs, when no other job is assembling
    except OSError:
        pass
    if bad:
        logger.warning("wattprint: job %s assembled without the unreadable summaries of rank(s) %s", job_id, bad)
    return job
