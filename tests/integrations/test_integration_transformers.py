"""The Hugging Face callback with a real Trainer and a tiny GPT-2 built from a config (CPU, no downloads)."""

from __future__ import annotations

import json
import math
import os

import pytest
import torch

pytest.importorskip("accelerate")

import wattprint as wp  # noqa: E402
from transformers import (  # noqa: E402
    GPT2Config,
    GPT2LMHeadModel,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from wattprint.integrations.transformers import WattprintCallback, attach  # noqa: E402
from wattprint.testing import ManualClock  # noqa: E402

WATTS = 50.0
SEQ = 8


class AdvanceClock(TrainerCallback):
    """Each optimizer step takes exactly one second of the manual clock."""

    def __init__(self, clock, fail_at_step=None):
        self.clock = clock
        self.fail_at_step = fail_at_step

    def on_step_begin(self, args, state, control, **kwargs):
        if self.fail_at_step is not None and state.global_step == self.fail_at_step:
            raise RuntimeError("loss is nan")
        self.clock.advance(1.0)


def _dataset(n=16):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 100, (n, SEQ), generator=g)
    return [{"input_ids": row, "labels": row.clone()} for row in ids]


def _trainer(tmp_path, callbacks, epochs=2, **overrides):
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=100, n_positions=SEQ, bos_token_id=0, eos_token_id=0))
    args = TrainingArguments(
        output_dir=str(tmp_path / "hf"),
        per_device_train_batch_size=4,
        num_train_epochs=epochs,
        use_cpu=True,
        disable_tqdm=True,
        include_num_input_tokens_seen=True,
        dataloader_num_workers=0,
        **{"logging_steps": 2, "save_strategy": "no", "report_to": "none", **overrides},
    )
    return Trainer(model=model, args=args, train_dataset=_dataset(), callbacks=callbacks)


def _wattprint(tmp_path, clock):
    sensor = wp.ReplaySensor([(0.0, WATTS)], component_id="gpu:0", kind="gpu")
    return WattprintCallback(
        project="hf", output_dir=str(tmp_path / "runs"), sensors=[sensor], clock=clock, interval_s=math.inf, handle_signals=False
    )


def test_trainer_run_leaves_a_footprint_with_the_steps_trained(tmp_path):
    clock = ManualClock()
    cb = _wattprint(tmp_path, clock)
    trainer = _trainer(tmp_path, [AdvanceClock(clock), cb])
    trainer.train()
    fp = cb.footprint
    assert fp is not None and fp.status == "completed"
    assert trainer.state.global_step == 8
    assert fp.get("work.steps") == trainer.state.global_step
    assert fp.get("work.tokens") == trainer.state.num_input_tokens_seen == 16 * SEQ * 2
    assert fp.get("work.samples") == 16 * 2  # per-device batch 4 x 8 steps (issue 19: it was 0)
    assert fp.get("work.flops") == pytest.approx(trainer.state.total_flos)
    assert fp.energy_j == pytest.approx(8 * WATTS)
    assert [w["name"] for w in fp["windows"]] == ["epoch 0", "epoch 1"]
    assert [w["energy_j"] for w in fp["windows"]] == pytest.approx([4 * WATTS, 4 * WATTS])
    assert fp["transformers"]["global_step"] == 8
    assert os.path.exists(os.path.join(str(tmp_path / "runs"), f"{fp.run_id}.json"))
    # energy and carbon were added to the logs (report_to="none")
    logged = [h for h in trainer.state.log_history if "wattprint.energy.it_kwh" in h]
    assert [h["step"] for h in logged if "loss" in h] == [2, 4, 6, 8]
    assert logged[0]["wattprint.energy.it_kwh"] == pytest.approx(2 * WATTS / 3.6e6)
    assert logged[-1]["wattprint.energy.it_kwh"] == pytest.approx(8 * WATTS / 3.6e6)
    assert logged[-1]["wattprint.carbon.total_kg"] == pytest.approx(fp.get("carbon.total_kg"))
    # the trainer's plan became the tracker's total, so live footprints carry a forecast
    assert cb.dt.tracker.total_steps == trainer.state.max_steps == 8


