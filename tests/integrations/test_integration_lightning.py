"""The Lightning callback with a real Trainer and a tiny model on CPU."""

from __future__ import annotations

import csv
import glob
import json
import math
import os
import sys
import warnings
from types import SimpleNamespace

import lightning as L
import pytest
import torch
import wattprint as wp
from lightning.pytorch.loggers import CSVLogger
from wattprint.integrations.lightning import WattprintCallback, batch_size_of
from wattprint.testing import ManualClock

warnings.filterwarnings("ignore", ".*does not have many workers.*")
warnings.filterwarnings("ignore", ".*GPU available but not used.*")

WATTS = 100.0
STEP_S = 1.0  # each training step advances the manual clock by this much


class Tiny(L.LightningModule):
    def __init__(self, clock=None, fail_at_step=None):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.clock = clock
        self.fail_at_step = fail_at_step

    def training_step(self, batch, batch_idx):
        if self.fail_at_step is not None and self.global_step == self.fail_at_step:
            raise RuntimeError("diverged")
        if self.clock is not None:
            self.clock.advance(STEP_S)
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)

    def train_dataloader(self):
        g = torch.Generator().manual_seed(0)
        ds = torch.utils.data.TensorDataset(torch.randn(32, 4, generator=g), torch.randn(32, 1, generator=g))
        return torch.utils.data.DataLoader(ds, batch_size=8)  # 4 batches per epoch


def _trainer(tmp_path, cb, epochs, logger=False, **kw):
    return L.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=epochs,
        callbacks=[cb],
        logger=logger,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
        **kw,
    )


def _callback(tmp_path, clock):
    sensor = wp.ReplaySensor([(0.0, WATTS)], component_id="gpu:0", kind="gpu")
    return WattprintCallback(
        project="lit", output_dir=str(tmp_path / "runs"), sensors=[sensor], clock=clock, interval_s=math.inf, handle_signals=False
    )


def test_fit_leaves_a_footprint_with_the_steps_trained_and_epoch_windows(tmp_path):
    clock = ManualClock()
    cb = _callback(tmp_path, clock)
    logger = CSVLogger(str(tmp_path / "logs"), name="lit")
    trainer = _trainer(tmp_path, cb, epochs=3, logger=logger, log_every_n_steps=1)
    trainer.fit(Tiny(clock))
    fp = cb.footprint
    assert fp is not None and fp.status == "completed"
    assert trainer.global_step == 12
    assert fp.get("work.steps") == trainer.global_step and fp.get("work.samples") == 96
    assert fp.energy_j == pytest.approx(12 * STEP_S * WATTS)
    windows = fp["windows"]
    assert [w["name"] for w in windows] == ["epoch 0", "epoch 1", "epoch 2"]
    assert [w["energy_j"] for w in windows] == pytest.approx([4 * STEP_S * WATTS] * 3)
    assert [w["steps"] for w in windows] == [4, 4, 4]
    assert fp["lightning"] == {"stage": "fit", "batches": 12, "global_step": 12}
    # written to disk, one run
    assert os.path.exists(os.path.join(str(tmp_path / "runs"), f"{fp.run_id}.json"))
    # energy and carbon reached the trainer's logger
    logger.save()
    (metrics_csv,) = glob.glob(str(tmp_path / "logs" / "lit" / "*" / "metrics.csv"))
    rows = [r for r in csv.DictReader(open(metrics_csv)) if r.get("wattprint.energy.it_kwh")]
    assert len(rows) == 3
    assert float(rows[-1]["wattprint.energy.it_kwh"]) == pytest.approx(12 * STEP_S * WATTS / 3.6e6)
    assert float(rows[0]["wattprint/epoch_energy_j"]) == pytest.approx(4 * STEP_S * WATTS)
    assert float(rows[-1]["wattprint.carbon.total_kg"]) == pytest.approx(fp.get("carbon.total_kg"))
    assert trainer.callback_metrics["wattprint.energy.it_kwh"].item() == pytest.approx(12 * STEP_S * WATTS / 3.6e6)
    # Lightning's plan of optimizer steps became the tracker's total (enables the forecast)
    assert cb.dt.tracker.total_steps == trainer.estimated_stepping_batches == 12


def test_an_exception_writes_a_failed_footprint(tmp_path):
    clock = ManualClock()
    cb = _callback(tmp_path, clock)
    trainer = _trainer(tmp_path, cb, epochs=2)
    with pytest.raises(RuntimeError, match="diverged"):
        trainer.fit(Tiny(clock, fail_at_step=6))
    fp = cb.footprint
    assert fp.status == "failed" and fp.get("work.steps") == 6
    doc = json.load(open(os.path.join(str(tmp_path / "runs"), f"{fp.run_id}.json")))
    assert doc["status"] == "failed"
    assert [w["name"] for w in doc["windows"]] == ["epoch 0", "epoch 1"]  # the open epoch was closed


