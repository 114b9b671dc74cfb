"""Shared test setup: every test gets a clean WATTPRINT_* environment and its own output folder."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))  # so tests can `from fakes import ...`


@pytest.fixture(autouse=True)
def _isolated_wattprint_env(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith("WATTPRINT_"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("WATTPRINT_OUTPUT_DIR", str(tmp_path / "wattprint-runs"))
    yield


@pytest.fixture(autouse=True)
def _every_tracker_footprint_validates(monkeypatch):
    """Every footprint a Tracker builds in any test (live, checkpoint or final) must validate
    against the packaged JSON Schema ``wattprint.footprint/1``."""
    import jsonschema
    from wattprint import footprint_schema
    from wattprint.run.tracker import Tracker

    validator = _schema_validator(jsonschema, footprint_schema)
    original = Tracker._build

    def checked(self, now, status, final):
        fp = original(self, now, status, final)
        errors = sorted(validator.iter_errors(fp.to_dict()), key=lambda e: list(e.path))
        assert not errors, f"footprint does not validate: {[(list(e.path), e.message) for e in errors[:3]]}"
        return fp

    monkeypatch.setattr(Tracker, "_build", checked)
    yield


_VALIDATOR = None


def _schema_validator(jsonschema, footprint_schema):
    global _VALIDATOR
    if _VALIDATOR is None:
        schema = footprint_schema()
        _VALIDATOR = jsonschema.validators.validator_for(schema)(schema)
    return _VALIDATOR
