"""Distributed runs (``torch.distributed``, torchrun, SLURM, several nodes).

Every rank runs its own :class:`wattprint.Tracker`, configured for its role:

* a rank measures only **its own GPUs**: when several ranks share a node and
  ``CUDA_VISIBLE_DEVICES`` lists all of them (or is unset), rank ``local_rank``
  is restricted to its share of the visible devices;
* CPU, DRAM and RAM are **node-level**: only local rank 0 measures them;
* at the end, rank 0 gathers every rank's footprint over the existing process
  group and writes one **job footprint**, ``<output_dir>/<run_id>.job.json``,
  with a ``distributed`` section (``world_size``, ``nodes``, and per rank its
  ``rank``, ``local_rank``, ``node`` and components). A component reported by
  two ranks (the same node-level counter, the same GPU UUID) is counted once.

Without a process group, or with a world size of 1, everything works as on
one process: the rank's own footprint is the run's footprint.

    from wattprint.integrations.distributed import DistributedTracker
    dt = DistributedTracker(project="ddp").start()    # after init_process_group
    ...; dt.step()
    job = dt.stop()            # collective: call on every rank; the job footprint on rank 0

Per-rank files are written as ``<run_id>-rank<k>.json`` (and one ``runs.csv``
row per rank); the job footprint is not appended to ``runs.csv`` so summing
that file never counts a job twice. :func:`merge_footprints` also merges
per-rank JSON files after the fact (for example when a job died before the
gather).

Failure modes: a failed gather (a rank died, no process group) is logged and
the rank footprints stay on disk; nothing raises into training.
"""

from __future__ import annotations

import inspect
import logging
import os
import socket
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence

import wattprint
from wattprint import Footprint, Tracker
from wattprint.footprint.merge import merge_footprints, write_job_footprint

__all__ = [
    "RankInfo",
    "rank_info",
    "rank_gpu_selectors",
    "DistributedTracker",
    "merge_footprints",
    "gather_footprints",
    "write_job_footprint",
    "all_reduce_sum",
]

logger = logging.getLogger("wattprint")



@dataclass(frozen=True)
class RankInfo:
    """Where this process sits in the job.

    Attributes:
        rank: global rank (0 .. world_size - 1).
        local_rank: rank within its node.
        world_size: processes in the job.
        local_world_size: processes on this node.
        node: node name (``WATTPRINT_NODE``, else the host name).
        node_rank: node index when the launcher says it (torchrun ``GROUP_RANK``, SLURM ``SLURM_NODEID``).
    """

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1
    node: str = ""
    node_rank: Optional[int] = None

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def measures_node(self) -> bool:
        """Whether this rank measures the node-level components (CPU, DRAM, RAM)."""
        return self.local_rank == 0

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _int_env(env: Mapping[str, str], *names: str) -> Optional[int]:
    for name in names:
        raw = env.get(name)
        if raw not in (None, ""):
            try:
                return int(str(raw).strip())
            except ValueError:
                continue
    return None


def _dist() -> Any:
    """``torch.distributed`` when it is importable and initialised, else ``None``."""
    try:
        import torch.distributed as dist
    except Exception:
        return None
    try:
        if dist.is_available() and dist.is_initialized():
            return dist
    except Exception:
        pass
    return None


