"""The issue's own names work as Tracker keywords (issue 14): water_source=, task_stage=,
market_intensity_g_per_kwh=, renewable_share= (besides accounting_options and WATTPRINT_*)."""

from __future__ import annotations

import pytest
import wattprint as wp
from wattprint.errors import ConfigError
from wattprint.testing import replay_tracker


def test_reporting_settings_as_tracker_keywords(tmp_path):
    t, clock = replay_tracker(300.0, output_dir=str(tmp_path), water_source="recycled", task_stage="fine-tuning", renewable_share=0.5)
    t.start()
    clock.advance(3600.0)
    doc = t.stop().to_dict()
    assert doc["water"]["source"] == "recycled" and doc["task_stage"] == "fine-tuning"
    assert doc["carbon"]["scope2_market_kg"] == pytest.approx(doc["carbon"]["scope2_location_kg"] * 0.5)


@pytest.mark.parametrize("kw, value", [("water_source", "lake"), ("task_stage", "pretraining"), ("renewable_share", 1.5),
                                       ("market_intensity_g_per_kwh", -1.0)])  # fmt: skip
def test_bad_reporting_settings_fail_at_construction_naming_them(tmp_path, kw, value):
    with pytest.raises(ConfigError, match=kw):
        wp.Tracker(output_dir=str(tmp_path), **{kw: value})
