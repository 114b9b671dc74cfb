"""A plain PyTorch loop measured with two lines (runs on CPU in a few seconds).

    python examples/torch_loop.py [--steps 300] [--output-dir wattprint-runs]

The hook counts every ``optimizer.step()``; the tracker's sampler reads the
energy counters once a second, and ``energy_per_step`` turns those readings
into joules per step, with no CUDA synchronisation in the step.
"""

from __future__ import annotations

import argparse

import torch
from wattprint.integrations.torch import attach, energy_per_step


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--output-dir", default=None)
    args = ap.parse_args()

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = torch.nn.Sequential(torch.nn.Linear(256, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 10)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    # line 1: start measuring and count every optimizer step (and its samples)
    hook = attach(optimizer, project="torch-loop", output_dir=args.output_dir, samples_per_step=args.batch)

    for _ in range(args.steps):
        x = torch.randn(args.batch, 256, device=device)
        y = torch.randint(0, 10, (args.batch,), device=device)
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()

    # line 2: stop, write <output_dir>/<run_id>.json, get the footprint
    fp = hook.stop()

    print(f"{fp.get('work.steps')} steps, {fp.energy_j:.1f} J IT energy, {fp.get('carbon.total_kg') * 1000:.4f} g CO2e")
    for comp in fp["components"]:
        how = "measured" if comp["measured"] else "estimated"
        print(f"  {comp['id']:<16} {comp['energy_j']:10.2f} J  ({how}: {comp['source']})")
    per = energy_per_step(fp)
    if per:
        print("joules per step between sampler readings:", ", ".join(f"{p['j_per_step']:.3f}" for p in per[:10]))
    print("footprint:", hook.tracker.json_path)


if __name__ == "__main__":
    main()
