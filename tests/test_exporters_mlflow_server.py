"""MlflowExporter against a real ``mlflow server`` (sqlite store) on 127.0.0.1: the experiment set with
``set_experiment``, the user's active run, params and metrics with the figure table's names."""

from __future__ import annotations

import pytest

mlflow = pytest.importorskip("mlflow")
pytestmark = pytest.mark.slow  # starts a real mlflow server

from conftest_pushgateway import replay_tracker  # noqa: E402
from servers.mlflow_server import start_mlflow_server  # noqa: E402
from wattprint.exporters.mlflow import MlflowExporter  # noqa: E402


@pytest.fixture(scope="module")
def server_uri(tmp_path_factory):
    server = start_mlflow_server(str(tmp_path_factory.mktemp("mlflow-server")))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def uri(server_uri, monkeypatch):
    from mlflow.tracking import fluent

    monkeypatch.setattr(fluent, "_active_experiment_id", None)  # set_experiment below is undone after each test
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)  # set_experiment exports it; removed again after the test
    mlflow.set_tracking_uri(server_uri)
    yield server_uri
    mlflow.set_tracking_uri(None)


def _run(exp, run_id):
    t, clock = replay_tracker([exp], run_id=run_id, save=False, export_timeout_s=120.0)  # real time for the server's calls
    t.start()
    t.step(4, tokens=400)
    clock.advance(3.0)
    return t.stop()


def test_lands_in_the_experiment_set_and_in_the_users_active_run(uri):
    from mlflow.tracking import MlflowClient

    exp_id = mlflow.set_experiment("wattprint-server").experiment_id
    try:
        exporter = MlflowExporter(retry_backoff_s=0.0)  # built before the user's run starts
        with mlflow.start_run(run_name="user-run") as active:
            mlflow.log_param("lr", "0.001")
            fp = _run(exporter, "srv-1")
        client = MlflowClient(uri)
        runs = client.search_runs([exp_id])
        assert [r.info.run_id for r in runs] == [active.info.run_id]
        run = runs[0]
        assert run.data.metrics["wattprint.energy.it_kwh"] == pytest.approx(fp.get("energy.it_kwh"))
        assert run.data.metrics["wattprint.carbon.total_kg"] == pytest.approx(fp.get("carbon.total_kg"))
        assert run.data.params["lr"] == "0.001"
        assert float(run.data.params["wattprint.factors.pue"]) == pytest.approx(fp.get("factors.pue.value"))
        assert "wattprint.factors.pue" not in run.data.metrics
        assert run.data.tags["wattprint.run_id"] == "srv-1"
        assert [a.path for a in client.list_artifacts(active.info.run_id, "wattprint")] == ["wattprint/srv-1.json"]
    finally:
        mlflow.set_experiment("Default")


def test_a_new_run_in_the_active_experiment_when_no_run_is_active(uri):
    from mlflow.tracking import MlflowClient

    exp_id = mlflow.set_experiment("wattprint-server-new").experiment_id
    try:
        exporter = MlflowExporter(retry_backoff_s=0.0)
        _run(exporter, "srv-2")
        run = MlflowClient(uri).get_run(exporter.run_id)
        assert run.info.experiment_id == exp_id and run.info.run_name == "srv-2" and run.info.status == "FINISHED"
    finally:
        mlflow.set_experiment("Default")