def rank_info(
    env: Optional[Mapping[str, str]] = None,
    *,
    rank: Optional[int] = None,
    local_rank: Optional[int] = None,
    world_size: Optional[int] = None,
    local_world_size: Optional[int] = None,
    node: Optional[str] = None,
) -> RankInfo:
    """This process's place in the job.

    Explicit arguments win; then an initialised ``torch.distributed`` process
    group (rank, world size); then the launcher's variables (torchrun:
    ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``,
    ``GROUP_RANK``; SLURM: ``SLURM_PROCID``, ``SLURM_LOCALID``,
    ``SLURM_NTASKS``, ``SLURM_NODEID``); else a single process.
    """
    env = os.environ if env is None else env
    dist = _dist()
    if rank is None:
        rank = dist.get_rank() if dist is not None else _int_env(env, "RANK", "SLURM_PROCID")
    if world_size is None:
        world_size = dist.get_world_size() if dist is not None else _int_env(env, "WORLD_SIZE", "SLURM_NTASKS")
    if local_rank is None:
        local_rank = _int_env(env, "LOCAL_RANK", "SLURM_LOCALID")
    if local_world_size is None:
        local_world_size = _int_env(env, "LOCAL_WORLD_SIZE", "SLURM_NTASKS_PER_NODE")
    rank = rank or 0
    world_size = max(1, world_size or 1)
    # Unknown local rank / ranks per node: assume each rank is alone on its node. Then
    # every rank measures its node and all visible GPUs, and the job merge counts each
    # node-level component (by node) and each GPU (by UUID) once.
    if local_rank is None:
        local_rank = 0
    if local_world_size is None:
        local_world_size = 1
    node_name = node or env.get("WATTPRINT_NODE") or socket.gethostname()
    return RankInfo(
        rank=int(rank),
        local_rank=int(local_rank),
        world_size=int(world_size),
        local_world_size=int(max(1, local_world_size)),
        node=node_name,
        node_rank=_int_env(env, "GROUP_RANK", "SLURM_NODEID"),
    )


def rank_gpu_selectors(
    info: RankInfo,
    env: Optional[Mapping[str, str]] = None,
    *,
    devices: Optional[Sequence[int]] = None,
    device_count: Optional[int] = None,
) -> Optional[List[str]]:
    """The ``CUDA_VISIBLE_DEVICES`` entries this rank should measure, or ``None`` to keep them all.

    Args:
        info: this rank.
        env: environment holding ``CUDA_VISIBLE_DEVICES``.
        devices: the CUDA device indices (within the visible set) this rank
            uses, when the caller knows them; wins over the guess below.
        device_count: how many GPUs there are when ``CUDA_VISIBLE_DEVICES`` is unset.

    With one rank per node nothing changes. With ``n`` ranks on a node and
    ``m >= n`` visible devices, local rank ``r`` gets block ``r`` of ``m // n``
    devices (one each in the usual 1:1 case). With fewer devices than ranks,
    ranks share them and the job merge counts each GPU (by UUID) once.
    """
    env = os.environ if env is None else env
    raw = env.get("CUDA_VISIBLE_DEVICES")
    visible: Optional[List[str]] = None
    if raw is not None:
        visible = [s.strip() for s in raw.split(",") if s.strip()]
    if devices is not None:
        if visible is None:
            return [str(int(d)) for d in devices]
        return [visible[int(d)] for d in devices if 0 <= int(d) < len(visible)]
    if info.local_world_size <= 1:
        return None
    if visible is None:
        if not device_count:  # unknown (or a CPU-only torch build): the usual one GPU per rank
            return [str(info.local_rank)]
        visible = [str(i) for i in range(device_count)]
    if not visible:
        return visible
    if len(visible) == 1:
        return visible  # the launcher already gave each rank its device
    if len(visible) >= info.local_world_size:
        per = len(visible) // info.local_world_size
        return visible[info.local_rank * per : (info.local_rank + 1) * per]
    return [visible[info.local_rank % len(visible)]]


