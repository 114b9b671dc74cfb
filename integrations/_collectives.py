"""The few ``torch.distributed`` collectives the integrations use, each safe without a process group.

Every function here is a no-op (or returns its input) when torch is not
imported, ``torch.distributed`` is unavailable, or no process group is
initialised, so single-process runs never need torch.distributed at all.

Failure modes: a failed broadcast or gather is logged and answered with the
local value (broadcast) or ``None`` (gather); :func:`all_reduce_sum` lets a
failed collective raise, since its callers guard it.
"""

from __future__ import annotations

import inspect
import json
import logging
import sys
from typing import Any, Dict, List, Optional, Sequence

__all__ = ["gather_footprints", "all_reduce_sum"]

logger = logging.getLogger("wattprint")


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


def _cuda_device_count() -> Optional[int]:
    """GPUs torch can see, without initialising CUDA when torch is not imported yet."""
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

    Send ``Footprint.to_dict()``: the document without its timeline (a few kB
    per rank; the timelines stay in the rank files), so rank 0 receives a
    size linear in ranks and independent of the run's length.

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


def _json_bytes(documents: Sequence[Any]) -> int:
    """What the gathered documents weigh as compact JSON, bytes (the job footprint's ``job.received_bytes``)."""
    return sum(len(json.dumps(d, separators=(",", ":"), default=str).encode("utf-8")) for d in documents)


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
