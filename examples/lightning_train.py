"""A Lightning Trainer measured by WattprintCallback (runs on CPU in a few seconds).

    python examples/lightning_train.py [--epochs 3] [--output-dir wattprint-runs]

Each epoch is a window; energy and carbon are logged to the trainer's logger
(a CSVLogger here: see lightning_logs/.../metrics.csv); the footprint is
written when training ends, with status ``failed`` if it crashes.
"""

from __future__ import annotations

import argparse
import warnings

import lightning as L
import torch
from lightning.pytorch.loggers import CSVLogger
from wattprint.integrations.lightning import WattprintCallback

warnings.filterwarnings("ignore", ".*does not have many workers.*")


class TinyClassifier(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(32, 128), torch.nn.ReLU(), torch.nn.Linear(128, 4))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        self.log("loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--output-dir", default=None)
    args = ap.parse_args()

    g = torch.Generator().manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(2048, 32, generator=g), torch.randint(0, 4, (2048,), generator=g))
    loader = torch.utils.data.DataLoader(data, batch_size=64)

    wattprint_cb = WattprintCallback(project="lightning-demo", output_dir=args.output_dir)
    trainer = L.Trainer(
        max_epochs=args.epochs,
        accelerator="auto",
        callbacks=[wattprint_cb],
        logger=CSVLogger("lightning_logs", name="wattprint-demo"),
        enable_checkpointing=False,
        enable_progress_bar=False,
    )
    trainer.fit(TinyClassifier(), loader)

    fp = wattprint_cb.footprint
    if fp is not None and trainer.is_global_zero:
        print(f"{fp.get('work.steps')} steps (trainer: {trainer.global_step}), {fp.energy_j:.1f} J, {fp.get('carbon.total_kg') * 1000:.4f} g CO2e")
        for w in fp["windows"]:
            print(f"  {w['name']}: {w['energy_j']:.2f} J in {w['duration_s']:.2f} s")
        if wattprint_cb.dt is not None and wattprint_cb.dt.json_path:
            print(f"  footprint written to {wattprint_cb.dt.json_path}")


if __name__ == "__main__":
    main()