class DistributedTracker:
    """A :class:`wattprint.Tracker` per rank, and one job footprint on rank 0.

    Args:
        project, run_id, output_dir: as for :class:`~wattprint.Tracker`. The
            job's ``run_id`` is rank 0's (broadcast at :meth:`start` when a
            process group exists); each rank's own run is ``<run_id>-rank<k>``.
        devices: CUDA device indices (within ``CUDA_VISIBLE_DEVICES``) this rank uses.
        node_level: measure CPU/DRAM/RAM here; default: only on local rank 0.
        gather: gather the job footprint on rank 0 at :meth:`stop` (default ``True``).
        job_exporters: exporters given the job footprint on rank 0.
        rank, local_rank, world_size, local_world_size, node: override :func:`rank_info`.
        tracker: a ready, not yet started tracker to use instead of building one
            (its sensors and settings are the caller's choice).
        **tracker_kwargs: any other :class:`~wattprint.Tracker` argument
            (``sensors=[...]`` replaces discovery; ``gpu``/``cpu``/``ram`` are
            combined with the rank's role).

    Attributes:
        info: this rank's :class:`RankInfo`.
        tracker: this rank's tracker.
        job_footprint: the job footprint after :meth:`stop` (rank 0 only).
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
        self.info = rank_info(
            self._env, rank=rank, local_rank=local_rank, world_size=world_size, local_world_size=local_world_size, node=node
        )
        self._project = project
        self._output_dir = output_dir
        self._devices = list(devices) if devices is not None else None
        self._node_level = self.info.measures_node if node_level is None else bool(node_level)
        self._gather = gather
        self._job_exporters = list(job_exporters)
        self._tracker_kwargs = dict(tracker_kwargs)
        self._given_tracker = tracker
        self.tracker: Optional[Tracker] = tracker
        if run_id is None and self.info.distributed:
            run_id = self._env.get("WATTPRINT_RUN_ID") or None
        self._given_run_id = run_id
        self._own_run_id = run_id or wattprint.new_run_id()
        self.job_run_id: Optional[str] = run_id
        self.job_footprint: Optional[Footprint] = None
        self.job_path: Optional[str] = None
        if tracker is None:
            # checks the settings now (ConfigError in __init__)
            self._build_tracker(self._own_run_id if self.info.distributed else run_id)

    # -- construction ---------------------------------------------------------
    def _build_tracker(self, job_run_id: Optional[str]) -> Tracker:
        kw = dict(self._tracker_kwargs)
        env: Dict[str, str] = dict(self._env)
        if "sensors" not in kw:
            if not self._node_level:
                kw["cpu"] = False
                kw["ram"] = False
            if kw.get("gpu", True) and self.info.distributed:
                selectors = rank_gpu_selectors(self.info, env, devices=self._devices, device_count=_cuda_device_count())
                if selectors is not None:
                    env["CUDA_VISIBLE_DEVICES"] = ",".join(selectors)
        run_id = job_run_id
        if run_id is not None and self.info.distributed:
            run_id = f"{job_run_id}-rank{self.info.rank}"
        self.tracker = Tracker(self._project, run_id=run_id, output_dir=self._output_dir, env=env, **kw)
        for key, value in getattr(self, "_annotations", {}).items():
            self.tracker.annotate(key, value)
        return self.tracker

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> "DistributedTracker":
        """Agree on the job's run id (collective when a process group exists), then start. Idempotent."""
        assert self.tracker is not None
        if self.tracker.running or self.tracker.footprint is not None:
            return self
        if self.info.distributed and self._given_tracker is None:
            job_id = self._given_run_id
            if job_id is None:
                job_id = _broadcast_from_rank0(self._own_run_id if self.info.rank == 0 else None) or self._own_run_id
            if job_id != self._own_run_id:
                self._own_run_id = job_id
                self._build_tracker(job_id)
            self.job_run_id = job_id
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
        """Stop this rank's tracker and (collectively) build the job footprint.

        Args:
            status: as for :meth:`wattprint.Tracker.stop`.
            gather: override the constructor's ``gather``. Every rank must
                take the same choice: the gather is a collective. Never
                gather after a failure on one rank (pass ``gather=False``).

        Returns:
            On rank 0 of a distributed job, the job footprint; elsewhere (and
            without a process group) this rank's own footprint.
        """
        assert self.tracker is not None
        was_running = self.tracker.running
        fp = self.tracker.stop(status)
        do_gather = self._gather if gather is None else gather
        if not (self.info.distributed and do_gather and was_running and fp is not None):
            return fp
        docs = gather_footprints(fp.to_dict())
        if docs is None:
            if self.info.rank == 0:
                logger.warning(
                    "wattprint: no torch.distributed process group at stop(); each rank's footprint is on disk "
                    "(<run_id>-rank<k>.json); merge them with wattprint.integrations.distributed.merge_footprints"
                )
            return fp
        if self.info.rank != 0:
            return fp
        try:
            job = merge_footprints(docs, factors=self.tracker.factors, run_id=self.job_run_id, project=self.tracker.project)
        except Exception:
            logger.exception("wattprint: could not merge the ranks' footprints; each rank's footprint is on disk")
            return fp
        self.job_footprint = job
        if self.tracker.save:
            self.job_path = write_job_footprint(job, self.tracker.output_dir)
        for exp in self._job_exporters:
            try:
                exp.export(job)
            except Exception:
                logger.exception("wattprint: job exporter %s failed; the job footprint is still written", type(exp).__name__)
        return job

    def __enter__(self) -> "DistributedTracker":
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        failed = exc_type is not None and not issubclass(exc_type, (KeyboardInterrupt, SystemExit))
        # after an exception other ranks may never reach the gather: do not wait for them
        self.stop("failed" if failed else None, gather=False if exc_type is not None else None)

    # -- delegation ---------------------------------------------------------------
    def step(self, n: int = 1, *, samples: Optional[int] = None, tokens: Optional[int] = None, flops: Optional[float] = None) -> None:
        """Count work on this rank (see :meth:`wattprint.Tracker.step`)."""
        assert self.tracker is not None
        self.tracker.step(n, samples=samples, tokens=tokens, flops=flops)

    def window(self, name: str):
        assert self.tracker is not None
        return self.tracker.window(name)

    def annotate(self, key: str, value: Any) -> None:
        """Add a top-level section to this rank's footprint (kept if :meth:`start` rebuilds the tracker)."""
        assert self.tracker is not None
        if not hasattr(self, "_annotations"):
            self._annotations: Dict[str, Any] = {}
        self._annotations[key] = value
        self.tracker.annotate(key, value)

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



