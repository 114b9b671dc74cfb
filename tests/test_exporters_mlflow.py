"""MlflowExporter against a real MLflow client and a local file store (no server, no network)."""

from __future__ import annotations

import json
import threading

import pytest

mlflow = pytest.importorskip("mlflow")

from conftest_pushgateway import dead_port, replay_tracker
from wattprint.exporters.mlflow import MlflowExporter, footprint_metrics, metric_keys


@pytest.fixture
def tracking_uri(tmp_path, monkeypatch):
    from mlflow.tracking import fluent

    monkeypatch.setattr(fluent, "_active_experiment_id", None)  # no experiment left set by another test
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)  # set_experiment exports it; removed again after the test
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # mlflow >= 3 keeps the file store behind this flag
    uri = (tmp_path / "mlruns").as_uri()
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(None)


def _run(exporters, **kwargs):
    kwargs.setdefault("save", False)
    kwargs.setdefault("export_timeout_s", 120.0)  # real time for MLflow's store (the 10 s default is a bet on a loaded machine)
    t, clock = replay_tracker(exporters, **kwargs)
    t.start()
    t.step(10, tokens=1000)
    clock.advance(2.0)
    t.sample_now()
    clock.advance(2.0)
    return t, t.stop()


def test_new_run_gets_metrics_tags_and_the_json_artifact(tracking_uri, tmp_path):
    from mlflow.tracking import MlflowClient

    exp = MlflowExporter(tracking_uri=tracking_uri, experiment="energy", retry_backoff_s=0.0)
    _, fp = _run([exp], run_id="ml-1")
    client = MlflowClient(tracking_uri)
    run = client.get_run(exp.run_id)
    assert run.info.run_name == "ml-1" and run.info.status == "FINISHED"
    m = run.data.metrics
    assert m["wattprint.energy.it_j"] == pytest.approx(500.0)
    assert m["wattprint.carbon.total_kg"] == pytest.approx(fp.get("carbon.total_kg"))
    assert m["wattprint.water.offsite_l"] == pytest.approx(fp.get("water.offsite_l"))
    assert m["wattprint.component.gpu:0.energy_j"] == pytest.approx(400.0)
    assert m["wattprint.work.tokens"] == 1000
    # settings are params, not metrics
    assert "wattprint.factors.pue" not in m
    assert float(run.data.params["wattprint.factors.pue"]) == pytest.approx(fp.get("factors.pue.value"))
    assert float(run.data.params["wattprint.factors.carbon_intensity_g_per_kwh"]) == pytest.approx(fp.get("factors.carbon_intensity_g_per_kwh.value"))
    assert run.data.tags["wattprint.run_id"] == "ml-1" and run.data.tags["wattprint.status"] == "completed"
    (art,) = client.list_artifacts(exp.run_id, "wattprint")
    local = client.download_artifacts(exp.run_id, art.path, str(tmp_path / "dl"))
    with open(local, encoding="utf-8") as fh:
        doc = json.load(fh)
    assert doc["run_id"] == "ml-1" and doc["timeline"]["energy_j"]["gpu:0"][-1] == pytest.approx(400.0)


def test_logs_into_the_active_run_and_live_history(tracking_uri):
    from mlflow.tracking import MlflowClient

    with mlflow.start_run() as active:
        exp = MlflowExporter(live=True)  # the active run is captured here, on the training thread
        logged = threading.Event()
        log = exp.on_sample

        def on_sample(fp):
            log(fp)
            logged.set()

        exp.on_sample = on_sample
        t, clock = replay_tracker([exp], save=False, export_timeout_s=120.0)
        t.start()
        t.step(5)
        clock.advance(2.0)
        t.sample_now()
        assert logged.wait(30)
        t.step(5)
        clock.advance(2.0)
        t.stop()
        assert exp.run_id == active.info.run_id
    client = MlflowClient(tracking_uri)
    history = client.get_metric_history(active.info.run_id, "wattprint.energy.it_kwh")
    assert [(h.step, h.value) for h in history] == [(5, pytest.approx(250.0 / 3.6e6)), (10, pytest.approx(500.0 / 3.6e6))]
    assert client.get_run(active.info.run_id).info.status == "FINISHED"  # ended by its owner, not by us


def test_footprint_metrics_leave_out_nulls():
    from wattprint import Footprint

    fp = Footprint({"energy": {"it_j": 1.0, "it_kwh": None}, "work": {"mfu": None, "steps": 3}, "components": []})
    assert footprint_metrics(fp) == {"wattprint.energy.it_j": 1.0, "wattprint.work.steps": 3.0}


def test_unreachable_tracking_server_is_retried_then_isolated(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # mlflow's own retries, on top of ours
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    exp = MlflowExporter(tracking_uri=f"http://127.0.0.1:{dead_port()}", attempts=2, retry_backoff_s=0.0)
    t, fp = _run([exp], run_id="ml-dead", save=True, output_dir=str(tmp_path), export_timeout_s=60)
    assert fp.status == "completed"
    assert json.loads((tmp_path / "ml-dead.json").read_text())["run_id"] == "ml-dead"
    assert exp.run_id is None
    (rec,) = [r for r in caplog.records if "MlflowExporter failed in export" in r.getMessage()]
    assert "failed 2 times" in str(rec.exc_info[1])  # logged once, with the traceback


def test_set_experiment_is_honoured_for_a_new_run(tracking_uri):
    from mlflow.tracking import MlflowClient

    exp_id = mlflow.set_experiment("wattprint-set-experiment").experiment_id
    try:
        exp = MlflowExporter(retry_backoff_s=0.0)
        _run([exp], run_id="ml-exp")
        assert MlflowClient(tracking_uri).get_run(exp.run_id).info.experiment_id == exp_id
    finally:
        mlflow.set_experiment("Default")


def test_an_exporter_built_before_start_run_joins_the_run_active_when_the_figures_are_logged(tracking_uri):
    from mlflow.tracking import MlflowClient

    exp = MlflowExporter(retry_backoff_s=0.0)  # no run active yet
    t, clock = replay_tracker([exp], save=False, export_timeout_s=120.0)
    t.start()
    with mlflow.start_run() as active:  # e.g. HF's MLflow callback starting its run at on_train_begin
        t.step(3)
        clock.advance(2.0)
        t.stop()  # the export runs on the exporter's own thread, while the user's run is active
    assert exp.run_id == active.info.run_id
    runs = MlflowClient(tracking_uri).search_runs([active.info.experiment_id])
    assert [r.info.run_id for r in runs] == [active.info.run_id]  # no second run
    assert runs[0].data.metrics["wattprint.energy.it_j"] == pytest.approx(250.0)  # 2 s at 100 W GPU + 25 W CPU


def test_metric_names_are_the_figure_log_names():
    from wattprint.footprint.model import FIGURES

    names = {"wattprint." + k for k in metric_keys()}
    assert names == {f.log_name for f in FIGURES if f.metric}
    assert "wattprint.energy.it_kwh" in names and "wattprint.carbon.total_kg" in names
