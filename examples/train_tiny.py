"""The main job: a tiny PyTorch model trained on CPU for a few seconds, tracked by wattprint.

    python examples/train_tiny.py [--steps 2000] [--region IE] [--output-dir wattprint-runs] [--threads 1] [--progress-s 2]

Prints the footprint: energy per component (and whether each figure is
measured or estimated), facility energy, carbon and water. The footprint is
also written to ``<output-dir>/<run_id>.json`` and a row of ``runs.csv``.
"""

from __future__ import annotations

import argparse
import threading
import time
import warnings
from contextlib import contextmanager
from typing import Iterator

# torch warns at import when NumPy is absent (the README's first install has none); this job needs no NumPy.
warnings.filterwarnings("ignore", message=r".*Failed to initialize NumPy.*")


@contextmanager
def _saying_while(what: str, every_s: float) -> Iterator[None]:
    """Print ``what`` now and a "still ..." line every ``every_s`` seconds until the block ends (never looks hung)."""
    t0 = time.monotonic()
    print(what, flush=True)
    done = threading.Event()

    def still() -> None:
        while not done.wait(every_s):
            print(f"  still {what[:1].lower()}{what[1:].rstrip('.')} ({time.monotonic() - t0:.0f} s)", flush=True)

    threading.Thread(target=still, daemon=True).start()
    try:
        yield
    finally:
        done.set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--region", default=None, help="region code, e.g. IE, US-VA (default: world)")
    parser.add_argument("--output-dir", default=None)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: a model this small is fastest on one core, "
                             "and more threads fight over a busy machine's cores)")
    parser.add_argument("--progress-s", type=float, default=2.0,
                        help="print a progress line at least this often, seconds (default 2), so the job never looks hung")
    args = parser.parse_args()

    # importing PyTorch takes a few seconds, more on a busy machine: say so while it happens
    with _saying_while("Loading PyTorch...", every_s=min(4.0, args.progress_s) if args.progress_s > 0 else 4.0):
        import torch
        from torch import nn

        import wattprint as wp

    torch.set_num_threads(max(1, args.threads))
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(4096, 64)
    y = (x[:, :10].argmax(dim=1)).long()
    params = sum(p.numel() for p in model.parameters())

    print(f"training a {params:,}-parameter model for {args.steps} steps on CPU ({torch.get_num_threads()} thread)", flush=True)
    with wp.Tracker(project="train-tiny", region=args.region, output_dir=args.output_dir, total_steps=args.steps) as t:
        last_print = time.monotonic()
        for step in range(args.steps):
            idx = torch.randint(0, x.shape[0], (args.batch,))
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            # 6·N·D FLOPs per sample-token for training (forward + backward)
            t.step(samples=args.batch, flops=6.0 * params * args.batch)
            if time.monotonic() - last_print >= args.progress_s:
                last_print = time.monotonic()
                print(f"  step {step + 1}/{args.steps}, loss {loss.item():.3f}, {t.snapshot().energy_j:.1f} J so far (this job)", flush=True)
            if step == args.steps // 2:
                with t.window("eval"):
                    with torch.no_grad():
                        acc = (model(x).argmax(1) == y).float().mean().item()
    print(f"trained {args.steps} steps, final loss {loss.item():.3f}, mid-run accuracy {acc:.2f}")
    print(t.footprint.summary())
    print(f"  footprint written to {t.json_path}")


if __name__ == "__main__":
    main()
