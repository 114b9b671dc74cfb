"""One rank of a two-process torchrun job whose script is the README quick start, unchanged.

Usage: python -m torch.distributed.run --nproc_per_node=2 ... job_worker.py
(the output folder comes from WATTPRINT_OUTPUT_DIR; no process group, no wattprint distributed code)
"""

from __future__ import annotations

import sys

import wattprint as wp

with wp.Tracker(project="gpt-mini", region="IE", pue=1.1) as t:
    total = 0
    for _batch in range(200):
        total += sum(i * i for i in range(2000))  # a little CPU work
        t.step(samples=32, tokens=32 * 128)
sys.stdout.write(f"{t.run_id} {t.job.footprint is not None} {total > 0}\n")  # one write: the ranks share the pipe
