"""Pause and resume at safe points in real Lightning and Hugging Face trainers (tiny models, CPU).

The intensity is replayed from a forecast file on a ManualClock: above the threshold for the
first hour, below after. Each training step advances the clock by one second; the pause's
sleeps advance it too, so nothing sleeps on wall time.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import warnings

import pytest
import torch
import wattprint as wp
from wattprint.errors import ConfigError
from wattprint.integrations.carbon_aware import PAUSE_WINDOW, PauseController
from wattprint.testing import ManualClock

warnings.filterwarnings("ignore", ".*does not have many workers.*")
warnings.filterwarnings("ignore", ".*GPU available but not used.*")

T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.timezone.utc)
DIRTY, CLEAN, THRESHOLD = 400.0, 100.0, 250.0


def _forecast(tmp_path, dirty_h=1.0, signal="average"):
    rows = [{"start": (T0 - dt.timedelta(hours=1)).isoformat(), "end": (T0 + dt.timedelta(hours=dirty_h)).isoformat(), "intensity_g_per_kwh": DIRTY},
            {"start": (T0 + dt.timedelta(hours=dirty_h)).isoformat(), "end": (T0 + dt.timedelta(hours=48)).isoformat(), "intensity_g_per_kwh": CLEAN}]  # fmt: skip
    path = tmp_path / "replayed.json"
    path.write_text(json.dumps({"signal": signal, "forecast": rows}))
    return wp.forecast_provider("file", path=str(path), env={})


def _pauses(fp):
    doc = fp.to_dict()
    return doc["carbon_aware"], {t["name"]: t for t in doc["window_totals"]}


# -- the controller alone -------------------------------------------------------------------


def test_pause_is_bounded_by_max_pause_and_the_total_budget():
    clock = ManualClock(utc=T0)
    c = PauseController(THRESHOLD, intensity=lambda: DIRTY, max_pause_s=600, total_delay_s=1000, poll_s=250, clock=clock, sleep=clock.advance)
    first = c.maybe_pause("epoch 0")
    assert first["duration_s"] == 600 and first["ended_by"] == "max_pause_s"
    second = c.maybe_pause("epoch 1")
    assert second["duration_s"] == 400 and second["ended_by"] == "total_delay_s"
    assert c.maybe_pause("epoch 2") is None and c.paused_s == 1000 and "total delay budget spent" in c.notes


def test_no_intensity_never_pauses_and_a_failing_source_never_raises():
    clock = ManualClock(utc=T0)
    assert PauseController(THRESHOLD, intensity=lambda: None, clock=clock, sleep=clock.advance).maybe_pause("step 1") is None

    def broken():
        raise RuntimeError("sensor down")

    assert PauseController(THRESHOLD, intensity=broken, clock=clock, sleep=clock.advance).maybe_pause("step 1") is None


@pytest.mark.parametrize("kw, setting", [({"threshold_g_per_kwh": 0}, "threshold_g_per_kwh"), ({"max_pause_s": -1}, "max_pause_s"),
                                         ({"resume_below_g_per_kwh": 300}, "resume_below_g_per_kwh"), ({"intensity": None}, "intensity")])  # fmt: skip
def test_bad_settings_raise_config_error(kw, setting):
    args = {"threshold_g_per_kwh": THRESHOLD, "intensity": lambda: 1.0, **kw}
    with pytest.raises(ConfigError) as err:
        PauseController(args.pop("threshold_g_per_kwh"), **args)
    assert err.value.setting == setting


# -- Lightning ---------------------------------------------------------------------------------

L = pytest.importorskip("lightning")


class Tiny(L.LightningModule):
    def __init__(self, clock):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.clock = clock

    def training_step(self, batch, batch_idx):
        self.clock.advance(1.0)
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)

    def train_dataloader(self):
        g = torch.Generator().manual_seed(0)
        ds = torch.utils.data.TensorDataset(torch.randn(16, 4, generator=g), torch.randn(16, 1, generator=g))
        return torch.utils.data.DataLoader(ds, batch_size=8)  # 2 steps per epoch


def test_lightning_pauses_at_an_epoch_boundary_until_the_intensity_falls(tmp_path):
    from wattprint.integrations.carbon_aware import LightningCarbonAware
    from wattprint.integrations.lightning import WattprintCallback

    clock = ManualClock(utc=T0)
    sensor = wp.ReplaySensor([(0.0, 100.0)], component_id="gpu:0", kind="gpu")
    wp_cb = WattprintCallback(project="lit", output_dir=str(tmp_path / "runs"), sensors=[sensor], clock=clock, interval_s=math.inf, handle_signals=False)
    pause = LightningCarbonAware(THRESHOLD, provider=_forecast(tmp_path), max_pause_s=2 * 3600, total_delay_s=3 * 3600, poll_s=600,
                                 clock=clock, sleep=clock.advance)  # fmt: skip
    trainer = L.Trainer(accelerator="cpu", devices=1, max_epochs=3, callbacks=[wp_cb, pause], logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(tmp_path))  # fmt: skip
    trainer.fit(Tiny(clock))
    ca, totals = _pauses(wp_cb.footprint)
    p = ca["pause"]
    assert ca["decision"] == "paused" and p["signal"] == "average" and len(p["pauses"]) == 1  # epochs 1 and 2 end clean
    (one,) = p["pauses"]
    assert one["boundary"] == "epoch 0" and one["ended_by"] == "intensity fell back"
    assert one["intensity_at_pause_g_per_kwh"] == DIRTY and one["intensity_at_resume_g_per_kwh"] == CLEAN
    assert one["duration_s"] == pytest.approx(3600.0)  # paused at t=2 s (two steps); six polls of 600 s, clean from t=3600 s
    assert totals[PAUSE_WINDOW]["count"] == 1 and totals[PAUSE_WINDOW]["duration_s"] == pytest.approx(one["duration_s"])
    assert os.path.isfile(os.path.join(str(tmp_path), one["checkpoint"]))
    assert trainer.global_step == 6 and wp_cb.footprint.status == "completed"


# -- Hugging Face --------------------------------------------------------------------------------


def test_transformers_pauses_at_a_step_after_its_checkpoint_and_resumes(tmp_path):
    pytest.importorskip("accelerate")
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainerCallback, TrainingArguments
    from wattprint.integrations.carbon_aware import TransformersCarbonAware
    from wattprint.integrations.transformers import WattprintCallback

    class AdvanceClock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            clock.advance(1.0)

    clock = ManualClock(utc=T0)
    sensor = wp.ReplaySensor([(0.0, 50.0)], component_id="gpu:0", kind="gpu")
    wp_cb = WattprintCallback(project="hf", output_dir=str(tmp_path / "runs"), sensors=[sensor], clock=clock, interval_s=math.inf, handle_signals=False)
    pause = TransformersCarbonAware(THRESHOLD, provider=_forecast(tmp_path, dirty_h=0.5, signal="marginal"), tracker=wp_cb,
                                    max_pause_s=3600, total_delay_s=3600, poll_s=300, clock=clock, sleep=clock.advance)  # fmt: skip
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=100, n_positions=8, bos_token_id=0, eos_token_id=0))
    g = torch.Generator().manual_seed(0)
    data = [{"input_ids": r, "labels": r.clone()} for r in torch.randint(0, 100, (8, 8), generator=g)]
    args = TrainingArguments(output_dir=str(tmp_path / "hf"), per_device_train_batch_size=4, num_train_epochs=2, report_to="none", use_cpu=True,
                             disable_tqdm=True, dataloader_num_workers=0, save_strategy="no", logging_steps=100)  # fmt: skip
    Trainer(model=model, args=args, train_dataset=data, callbacks=[AdvanceClock(), wp_cb, pause]).train()
    ca, totals = _pauses(wp_cb.footprint)
    p = ca["pause"]
    assert p["signal"] == "marginal" and len(p["pauses"]) == 1
    (one,) = p["pauses"]
    assert one["boundary"] == "step 1" and one["ended_by"] == "intensity fell back" and one["intensity_at_resume_g_per_kwh"] == CLEAN
    assert one["checkpoint"] == "checkpoint-1" and os.path.isdir(tmp_path / "hf" / "checkpoint-1")
    assert totals[PAUSE_WINDOW]["duration_s"] == pytest.approx(one["duration_s"]) and one["duration_s"] >= 1800 - 1
    assert wp_cb.footprint.get("work.steps") == 4


def test_the_example_runs_on_cpu(tmp_path, capsys):
    import runpy

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples", "carbon_aware.py")
    runpy.run_path(path, run_name="example")["main"](str(tmp_path))
    out = capsys.readouterr().out
    assert "expected saving (average)" in out and "realised saving (average)" in out and "observed" in out
