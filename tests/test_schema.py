"""The packaged JSON Schema of wattprint.footprint/1: strict on the core keys, open to extra ones."""

from __future__ import annotations

import copy
import json
import math
from importlib import resources

import jsonschema
import pytest
import wattprint as wp
from wattprint.footprint.accounting import footprint_schema
from wattprint.testing import ManualClock, StepEvent

SCHEMA = footprint_schema()


def _footprint(**kw) -> dict:
    clock = ManualClock()
    sensors = [
        wp.ReplaySensor(trace=[(0.0, 250.0), (1e6, 250.0)], component_id="gpu:0", kind="gpu", name="NVIDIA A100-SXM4-80GB"),
        wp.ReplaySensor(trace=[(0.0, 80.0), (1e6, 80.0)], component_id="cpu:package-0", kind="cpu", name="AMD EPYC 7763 64-Core Processor",
                        mode="power"),
    ]
    t = wp.Tracker(sensors=sensors, interval_s=math.inf, clock=clock, save=False, handle_signals=False, env={}, **kw)
    t.start()
    with t.window("train"):
        clock.advance(30)
        t.step(5, samples=40, tokens=4096, flops=1e15)
    t.annotate("experiment", {"lr": 1e-3})
    return t.stop().to_dict()


def test_schema_is_packaged_and_valid():
    text = resources.files("wattprint.footprint").joinpath("schemas", "footprint.schema.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["title"] == "wattprint.footprint/1"


@pytest.mark.parametrize("kw", [{}, {"region": "US-VA"}, {"region": "gcp:us-central1", "pue": 1.1}, {"accounting_options": {"embodied": False}}])
def test_tracker_footprints_validate(kw):
    doc = _footprint(**kw)
    jsonschema.validate(doc, SCHEMA)
    assert doc["carbon"]["embodied_kg"] is None or doc["carbon"]["embodied_kg"] > 0


def test_sampled_and_failed_runs_validate(tmp_path):
    clock = ManualClock()
    sensor = wp.ReplaySensor(trace=[(0.0, 100.0), (1e6, 100.0)], component_id="gpu:0", kind="gpu", name="NVIDIA H200")
    t = wp.Tracker(sensors=[sensor], interval_s=1.0, clock=clock, event=StepEvent(clock, ticks=5), output_dir=str(tmp_path),
                   handle_signals=False, env={})
    with pytest.raises(RuntimeError):
        with t:
            t.step(1)
            raise RuntimeError("boom")
    doc = json.loads((tmp_path / f"{t.run_id}.json").read_text())
    assert doc["status"] == "failed"
    jsonschema.validate(doc, SCHEMA)  # the file on disk too (it carries the timeline as an extra key)


def test_extra_keys_are_allowed_but_core_keys_are_checked():
    doc = _footprint()
    doc["my_section"] = {"anything": [1, 2]}
    doc["energy"]["extra_j"] = 1.0
    jsonschema.validate(doc, SCHEMA)
    for mutate in (
        lambda d: d.pop("carbon"),
        lambda d: d["energy"].pop("facility_kwh"),
        lambda d: d.update(status="done"),
        lambda d: d.update(schema="wattprint.footprint/2"),
        lambda d: d["factors"]["pue"].update(value=0.8),
        lambda d: d["factors"]["carbon_intensity_g_per_kwh"].pop("source"),
        lambda d: d["components"][0].update(measured="yes"),
        lambda d: d["water"].update(total_l=-1.0),
        lambda d: d["bounds"].update({"carbon.total_kg": [1.0]}),
        lambda d: d.update(started_at="yesterday"),
        lambda d: d["work"].pop("mfu"),
    ):
        bad = copy.deepcopy(doc)
        mutate(bad)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, SCHEMA)


def test_the_schema_has_one_home():
    from wattprint.footprint import accounting, schema

    assert accounting.footprint_schema is schema.footprint_schema is wp_footprint_schema()
    assert schema.footprint_schema() == schema.footprint_schema() and schema.footprint_schema() is not schema.footprint_schema()


def wp_footprint_schema():
    import wattprint

    return wattprint.footprint_schema
