"""A Hugging Face Trainer measured by WattprintCallback (tiny GPT-2 from a config, no downloads, CPU).

    python examples/hf_trainer.py [--epochs 2] [--output-dir wattprint-runs]

``attach`` puts the callback first (so ``report_to`` integrations see the
energy in each log line) and records a crash as ``failed``. Energy and carbon
appear in every log line, and the footprint counts the optimizer steps,
the input tokens and the Trainer's FLOP estimate.
"""

from __future__ import annotations

import argparse
import tempfile

import torch
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments
from wattprint.integrations.transformers import attach

SEQ = 32


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--output-dir", default=None)
    args = ap.parse_args()

    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_embd=64, n_head=2, vocab_size=512, n_positions=SEQ, bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(config)
    ids = torch.randint(0, config.vocab_size, (128, SEQ))
    dataset = [{"input_ids": row, "labels": row.clone()} for row in ids]

    with tempfile.TemporaryDirectory() as scratch:
        training_args = TrainingArguments(
            output_dir=scratch,
            per_device_train_batch_size=8,
            num_train_epochs=args.epochs,
            logging_steps=8,
            report_to="none",
            use_cpu=not torch.cuda.is_available(),
            save_strategy="no",
            disable_tqdm=True,
            include_num_input_tokens_seen=True,
        )
        trainer = Trainer(model=model, args=training_args, train_dataset=dataset)
        cb = attach(trainer, project="hf-demo", output_dir=args.output_dir)
        trainer.train()

    fp = cb.footprint
    if fp is not None and trainer.state.is_world_process_zero:
        j_per_token = fp.get("work.j_per_token")
        print(
            f"{fp.get('work.steps')} steps (trainer: {trainer.state.global_step}), {fp.get('work.tokens')} tokens, "
            f"{fp.energy_j:.1f} J, {'–' if j_per_token is None else f'{j_per_token:.3g}'} J/token, "
            f"{fp.get('carbon.total_kg') * 1000:.4f} g CO2e"
        )
        if cb.dt is not None and cb.dt.json_path:
            print(f"  footprint written to {cb.dt.json_path}")


if __name__ == "__main__":
    main()
