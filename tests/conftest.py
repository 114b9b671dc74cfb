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
