"""A DDP job measured rank by rank, with one job footprint on rank 0 (CPU with gloo, or GPUs with NCCL).

    torchrun --nproc_per_node=2 examples/distributed_torchrun.py [--steps 100] [--output-dir wattprint-runs]

Each rank measures only its own GPU; local rank 0 of each node measures the
node's CPU and RAM; at the end rank 0 gathers every rank's footprint and
writes ``<run_id>.job.json`` with a ``distributed`` section. Run it without
torchrun and it is an ordinary single-process run.
"""

from __future__ import annotations

import argparse
import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from wattprint.integrations.torch import attach


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--output-dir", default=None)
    args = ap.parse_args()

    distributed = "RANK" in os.environ
    if distributed:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        dist.init_process_group(backend)
    device = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")

    model = torch.nn.Sequential(torch.nn.Linear(128, 512), torch.nn.ReLU(), torch.nn.Linear(512, 8)).to(device)
    if distributed:
        model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-2)

    # after init_process_group: every rank gets its role and the job's run id
    hook = attach(optimizer, project="ddp-demo", output_dir=args.output_dir, samples_per_step=args.batch)
    for _ in range(args.steps):
        x = torch.randn(args.batch, 128, device=device)
        y = torch.randint(0, 8, (args.batch,), device=device)
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    fp = hook.stop()  # collective: every rank calls it; rank 0 gets the job footprint

    dt = hook.tracker
    if dt.info.rank == 0 and fp is not None:
        d = fp.to_dict()
        sec = d.get("distributed")
        print(f"job {fp.run_id}: {fp.energy_j:.1f} J, {d['work']['steps']} steps, {d['work']['samples']} samples")
        if sec and "ranks" in sec:
            print(f"  world size {sec['world_size']} on {sec['nodes']} node(s); job footprint: {dt.job_path}")
            for r in sec["ranks"]:
                comps = ", ".join(f"{c['id']}={c['energy_j']:.1f} J" for c in r["components"]) or "no components (node measured by local rank 0)"
                print(f"  rank {r['rank']} on {r['node']}: {comps}")
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
