"""Where a process sits in a distributed job, and which GPUs it measures.

:func:`rank_info` reads the rank, local rank and world size (arguments, then
an initialised ``torch.distributed`` group, then the launcher's variables as the
core reads them, :func:`wattprint.job_context`); :func:`job_context_for` gives the
same as the core's ``JobContext`` that a Tracker takes (``job=``);
:func:`rank_gpu_selectors` picks this rank's share of ``CUDA_VISIBLE_DEVICES``.
Both are re-exported by :mod:`wattprint.integrations.distributed`.

Failure modes: none raise; an unreadable variable is skipped, and without
any variable the process is a single rank on its own node.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence

import wattprint
from wattprint.integrations._collectives import _dist

__all__ = ["RankInfo", "rank_info", "job_context_for", "rank_gpu_selectors"]


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

    @classmethod
    def of(cls, ctx: Any) -> "RankInfo":
        """The rank fields of a :class:`wattprint.JobContext`."""
        return cls(rank=ctx.rank, local_rank=ctx.local_rank, world_size=ctx.world_size,
                   local_world_size=ctx.local_world_size, node=ctx.node, node_rank=ctx.node_rank)  # fmt: skip


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
    group (rank, world size); then the launcher's variables, read by the
    core (:func:`wattprint.job_context`: torchrun, Open MPI / PMIx, SLURM,
    whose ``SLURM_PROCID``/``SLURM_NTASKS`` are trusted here even without an
    ``srun`` step id); else a single process.
    """
    return RankInfo.of(job_context_for(env, rank=rank, local_rank=local_rank, world_size=world_size,
                                       local_world_size=local_world_size, node=node))  # fmt: skip


def job_context_for(env: Optional[Mapping[str, str]] = None, **overrides: Any) -> Any:
    """The core's :class:`wattprint.JobContext` with the process group's rank and size (when one exists) and ``overrides``."""
    env = os.environ if env is None else env
    dist = _dist()
    if dist is not None:
        if overrides.get("rank") is None:
            overrides["rank"] = int(dist.get_rank())
        if overrides.get("world_size") is None:
            overrides["world_size"] = int(dist.get_world_size())
    return wattprint.job_context(env, trust_ntasks=True, **overrides)


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
