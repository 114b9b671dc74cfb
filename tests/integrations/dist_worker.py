"""One rank of a two-process gloo job, launched by torchrun from test_integration_distributed.py.

Usage: python -m torch.distributed.run --nproc_per_node=2 --master_port=P dist_worker.py OUT_DIR

Runs three scenarios in one process group, each writing to OUT_DIR/<scenario>:

* ``same_node``: both ranks on one node; each has its own replayed GPU (100 W
  and 110 W) and both report the node's CPU (40 W); the CPU must count once.
* ``two_nodes``: the same sensors, but each rank says it is local rank 0 of
  its own node (``node-a``, ``node-b``): the CPU counts once per node.
* ``discovery``: no sensors given; the real discovery of this machine, where
  only local rank 0 measures the CPU and RAM.

Each rank's clock is a ManualClock advanced by exactly 2 s, so the energies are exact.
"""

from __future__ import annotations

import json
import math
import os
import sys

import torch.distributed as dist
import wattprint as wp
from wattprint.integrations.distributed import DistributedTracker
from wattprint.testing import ManualClock

RUN_S = 2.0


def replay_sensors(rank: int):
    return [
        wp.ReplaySensor([(0.0, 100.0 + 10.0 * rank)], component_id="gpu:0", kind="gpu", name="replayed GPU"),
        wp.ReplaySensor([(0.0, 40.0)], component_id="cpu", kind="cpu", name="replayed CPU"),
    ]


def run(out: str, scenario: str, rank: int, **kwargs) -> None:
    clock = ManualClock()
    dt = DistributedTracker(
        "dist-test",
        output_dir=os.path.join(out, scenario),
        interval_s=math.inf,
        clock=clock,
        handle_signals=False,
        **kwargs,
    )
    dt.start()
    for _ in range(4):
        clock.advance(RUN_S / 4)
        dt.step(samples=8, tokens=64)
    job = dt.stop()
    result = {
        "rank": rank,
        "job_run_id": dt.job_run_id,
        "own_run_id": dt.tracker.run_id,
        "own_energy_j": dt.tracker.footprint.energy_j,
        "own_components": [c["id"] for c in dt.tracker.footprint["components"]],
        "job_path": dt.job_path,
        "returned_is_job": job is dt.job_footprint and job is not None,
    }
    with open(os.path.join(out, scenario, f"result-{rank}.json"), "w") as fh:
        json.dump(result, fh)


def main() -> None:
    out = sys.argv[1]
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    run(out, "same_node", rank, sensors=replay_sensors(rank))
    run(out, "two_nodes", rank, sensors=replay_sensors(rank), node=f"node-{'ab'[rank]}", local_rank=0, local_world_size=1)
    run(out, "discovery", rank, gpu=False)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