# -- collectives ------------------------------------------------------------------


def _cuda_device_count() -> Optional[int]:
    """GPUs torch can see, without initialising CUDA when torch is not imported yet."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        return int(torch.cuda.device_count())
    except Exception:
        return None


def _object_device(dist: Any) -> Any:
    """``None`` for gloo; the current CUDA device for NCCL (object collectives need it)."""
    try:
        if dist.get_backend() == "nccl":
            import torch

            return torch.device("cuda", torch.cuda.current_device())
    except Exception:
        pass
    return None


def _broadcast_from_rank0(value: Optional[str]) -> Optional[str]:
    dist = _dist()
    if dist is None:
        return value
    try:
        box = [value]
        dist.broadcast_object_list(box, src=0, device=_object_device(dist))
        return box[0]
    except Exception:
        logger.exception("wattprint: could not share the run id across ranks; each rank keeps its own")
        return value


def gather_footprints(document: Dict[str, Any]) -> Optional[List[Dict[str, Any]]]:
    """Gather every rank's footprint document on rank 0 (a collective).

    Returns:
        On rank 0 the documents of all ranks in rank order; on other ranks an
        empty list; ``None`` when there is no initialised process group or the
        gather failed.
    """
    dist = _dist()
    if dist is None:
        return None
    try:
        rank = dist.get_rank()
        out: Optional[List[Any]] = [None] * dist.get_world_size() if rank == 0 else None
        kwargs: Dict[str, Any] = {}
        dev = _object_device(dist)
        if dev is not None:
            torch_dist_sig = inspect.signature(dist.gather_object)
            if "device" in torch_dist_sig.parameters:
                kwargs["device"] = dev
        dist.gather_object(document, out, dst=0, **kwargs)
        # Non-destination ranks return from gloo's gather while their send may still be in
        # flight; a rank that then exits (or destroys the group) can abort with
        # "terminate called without an active exception". Leave together.
        dist.barrier()
        return [d for d in out if d is not None] if out is not None else []
    except Exception:
        logger.exception("wattprint: gathering the ranks' footprints failed")
        return None


def all_reduce_sum(values: Sequence[float]) -> List[float]:
    """Sum ``values`` over all ranks (a collective); the values unchanged without a process group."""
    dist = _dist()
    if dist is None:
        return [float(v) for v in values]
    import torch

    dev = _object_device(dist) or torch.device("cpu")
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=dev)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return [float(v) for v in t.cpu().tolist()]
