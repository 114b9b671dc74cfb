"""Shared test setup: every test gets a clean WATTPRINT_* environment and its own output folder."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# Property tests draw the same examples on every run (derived from each test), and a loaded machine's slow data
# generation is not a failure: one CI run, one result. `--hypothesis-profile=explore` draws fresh random examples.
settings.register_profile("deterministic", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("deterministic")


# the launcher variables a plain Tracker reads its job from (wattprint.run.job.context)
_LAUNCHER_PREFIXES = ("SLURM_", "OMPI_COMM_WORLD_", "PMIX_", "PMI_", "TORCHELASTIC_")
_LAUNCHER_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "GROUP_WORLD_SIZE", "SLURMD_NODENAME")


@pytest.fixture(autouse=True)
def _isolated_wattprint_env(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith("WATTPRINT_") or key.startswith(_LAUNCHER_PREFIXES) or key in _LAUNCHER_VARS:
            monkeypatch.delenv(key, raising=False)  # a suite run inside sbatch/torchrun behaves as anywhere else
    monkeypatch.setenv("WATTPRINT_OUTPUT_DIR", str(tmp_path / "wattprint-runs"))
    monkeypatch.setenv("WATTPRINT_PROMETHEUS_LINGER_S", "0")  # tests that need the linger pass linger_s
    if "MLFLOW_TRACKING_URI" not in os.environ:  # MLflow 3's default store is ./mlflow.db: never in the checkout
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow-default.db'}")
    # mlflow.set_experiment exports MLFLOW_EXPERIMENT_ID; a delenv of an absent variable records nothing to undo, so
    # it leaked into every later test (seen: ~900 tests after the MLflow server test). setenv first records it.
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "")
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID")
    yield


@pytest.fixture(autouse=True)
def _every_tracker_footprint_validates():
    """Every footprint the library builds in any test (the Tracker's live, checkpoint and final
    footprints, the job merge) must validate against the packaged JSON Schema
    ``wattprint.footprint/1``. Hooked on the public constructor via ``wattprint.testing``."""
    import jsonschema
    from wattprint import footprint_schema
    from wattprint.testing import checking_footprints

    validator = _schema_validator(jsonschema, footprint_schema)

    def check(fp):
        errors = sorted(validator.iter_errors(fp.to_dict()), key=lambda e: list(e.path))
        assert not errors, f"footprint does not validate: {[(list(e.path), e.message) for e in errors[:3]]}"

    with checking_footprints(check):
        yield


_VALIDATOR = None


def _schema_validator(jsonschema, footprint_schema):
    global _VALIDATOR
    if _VALIDATOR is None:
        schema = footprint_schema()
        _VALIDATOR = jsonschema.validators.validator_for(schema)(schema)
    return _VALIDATOR
