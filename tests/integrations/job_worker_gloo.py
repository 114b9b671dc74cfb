"""One rank of a two-process torchrun (gloo) job: a real process group, and the README quick start unchanged.

Usage: python -m torch.distributed.run --nproc_per_node=2 ... job_worker_gloo.py
(the output folder comes from WATTPRINT_OUTPUT_DIR; wattprint gets no handle on the process group)
"""

from __future__ import annotations

import sys

import torch
import torch.distributed as dist
import wattprint as wp

dist.init_process_group("gloo")
with wp.Tracker(project="gpt-mini", region="IE", pue=1.1) as t:
    grad = torch.ones(1024)
    for _batch in range(200):
        dist.all_reduce(grad)  # the job's ranks talk through gloo while they are tracked
        grad /= dist.get_world_size()
        t.step(samples=32, tokens=32 * 128)
dist.barrier()
sys.stdout.write(f"{t.run_id} {t.job.footprint is not None} {bool(grad.sum() > 0)}\n")  # one write: the ranks print at once, after the barrier
dist.destroy_process_group()
