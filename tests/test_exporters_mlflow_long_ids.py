"""The MLflow artifact of a run with a long id is kept, under a shortened name (issue 17)."""

from __future__ import annotations

import json

import pytest

mlflow = pytest.importorskip("mlflow")

from test_exporters_mlflow import _run, tracking_uri  # noqa: F401  (the fixture)
from wattprint.exporters.mlflow import MlflowExporter, artifact_name


def test_a_long_run_id_keeps_its_artifact(tracking_uri, tmp_path):  # noqa: F811
    from mlflow.tracking import MlflowClient

    run_id = "sweep-" + "x" * 240  # 246 characters: a valid run id, too long for an artifact name
    exp = MlflowExporter(tracking_uri=tracking_uri, experiment="energy", retry_backoff_s=0.0)
    _run([exp], run_id=run_id)
    client = MlflowClient(tracking_uri)
    (art,) = client.list_artifacts(exp.run_id, "wattprint")
    assert art.path.endswith(".json") and len(art.path.split("/")[-1]) <= 125
    doc = json.load(open(client.download_artifacts(exp.run_id, art.path, str(tmp_path / "dl")), encoding="utf-8"))
    assert doc["run_id"] == run_id


def test_artifact_names_are_short_safe_and_distinct():
    a, b = artifact_name("r" * 300 + "a"), artifact_name("r" * 300 + "b")
    assert a != b and len(a) <= 125 and "/" not in artifact_name("../etc/passwd")
    assert artifact_name("ml-1") == "ml-1.json"
