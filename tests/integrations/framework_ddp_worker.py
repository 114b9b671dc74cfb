"""One rank of a two-process CPU job with a real framework trainer, launched by torchrun.

Usage: python -m torch.distributed.run --nproc_per_node=2 framework_ddp_worker.py {lightning|transformers} OUT_DIR

Each rank replays its own GPU (100 W on rank 0, 110 W on rank 1); local rank 0
also replays the node's CPU (40 W). Each optimizer step advances the rank's
manual clock by exactly one second, so every figure is exact. Each rank
writes ``result-<rank>.json`` with what its callback saw.
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings

import torch
import wattprint as wp
from wattprint.testing import ManualClock

warnings.filterwarnings("ignore")

RANK = int(os.environ["RANK"])
LOCAL_RANK = int(os.environ["LOCAL_RANK"])


def sensors():
    out = [wp.ReplaySensor([(0.0, 100.0 + 10.0 * RANK)], component_id="gpu:0", kind="gpu")]
    if LOCAL_RANK == 0:
        out.append(wp.ReplaySensor([(0.0, 40.0)], component_id="cpu", kind="cpu"))
    return out


def tracker_kwargs(out_dir, clock):
    return dict(project="ddp", output_dir=out_dir, sensors=sensors(), clock=clock, interval_s=math.inf, handle_signals=False)


def lightning_job(out_dir: str) -> dict:
    import lightning as L
    from wattprint.integrations.lightning import WattprintCallback

    clock = ManualClock()

    class Tiny(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, batch, batch_idx):
            clock.advance(1.0)
            x, y = batch
            return torch.nn.functional.mse_loss(self.layer(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    g = torch.Generator().manual_seed(0)
    ds = torch.utils.data.TensorDataset(torch.randn(32, 4, generator=g), torch.randn(32, 1, generator=g))
    loader = torch.utils.data.DataLoader(ds, batch_size=8)  # 16 samples per rank: 2 steps per epoch
    cb = WattprintCallback(**tracker_kwargs(out_dir, clock))
    trainer = L.Trainer(
        accelerator="cpu", devices=2, strategy="ddp", max_epochs=2, callbacks=[cb], logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, default_root_dir=out_dir,
    )
    trainer.fit(Tiny(), loader)
    return {
        "global_step": trainer.global_step,
        "logged_energy_kwh": float(trainer.callback_metrics["wattprint.energy.it_kwh"]),
        "logged_epoch_energy_j": float(trainer.callback_metrics["wattprint/epoch_energy_j"]),
        "own": cb.dt.tracker.footprint.to_dict(),
        "returned_job": cb.footprint is cb.dt.job_footprint and cb.footprint is not None,
        "job_path": cb.dt.job_path,
    }


def transformers_job(out_dir: str) -> dict:
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )
    from wattprint.integrations.transformers import WattprintCallback

    clock = ManualClock()

    class Advance(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            clock.advance(1.0)

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=100, n_positions=8, bos_token_id=0, eos_token_id=0))
    ids = torch.randint(0, 100, (16, 8), generator=torch.Generator().manual_seed(0))
    data = [{"input_ids": r, "labels": r.clone()} for r in ids]
    args = TrainingArguments(
        output_dir=os.path.join(out_dir, "hf"), per_device_train_batch_size=4, num_train_epochs=2, logging_steps=1,
        report_to="none", use_cpu=True, save_strategy="no", disable_tqdm=True, include_num_input_tokens_seen=True,
    )
    cb = WattprintCallback(**tracker_kwargs(out_dir, clock))
    trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=[Advance(), cb])
    trainer.train()
    logged = [h for h in trainer.state.log_history if "loss" in h and "wattprint.energy.it_kwh" in h]
    return {
        "global_step": trainer.state.global_step,
        "world_size": args.world_size,
        "tokens_seen": trainer.state.num_input_tokens_seen,
        "logged_energy_kwh": [h["wattprint.energy.it_kwh"] for h in logged],
        "own": cb.dt.tracker.footprint.to_dict(),
        "returned_job": cb.footprint is cb.dt.job_footprint and cb.footprint is not None,
        "job_path": cb.dt.job_path,
    }


def main() -> None:
    framework, out_dir = sys.argv[1], sys.argv[2]
    result = lightning_job(out_dir) if framework == "lightning" else transformers_job(out_dir)
    result["rank"] = RANK
    with open(os.path.join(out_dir, f"result-{RANK}.json"), "w") as fh:
        json.dump(result, fh, default=str)
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():  # the trainers leave the gloo group open; torn down at
        dist.barrier()  # interpreter exit its threads can abort the process ("terminate called without an
        dist.destroy_process_group()  # active exception", exit -6), so it is closed here, as a script should


if __name__ == "__main__":
    main()
