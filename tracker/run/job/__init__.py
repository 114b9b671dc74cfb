"""Jobs of several ranks, for the plain :class:`~wattprint.Tracker` (what the Tracker delegates to).

:func:`attach` gives a Tracker its :class:`JobRun` when the environment says the process is part of
a job (see :mod:`wattprint.run.job.context`), else ``None`` (a single process behaves as it always
did: ``<run_id>.json``, no ``job`` section). A :class:`JobRun`:

* names the rank's files ``<job>-rank<k>.json`` (a ``run_id`` the caller gives is the job id);
* turns CPU, DRAM and RAM off on every rank but local rank 0 (``WATTPRINT_NODE_LEVEL`` / ``node_level`` overrides);
* adds the ``job`` section (and the ``distributed`` section older readers use) to the rank's footprint;
* at stop, assembles the job footprint through the rank summaries (:mod:`wattprint.run.job.assembly`,
  imported on first use: a process outside a multi-rank job never loads it).

Failure modes: a ``run_id`` too long for ``-rank<k>.json`` raises ``ConfigError`` (``run_id``) at
construction; after that nothing raises (see the assembly module).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Dict, Mapping, Optional

from wattprint.footprint.model import Footprint
from wattprint.run.job.context import SCHEDULERS, JobContext, job_context, kubernetes_ids
from wattprint.settings import TrackerSettings, check_file_name, new_run_id

__all__ = ["JobRun", "JobContext", "job_context", "kubernetes_ids", "attach", "SCHEDULERS"]

logger = logging.getLogger("wattprint")


class JobRun:
    """One rank's part in a job (``Tracker.job``): its names, its role, its sections, and the assembly at stop.

    Attributes:
        context: the :class:`JobContext`, or ``None`` for a process outside any job.
        settings: the run's settings as this rank uses them (``run_id``, ``cpu``, ``ram`` adjusted).
        footprint, path: the job footprint and its file, on the one rank that assembled it.
    """

    def __init__(self, context: Optional[JobContext], settings: TrackerSettings) -> None:
        self.context = context
        self.footprint: Optional[Footprint] = None
        self.path: Optional[str] = None
        self.settings = self._adjust(settings) if context is not None else settings

    def _adjust(self, s: TrackerSettings) -> TrackerSettings:
        ctx = self.context
        assert ctx is not None
        changes: Dict[str, Any] = {}
        if not ctx.job_id:  # nothing shared to name the job after: the run's own id (given or new)
            changes["run_id"] = s.run_id or new_run_id()
            ctx = self.context = ctx.replace(job_id=changes["run_id"])
        if ctx.distributed:
            if s.run_id is not None:  # the caller's run id (same on every rank) names the job
                ctx = self.context = ctx.replace(job_id=s.run_id)
            setting = "run_id" if s.run_id is not None else "WATTPRINT_JOB_ID"
            changes["run_id"] = check_file_name(setting, ctx.rank_run_id(), suffix=".json")
        if not ctx.measures_node:
            changes.update(cpu=False, ram=False)
        s = dataclasses.replace(s, **changes) if changes else s
        if ctx.distributed and ctx.assemble and s.save:
            from wattprint.run.job.assembly import remove_stale  # on first use: a plain run never loads the assembly

            remove_stale(s.output_dir, ctx.job_id, ctx.rank)
        return s

    def sections(self) -> Dict[str, Any]:
        """``job`` (in a job) and ``distributed`` (several ranks: the section the job merge and the report read)."""
        ctx = self.context
        if ctx is None:
            return {}
        out: Dict[str, Any] = {"job": ctx.section()}
        if ctx.distributed:
            out["distributed"] = {"rank": ctx.rank, "local_rank": ctx.local_rank, "world_size": ctx.world_size,
                                  "local_world_size": ctx.local_world_size, "node": ctx.node, "node_rank": ctx.node_rank,
                                  "job_run_id": ctx.job_id, "measures_node": ctx.measures_node}  # fmt: skip
        return out

    def finish(self, fp: Optional[Footprint], factors: Any = None, interrupted: Optional[str] = None) -> Optional[Footprint]:
        """After the rank's final files: the job footprint if this rank assembled it, else ``None``. Never raises."""
        ctx, s = self.context, self.settings
        if fp is None or ctx is None or not (ctx.distributed and ctx.assemble):
            return None
        if not s.save:
            logger.info("wattprint: save=False, so rank %d publishes no summary and no job footprint is assembled", ctx.rank)
            return None
        from wattprint.run.job.assembly import assemble_when_last  # on first use, as above

        try:
            self.footprint = assemble_when_last(fp, job_id=ctx.job_id, rank=ctx.rank, world_size=ctx.world_size,
                                                output_dir=s.output_dir, wait_s=ctx.wait_s, factors=factors,
                                                interrupted=interrupted is not None)  # fmt: skip
        except Exception:
            logger.exception("wattprint: job %s's assembly failed on rank %d; the rank files stay on disk", ctx.job_id, ctx.rank)
            return None
        if self.footprint is not None:
            self.path = os.path.join(s.output_dir, f"{ctx.job_id}.job.json")
        return self.footprint


def attach(settings: TrackerSettings, env: Mapping[str, str], job: Any = None) -> JobRun:
    """The Tracker's :class:`JobRun`: ``job`` a :class:`JobContext` (used as given), ``False`` (none), else from ``env``.

    Raises:
        ConfigError: a malformed ``WATTPRINT_NODE_LEVEL``/``WATTPRINT_JOB_WAIT_S``, or a ``run_id`` too long for ``-rank<k>.json``.
    """
    if job is False or not settings.job:
        return JobRun(None, settings)
    ctx = job if isinstance(job, JobContext) else job_context(env)
    if not ctx.has_context:
        return JobRun(None, settings)
    if not isinstance(job, JobContext) and ctx.distributed and settings.run_id is None:
        ctx = ctx.sequenced()  # this process's n-th job: <id>-<n>
    return JobRun(ctx, settings)