def test_totals_survive_a_resume_from_a_checkpoint(tmp_path):
    clock = ManualClock()
    cb1 = _callback(tmp_path, clock)
    t1 = _trainer(tmp_path, cb1, epochs=2)
    t1.fit(Tiny(clock))
    ckpt = str(tmp_path / "two.ckpt")
    t1.save_checkpoint(ckpt)
    first = cb1.footprint
    assert first.get("work.steps") == 8

    cb2 = _callback(tmp_path, clock)
    t2 = _trainer(tmp_path, cb2, epochs=3)
    t2.fit(Tiny(clock), ckpt_path=ckpt)
    fp = cb2.footprint
    assert t2.global_step == 12 and fp.get("work.steps") == 4  # this run trained 4 more steps
    resume = fp["resume"]
    assert resume["resumed_from"] == [first.run_id]
    assert resume["previous_steps"] == 8 and resume["cumulative_steps"] == 12
    assert resume["previous_energy_j"] == pytest.approx(first.energy_j)
    assert resume["cumulative_energy_j"] == pytest.approx(12 * STEP_S * WATTS)
    assert resume["previous_carbon_kg"] == pytest.approx(first.get("carbon.total_kg"))
    assert cb2.state_dict()["steps"] == 12


def test_a_ready_tracker_is_used_as_is(tmp_path):
    clock = ManualClock()
    sensor = wp.ReplaySensor([(0.0, 10.0)], component_id="gpu:0", kind="gpu")
    tracker = wp.Tracker("mine", output_dir=str(tmp_path), sensors=[sensor], clock=clock, interval_s=math.inf, handle_signals=False)
    cb = WattprintCallback(tracker, log=False, sync=True)  # sync is harmless on CPU
    _trainer(tmp_path, cb, epochs=1).fit(Tiny(clock))
    assert tracker.footprint is cb.footprint and tracker.footprint.get("work.steps") == 4


def test_bad_settings_fail_when_the_callback_is_built():
    with pytest.raises(wp.ConfigError):
        WattprintCallback(pue=0.5)


def test_settings_are_checked_without_a_throwaway_tracker(monkeypatch):
    built = []
    original = wp.Tracker.__init__

    def counting(self, *a, **k):
        built.append(k)
        original(self, *a, **k)

    monkeypatch.setattr(wp.Tracker, "__init__", counting)
    WattprintCallback(project="p", region="IE", save=False)
    assert built == []


@pytest.mark.parametrize(
    "batch, n",
    [(torch.zeros(5, 2), 5), ((torch.zeros(3, 1), torch.zeros(3)), 3), ({"ids": torch.zeros(7, 4)}, 7), ("text", None), (torch.tensor(1.0), None)],
)
def test_batch_size_of(batch, n):
    assert batch_size_of(batch) == n


def _count_collectives(monkeypatch):
    """Replace ``all_reduce_sum`` wherever an integration module holds it; returns the list of calls."""
    calls = []

    def counting(values):
        calls.append(list(values))
        return [float(v) for v in values]

    for name, mod in list(sys.modules.items()):
        if name.startswith("wattprint.integrations") and hasattr(mod, "all_reduce_sum"):
            monkeypatch.setattr(mod, "all_reduce_sum", counting)
    return calls


def test_state_dict_runs_no_collective_and_returns_the_last_epoch_totals(tmp_path, monkeypatch):
    """Lightning may call state_dict() on one rank alone (an exception checkpoint): it must not all-reduce."""
    clock = ManualClock()
    cb = _callback(tmp_path, clock)
    # rank 0 of a two-rank job, driven hook by hook (no process group: a collective would be a no-op, so count them)
    trainer = SimpleNamespace(global_rank=0, local_rank=0, world_size=2, num_devices=2, global_step=0, current_epoch=0,
                              estimated_stepping_batches=8)
    module = SimpleNamespace(log=lambda *a, **k: None)
    cb.setup(trainer, module, "fit")
    cb.on_train_start(trainer, module)
    cb.on_train_epoch_start(trainer, module)
    for _ in range(2):
        clock.advance(STEP_S)
        trainer.global_step += 1
        cb.on_train_batch_end(trainer, module, None, torch.zeros(8, 4), 0)
    cb.on_train_epoch_end(trainer, module)  # every rank is here: totals are summed and cached
    trainer.current_epoch = 1
    cb.on_train_epoch_start(trainer, module)
    clock.advance(5 * STEP_S)
    trainer.global_step += 1
    cb.on_train_batch_end(trainer, module, None, torch.zeros(8, 4), 0)
    calls = _count_collectives(monkeypatch)
    state = cb.state_dict()  # mid-epoch, as an exception checkpoint would be
    assert calls == []
    assert state["energy_j"] == pytest.approx(2 * STEP_S * WATTS) and state["steps"] == 2
    cb.on_exception(trainer, module, RuntimeError("diverged"))
    assert calls == [] and cb.footprint.status == "failed"