def test_attach_puts_the_callback_first_and_records_a_crash(tmp_path):
    clock = ManualClock()
    seen = []

    class Reporter(TrainerCallback):  # stands in for a report_to integration
        def on_log(self, args, state, control, logs=None, **kwargs):
            seen.append(dict(logs))

    trainer = _trainer(tmp_path, [Reporter(), AdvanceClock(clock, fail_at_step=5)])
    cb = attach(trainer, _wattprint(tmp_path, clock))
    assert trainer.callback_handler.callbacks[0] is cb
    with pytest.raises(RuntimeError, match="loss is nan"):
        trainer.train()
    fp = cb.footprint
    assert fp.status == "failed" and fp.get("work.steps") == 5
    assert json.load(open(os.path.join(str(tmp_path / "runs"), f"{fp.run_id}.json")))["status"] == "failed"
    assert seen and all("wattprint.energy.it_kwh" in logs for logs in seen)


def test_bad_settings_fail_when_the_callback_is_built():
    with pytest.raises(wp.ConfigError):
        WattprintCallback(interval_s=-1)


def test_resume_from_a_checkpoint_continues_the_totals(tmp_path):
    clock = ManualClock()
    cb1 = _wattprint(tmp_path, clock)
    t1 = _trainer(tmp_path, [AdvanceClock(clock), cb1], epochs=1, logging_steps=1, save_strategy="steps", save_steps=4)
    t1.train()
    assert cb1.footprint.energy_j == pytest.approx(4 * WATTS)
    ckpt = os.path.join(str(tmp_path / "hf"), "checkpoint-4")
    assert os.path.isdir(ckpt)

    cb2 = _wattprint(tmp_path, clock)
    t2 = _trainer(tmp_path, [AdvanceClock(clock), cb2], epochs=2, logging_steps=1)
    t2.train(resume_from_checkpoint=ckpt)
    fp = cb2.footprint
    assert t2.state.global_step == 8 and fp.get("work.steps") == 4
    assert fp.energy_j == pytest.approx(4 * WATTS)
    resume = fp["resume"]
    assert resume["resumed_at_step"] == 4 and resume["previous_logged_at_step"] == 4
    assert resume["previous_energy_j"] == pytest.approx(4 * WATTS)
    assert resume["cumulative_energy_j"] == pytest.approx(8 * WATTS)
    last = [h for h in t2.state.log_history if "loss" in h][-1]
    assert last["wattprint.energy.it_kwh"] == pytest.approx(8 * WATTS / 3.6e6)


class _Reporter(TrainerCallback):  # stands in for a report_to integration, registered before ours
    def __init__(self):
        self.seen = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.seen.append(dict(logs or {}))


def test_callbacks_list_delivers_the_energy_to_the_reporting_callbacks(tmp_path):
    """``callbacks=[WattprintCallback()]`` puts itself before the report_to callbacks (as attach() does)."""
    clock = ManualClock()
    reporter = _Reporter()
    cb = _wattprint(tmp_path, clock)
    trainer = _trainer(tmp_path, [reporter, AdvanceClock(clock), cb])
    assert trainer.callback_handler.callbacks[0] is cb
    trainer.train()
    logged = [logs for logs in reporter.seen if "loss" in logs]
    assert len(logged) == 4 and all("wattprint.energy.it_kwh" in logs for logs in logged)
    assert logged[-1]["wattprint.energy.it_kwh"] == pytest.approx(8 * WATTS / 3.6e6)


def test_tensorboard_receives_the_energy_read_back_with_tensorboards_reader(tmp_path, monkeypatch):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    clock = ManualClock()
    cb = _wattprint(tmp_path, clock)
    logdir = tmp_path / "tb"
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(logdir))  # transformers 5; older ones take logging_dir=
    trainer = _trainer(tmp_path, [AdvanceClock(clock), cb], report_to=["tensorboard"])
    trainer.train()
    event_dirs = {os.path.dirname(os.path.join(d, f)) for d, _, files in os.walk(logdir) for f in files if "tfevents" in f}
    assert event_dirs
    scalars = {}
    for d in event_dirs:
        acc = EventAccumulator(d)
        acc.Reload()
        for tag in acc.Tags().get("scalars", []):
            scalars[tag] = [(e.step, e.value) for e in acc.Scalars(tag)]
    energy = scalars["train/wattprint.energy.it_kwh"] if "train/wattprint.energy.it_kwh" in scalars else scalars["wattprint.energy.it_kwh"]
    assert sorted({s for s, _ in energy}) == [2, 4, 6, 8]  # every log step (the final summary line at 8 too)
    assert energy[-1][1] == pytest.approx(8 * WATTS / 3.6e6, rel=1e-5)


