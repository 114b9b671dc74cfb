"""Where a process sits in a distributed job, and which GPUs it measures.

:func:`rank_info` reads the rank, local rank and world size (arguments, then
an initialised ``torch.distributed`` group, then torchrun / SLURM variables);
:func:`rank_gpu_selectors` picks this rank's share of ``CUDA_VISIBLE_DEVICES``.
Both are re-exported by :mod:`wattprint.integrations.distributed`.

Failure modes: none raise; an unreadable variable is skipped, and without
any variable the process is a single rank on its own node.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence

from wattprint.integrations._collectives import _dist

__all__ = ["RankInfo", "rank_info", "rank_gpu_selectors"]


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
