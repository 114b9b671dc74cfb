"""Distributed runs (``torch.distributed``, torchrun, SLURM, MPI, several nodes).

A plain :class:`wattprint.Tracker` is already rank-aware from the environment
(:mod:`wattprint.run.job`): each rank writes ``<job>-rank<k>.json``, only local
rank 0 measures CPU, DRAM and RAM, and the last rank to stop assembles the
**job footprint** ``<output_dir>/<job>.job.json`` from the ranks' summaries in
the shared ``output_dir``. :class:`DistributedTracker` is a convenience over
that core:

* a rank measures only **its own GPUs**: when several ranks share a node and
  ``CUDA_VISIBLE_DEVICES`` lists all of them (or is unset), rank ``local_rank``
  is restricted to its share of the visible devices;
* the rank can be given by argument (what a trainer knows);
* with a ``torch.distributed`` process group, the job footprint is gathered
  over it instead of through files (each rank sends its footprint *without*
  its timeline; rank 0 merges and writes it), so it works without a shared
  folder; ``job_exporters`` receive it.

The job footprint has a ``job`` section (job id, world size, missing ranks,
scheduler context) and a ``distributed`` section (per rank its ``rank``,
``local_rank``, ``node`` and components). A component reported by two ranks
(the same node-level counter, the same GPU UUID) is counted once.

Without a process group, or with a world size of 1, everything works as on
one process: the rank's own footprint is the run's footprint.

    from wattprint.integrations.distributed import DistributedTracker
    dt = DistributedTracker(project="ddp").start()    # after init_process_group
    ...; dt.step()
    job = dt.stop()            # collective: call on every rank; the job footprint on rank 0

Per-rank files are written as ``<job>-rank<k>.json`` (and one ``runs.csv``
row per rank); the job footprint is not appended to ``runs.csv`` so summing
that file never counts a job twice. :func:`merge_footprints` also merges
per-rank JSON files after the fact (``wattprint report`` does it for you).

:func:`check_settings` checks a DistributedTracker's arguments without
building one (the callbacks' early check). Rank roles live in ``_ranks``,
the collectives in ``_collectives``; both are re-exported here.

Failure modes: a failed gather (a rank died, no process group) is logged and
the rank footprints stay on disk; nothing raises into training.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
from types import TracebackType
from typing import Any, Dict, Mapping, Optional, Sequence, Type

from wattprint import Footprint, Tracker, new_run_id
from wattprint.footprint.factors import resolve_factors
from wattprint.footprint.merge import merge_footprints, write_job_footprint
from wattprint.integrations._collectives import _broadcast_from_rank0, _cuda_device_count, _dist, _json_bytes, all_reduce_sum, gather_footprints
from wattprint.integrations._ranks import RankInfo, job_context_for, rank_gpu_selectors, rank_info
from wattprint.integrations._session import is_failure
from wattprint.settings import TrackerSettings

__all__ = [
    "RankInfo",
    "rank_info",
    "rank_gpu_selectors",
    "DistributedTracker",
    "check_settings",
    "merge_footprints",
    "gather_footprints",
    "write_job_footprint",
    "all_reduce_sum",
]

logger = logging.getLogger("wattprint")

class DistributedTracker:
    """A :class:`wattprint.Tracker` per rank, and one job footprint: a thin convenience over the core's jobs.

    A plain :class:`~wattprint.Tracker` is already rank-aware (:func:`wattprint.job_context`);
    this adds the rank overrides (what a trainer knows), each rank's share of
    ``CUDA_VISIBLE_DEVICES``, the job footprint gathered over ``torch.distributed``
    when a process group exists (each rank sends its footprint without its
    timeline; rank 0 merges), and ``job_exporters``.

    Args:
        project, run_id, output_dir: as for :class:`~wattprint.Tracker`. The
            job's id is ``run_id`` (or ``WATTPRINT_RUN_ID``), else the job id
            the environment gives (rank 0's, broadcast at :meth:`start` when a
            process group exists); each rank's own run is ``<job>-rank<k>``.
        devices: CUDA device indices (within ``CUDA_VISIBLE_DEVICES``) this rank uses.
        node_level: measure CPU/DRAM/RAM here; default: only on local rank 0.
        gather: build the job footprint at :meth:`stop` (default ``True``): over
            the process group when there is one; without one, from the rank files
            as a plain Tracker does, unless the rank was given by argument.
        job_exporters: exporters given the job footprint on the rank that builds it.
        rank, local_rank, world_size, local_world_size, node: override :func:`rank_info`.
        tracker: a ready, not yet started tracker to use instead of building one
            (its sensors, settings and job are the caller's choice).
        **tracker_kwargs: any other :class:`~wattprint.Tracker` argument
            (``sensors=[...]`` replaces discovery; ``gpu``/``cpu``/``ram`` are
            combined with the rank's role).

    Attributes:
        info: this rank's :class:`RankInfo`.
        tracker: this rank's tracker.
        job_footprint: the job footprint after :meth:`stop`, on the rank that built it.
    """

    def __init__(
        self,
        project: Optional[str] = None,
        *,
        run_id: Optional[str] = None,
        output_dir: Optional[str] = None,
        devices: Optional[Sequence[int]] = None,
        node_level: Optional[bool] = None,
        gather: bool = True,
        job_exporters: Sequence[Any] = (),
        rank: Optional[int] = None,
        local_rank: Optional[int] = None,
        world_size: Optional[int] = None,
        local_world_size: Optional[int] = None,
        node: Optional[str] = None,
        tracker: Optional[Tracker] = None,
        **tracker_kwargs: Any,
    ) -> None:
        env = tracker_kwargs.pop("env", None)
        self._env: Mapping[str, str] = os.environ if env is None else env
        overridden = any(v is not None for v in (rank, local_rank, world_size, local_world_size))
        self._ctx = job_context_for(self._env, rank=rank, local_rank=local_rank, world_size=world_size,
                                    local_world_size=local_world_size, node=node, node_level=node_level)  # fmt: skip
        self.info = RankInfo.of(self._ctx)
        if run_id is None and self.info.distributed:
            run_id = self._env.get("WATTPRINT_RUN_ID") or None
        if run_id is not None:
            self._ctx = self._ctx.replace(job_id=run_id)
        elif self.info.distributed:  # the launcher's job id; ranks given by argument only: rank 0's new id, broadcast at start
            self._ctx = self._ctx.sequenced() if self._ctx.job_id else self._ctx.replace(job_id=new_run_id())
        # the core assembles from rank files only without a process group and with the rank from the environment
        self._files_assemble = gather and not overridden and _dist() is None
        self._project = project
        self._output_dir = output_dir
        self._devices = list(devices) if devices is not None else None
        self._node_level = self._ctx.measures_node
        self._gather = gather
        self._job_exporters = list(job_exporters)
        self._tracker_kwargs = dict(tracker_kwargs)
        self._given_tracker = tracker
        self._given_run_id = run_id
        self._annotations: Dict[str, Any] = {}
        self.tracker: Optional[Tracker] = tracker
        self.job_run_id: Optional[str] = run_id
        self.job_footprint: Optional[Footprint] = None
        self.job_path: Optional[str] = None
        if tracker is None:
            self._build_tracker()  # checks the settings now (ConfigError in __init__)

    # -- construction ---------------------------------------------------------
    def _build_tracker(self) -> Tracker:
        kw = dict(self._tracker_kwargs)
        env: Dict[str, str] = dict(self._env)
        if "sensors" not in kw and kw.get("gpu", True) and self.info.distributed:
            selectors = rank_gpu_selectors(self.info, env, devices=self._devices, device_count=_cuda_device_count())
            if selectors is not None:
                env["CUDA_VISIBLE_DEVICES"] = ",".join(selectors)
        ctx = self._ctx.replace(assemble=self._files_assemble)
        run_id = ctx.job_id if self.info.distributed else self._given_run_id
        self.tracker = Tracker(self._project, run_id=run_id, output_dir=self._output_dir, env=env, job=ctx, **kw)
        for key, value in self._annotations.items():
            self.tracker.annotate(key, value)
        return self.tracker

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> "DistributedTracker":
        """Agree on the job's id (collective when a process group exists), then start. Idempotent."""
        assert self.tracker is not None
        if self.tracker.running or self.tracker.footprint is not None:
            return self
        if self.info.distributed and self._given_tracker is None:
            rebuild = False
            if _dist() is not None and self._files_assemble:  # a process group appeared since __init__: gather instead
                self._files_assemble, rebuild = False, True
            if self._given_run_id is None:
                job_id = _broadcast_from_rank0(self._ctx.job_id if self.info.rank == 0 else None) or self._ctx.job_id
                if job_id != self._ctx.job_id:
                    self._ctx, rebuild = self._ctx.replace(job_id=job_id), True
            if rebuild:
                self._build_tracker()
            self.job_run_id = self._ctx.job_id
        else:
            self.job_run_id = self.job_run_id or self.tracker.run_id
        assert self.tracker is not None
        self.tracker.annotate("distributed", self._rank_section())
        self.tracker.start()
        return self

    def _rank_section(self) -> Dict[str, Any]:
        sec = self.info.to_dict()
        sec["job_run_id"] = self.job_run_id
        sec["measures_node"] = self._node_level
        return sec

    def stop(self, status: Optional[str] = None, *, gather: Optional[bool] = None) -> Optional[Footprint]:
        """Stop this rank's tracker and build the job footprint (a collective with a process group).

        Args:
            status: as for :meth:`wattprint.Tracker.stop`.
            gather: override the constructor's ``gather``. Every rank must
                take the same choice: the gather is a collective. Never
                gather after a failure on one rank (pass ``gather=False``).

        Returns:
            The job footprint on the rank that built it (rank 0 of a gather;
            the last rank to stop without a process group); elsewhere this
            rank's own footprint.
        """
        assert self.tracker is not None
        was_running = self.tracker.running
        fp = self.tracker.stop(status)
        own_job = getattr(self.tracker, "job", None)
        if own_job is not None and own_job.footprint is not None:  # the core built it from the rank files
            return self._publish(own_job.footprint, own_job.path)
        do_gather = self._gather if gather is None else gather
        core_assembles = own_job is not None and own_job.context is not None and own_job.context.assemble
        if core_assembles or not (self.info.distributed and do_gather and was_running and fp is not None):
            return fp
        docs = gather_footprints(fp.to_dict())  # the footprint without its timeline: a summary
        if docs is None:
            if self.info.rank == 0:
                logger.warning(
                    "wattprint: no torch.distributed process group at stop(); each rank's footprint is on disk "
                    "(<run_id>-rank<k>.json); `wattprint report` merges them"
                )
            return fp
        if self.info.rank != 0:
            return fp
        try:
            job = merge_footprints(docs, factors=self.tracker.factors, run_id=self.job_run_id, project=self.tracker.project,
                                   world_size=self.info.world_size, received_bytes=_json_bytes(docs))  # fmt: skip
        except Exception:
            logger.exception("wattprint: could not merge the ranks' footprints; each rank's footprint is on disk")
            return fp
        path = write_job_footprint(job, self.tracker.output_dir) if self.tracker.save and self.tracker.output_dir else None
        return self._publish(job, path)

    def _publish(self, job: Footprint, path: Optional[str]) -> Footprint:
        self.job_footprint, self.job_path = job, path
        for exp in self._job_exporters:
            try:
                exp.export(job)
            except Exception:
                logger.exception("wattprint: job exporter %s failed; the job footprint is still written", type(exp).__name__)
        return job

    def __enter__(self) -> "DistributedTracker":
        return self.start()

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        # after an exception other ranks may never reach the gather: do not wait for them
        self.stop("failed" if is_failure(exc_type) else None, gather=False if exc_type is not None else None)

    # -- delegation ---------------------------------------------------------------
    def step(self, n: int = 1, *, samples: Optional[int] = None, tokens: Optional[int] = None, flops: Optional[float] = None) -> None:
        """Count work on this rank (see :meth:`wattprint.Tracker.step`)."""
        assert self.tracker is not None
        self.tracker.step(n, samples=samples, tokens=tokens, flops=flops)

    def window(self, name: str) -> "contextlib.AbstractContextManager[Dict[str, Any]]":
        """A named window on this rank (see :meth:`wattprint.Tracker.window`)."""
        assert self.tracker is not None
        return self.tracker.window(name)

    def annotate(self, key: str, value: Any) -> None:
        """Add a top-level section to this rank's footprint (kept if :meth:`start` rebuilds the tracker)."""
        assert self.tracker is not None
        self._annotations[key] = value
        self.tracker.annotate(key, value)

    def sample_now(self) -> None:
        """Read this rank's sensors now (see :meth:`wattprint.Tracker.sample_now`). Never raises."""
        if self.tracker is not None:
            self.tracker.sample_now()

    def snapshot(self) -> Optional[Footprint]:
        """This rank's footprint so far (its final one after :meth:`stop`); no sensor read, no collective."""
        return self.tracker.snapshot() if self.tracker is not None else None

    def set_total_steps(self, total_steps: Any) -> bool:
        """The run's planned steps (see :meth:`wattprint.Tracker.set_total_steps`)."""
        return self.tracker.set_total_steps(total_steps) if self.tracker is not None else False

    @property
    def total_steps(self) -> Optional[int]:
        """The run's planned steps, ``None`` when unknown."""
        return self.tracker.total_steps if self.tracker is not None else None

    @property
    def steps(self) -> int:
        """Steps counted on this rank."""
        return self.tracker.steps if self.tracker is not None else 0

    @property
    def running(self) -> bool:
        return self.tracker is not None and self.tracker.running

    @property
    def energy_j(self) -> float:
        """This rank's IT energy so far, joules."""
        return self.tracker.energy_j if self.tracker is not None else 0.0

    @property
    def json_path(self) -> Optional[str]:
        """The job footprint's file on rank 0 after a gather, else this rank's ``<run_id>.json``."""
        if self.job_path is not None:
            return self.job_path
        return self.tracker.json_path if self.tracker is not None else None

    @property
    def footprint(self) -> Optional[Footprint]:
        """The job footprint on rank 0 after a gather, else this rank's footprint."""
        if self.job_footprint is not None:
            return self.job_footprint
        return self.tracker.footprint if self.tracker is not None else None


def check_settings(**tracker_kwargs: Any) -> None:
    """Check :class:`DistributedTracker` keyword arguments (the Tracker's and its own) without building a tracker.

    Raises:
        wattprint.ConfigError: a setting out of range (factors included), naming it.
        TypeError: an unknown keyword argument.
    """
    own = set(inspect.signature(DistributedTracker.__init__).parameters) - {"self", "project", "run_id", "output_dir", "tracker_kwargs"}
    kw = {k: v for k, v in tracker_kwargs.items() if k not in own}
    env = kw.pop("env", None)
    settings = TrackerSettings.resolve(env=env, **kw)
    resolve_factors(env=os.environ if env is None else env, **settings.factor_args)