def test_mlflow_callback_and_exporter_share_one_run_and_one_name(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient
    from wattprint.exporters.mlflow import MlflowExporter

    from mlflow.tracking import fluent

    monkeypatch.setattr(fluent, "_active_experiment_id", None)  # HF's callback calls set_experiment: undone after the test
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)  # set_experiment exports it; removed again after the test
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "hf-energy")
    monkeypatch.setenv("HF_MLFLOW_LOG_ARTIFACTS", "0")
    clock = ManualClock()
    sensor = wp.ReplaySensor([(0.0, WATTS)], component_id="gpu:0", kind="gpu")
    exporter = MlflowExporter(retry_backoff_s=0.0, artifact=False)  # built before HF's callback starts its run
    cb = WattprintCallback(project="hf", output_dir=str(tmp_path / "runs"), sensors=[sensor], clock=clock, interval_s=math.inf,
                           handle_signals=False, exporters=[exporter])
    trainer = _trainer(tmp_path, [AdvanceClock(clock), cb], report_to=["mlflow"])
    try:
        trainer.train()
    finally:
        if mlflow.active_run() is not None:
            mlflow.end_run()
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("hf-energy")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1 and exporter.run_id == runs[0].info.run_id
    history = client.get_metric_history(runs[0].info.run_id, "wattprint.energy.it_kwh")
    assert [h.step for h in history][:4] == [2, 4, 6, 8]
    assert history[-1].value == pytest.approx(8 * WATTS / 3.6e6)
    assert "wattprint/energy_kwh" not in runs[0].data.metrics  # one name per figure
    assert float(runs[0].data.params["wattprint.factors.pue"]) == pytest.approx(cb.footprint.get("factors.pue.value"))


def test_the_card_survives_create_model_card_and_push_to_hubs_card_step(tmp_path, monkeypatch):
    """Offline: push_to_hub's upload is replaced by a copy into a local folder (the 'hub')."""
    import shutil

    import transformers.trainer as trainer_module
    from huggingface_hub import ModelCard

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    clock = ManualClock()
    sensor = wp.ReplaySensor([(0.0, WATTS)], component_id="gpu:0", kind="gpu")
    cb = WattprintCallback(project="hf", output_dir=str(tmp_path / "runs"), sensors=[sensor], clock=clock, interval_s=math.inf,
                           handle_signals=False, region="IE")
    trainer = _trainer(tmp_path, [AdvanceClock(clock), cb], epochs=1)
    trainer.train()
    card_path = os.path.join(trainer.args.output_dir, "README.md")
    trainer.create_model_card(model_name="tiny")
    card = ModelCard.load(card_path)
    assert card.data.co2_eq_emissions["emissions"] == pytest.approx(cb.footprint.get("carbon.operational_kg") * 1000.0, rel=1e-4)
    assert card.data.co2_eq_emissions["geographical_location"] == "Ireland (IE)"
    assert "<!-- wattprint:begin -->" in card.text

    hub = tmp_path / "hub"

    class LocalHub:
        def upload_folder(self, folder_path, **kwargs):
            shutil.copytree(folder_path, hub, dirs_exist_ok=True)
            return str(hub)

    monkeypatch.setattr(trainer_module, "hf_api", lambda: LocalHub())
    trainer.hub_model_id = "local/tiny"
    trainer.push_to_hub()
    pushed = ModelCard.load(hub / "README.md")
    assert pushed.data.co2_eq_emissions["emissions"] == pytest.approx(cb.footprint.get("carbon.operational_kg") * 1000.0, rel=1e-4)
    assert "<!-- wattprint:begin -->" in pushed.text


def test_a_checkpoint_logged_with_the_old_names_still_resumes():
    from types import SimpleNamespace

    from wattprint.integrations.transformers import _previous_totals

    state = SimpleNamespace(global_step=4, log_history=[{"step": 4, "loss": 1.0, "wattprint/energy_kwh": 2e-4, "wattprint/carbon_kg": 5e-5}])
    previous, resume = _previous_totals(state)
    assert previous.energy_j == pytest.approx(2e-4 * 3.6e6) and previous.carbon_kg == pytest.approx(5e-5)
    assert resume["previous_logged_at_step"] == 4
