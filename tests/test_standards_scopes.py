"""The footprint's reporting-standard figures: CUE, carbon by scope, the water's source, the task stage."""

from __future__ import annotations

import pytest
from standards_helpers import tracked_run
from wattprint.errors import ConfigError
from wattprint.footprint.accounting import account
from wattprint.footprint.factors import resolve_factors

COMPONENTS = [{"id": "gpu:0", "kind": "gpu", "name": "NVIDIA H100 80GB HBM3", "energy_j": 7.2e6, "uncertainty_rel": 0.05, "measured": True}]


def _account(**options):
    return account(components=COMPONENTS, duration_s=7200.0, work={}, factors=resolve_factors(env={}, region="IE", **options))


def test_cue_is_operational_carbon_over_it_energy(tmp_path):
    fp, _ = tracked_run(tmp_path)
    cue = fp.get("carbon.cue_kg_per_kwh")
    assert cue == pytest.approx(fp.get("carbon.operational_kg") / fp.get("energy.it_kwh"), rel=1e-12)
    assert cue == pytest.approx(fp.factor_value("pue") * fp.factor_value("carbon_intensity_g_per_kwh") / 1000.0)
    lo, hi = fp.get("bounds")["carbon.cue_kg_per_kwh"]
    assert lo < cue < hi


def test_scopes_without_market_inputs():
    doc = _account()
    carbon = doc["carbon"]
    assert "scope2_market_kg" not in carbon and "carbon.scope2_market_kg" not in doc["bounds"]
    assert carbon["scope2_location_kg"] == carbon["operational_kg"]
    assert carbon["scope3_embodied_kg"] == carbon["embodied_kg"] and carbon["embodied_kg"] > 0
    assert doc["bounds"]["carbon.scope3_embodied_kg"] == doc["bounds"]["carbon.embodied_kg"]
    assert "market_intensity_g_per_kwh" not in doc["factors"] and "renewable_share" not in doc["factors"]


@pytest.mark.parametrize(
    "options, expected",
    [
        ({"market_intensity_g_per_kwh": 30.0}, lambda fac_kwh, op: fac_kwh * 30.0 / 1000.0),
        ({"renewable_share": 0.75}, lambda fac_kwh, op: op * 0.25),
        ({"market_intensity_g_per_kwh": 30.0, "renewable_share": 0.5}, lambda fac_kwh, op: fac_kwh * 0.5 * 30.0 / 1000.0),
        ({"renewable_share": 1.0}, lambda fac_kwh, op: 0.0),
    ],
)
def test_market_based_scope2_only_when_given_and_location_never_changes(options, expected):
    plain, market = _account(), _account(**options)
    for key in ("operational_kg", "total_kg", "scope2_location_kg", "cue_kg_per_kwh"):
        assert market["carbon"][key] == plain["carbon"][key]  # never netted into the location-based figures
    for key in ("carbon.operational_kg", "carbon.total_kg", "carbon.scope2_location_kg"):
        assert market["bounds"][key] == plain["bounds"][key]
    want = expected(plain["energy"]["facility_kwh"], plain["carbon"]["operational_kg"])
    assert market["carbon"]["scope2_market_kg"] == pytest.approx(want)
    lo, hi = market["bounds"]["carbon.scope2_market_kg"]
    assert lo <= market["carbon"]["scope2_market_kg"] <= hi
    assert market["carbon"]["scope2_market_basis"]
    for key in options:
        assert market["factors"][key]["value"] == options[key]


def test_water_source_and_task_stage_default_and_given(tmp_path):
    doc = _account()
    assert doc["water"]["source"] == "unknown" and doc["task_stage"] is None
    doc = _account(water_source="Non-Potable", task_stage="fine-tuning")
    assert doc["water"]["source"] == "non-potable" and doc["task_stage"] == "fine-tuning"
    fp, _ = tracked_run(tmp_path, water_source="recycled")
    assert fp.get("water.source") == "recycled" and fp.get("task_stage") == "training"  # and the schema accepted it (conftest)


def test_environment_variables():
    env = {"WATTPRINT_WATER_SOURCE": "potable", "WATTPRINT_MARKET_INTENSITY_G_PER_KWH": "12", "WATTPRINT_RENEWABLE_SHARE": "0.2",
           "WATTPRINT_TASK_STAGE": "inference"}
    f = resolve_factors(env=env)
    assert (f.water_source, f.market_intensity_g_per_kwh, f.renewable_share, f.task_stage) == ("potable", 12.0, 0.2, "inference")


@pytest.mark.parametrize(
    "options, env, setting",
    [
        ({"water_source": "lake"}, {}, "water_source"),
        ({"task_stage": "pretraining"}, {}, "task_stage"),
        ({"renewable_share": 1.5}, {}, "renewable_share"),
        ({"renewable_share": -0.1}, {}, "renewable_share"),
        ({"market_intensity_g_per_kwh": -1}, {}, "market_intensity_g_per_kwh"),
        ({}, {"WATTPRINT_RENEWABLE_SHARE": "2"}, "WATTPRINT_RENEWABLE_SHARE"),
        ({}, {"WATTPRINT_WATER_SOURCE": "sea"}, "WATTPRINT_WATER_SOURCE"),
    ],
)
def test_bad_values_name_the_setting(options, env, setting):
    with pytest.raises(ConfigError) as info:
        resolve_factors(env=env, **options)
    assert info.value.setting == setting


def test_tracker_checks_them_at_construction():
    from wattprint import testing

    with pytest.raises(ConfigError, match="water_source"):
        testing.replay_tracker(accounting_options={"water_source": "lake"})


def test_run_flags_become_accounting_options(capsys):
    from wattprint.cli.app import _tracker_kwargs, build_parser, main

    args = build_parser().parse_args(["run", "--water-source", "recycled", "--market-intensity", "20", "--renewable-share", "0.5",
                                      "--task-stage", "training", "--", "true"])
    assert _tracker_kwargs(args)["accounting_options"] == {
        "water_source": "recycled", "market_intensity_g_per_kwh": 20.0, "renewable_share": 0.5, "task_stage": "training"}
    assert main(["run", "--renewable-share", "1.5", "--", "true"]) == 2
    assert "--renewable-share" in capsys.readouterr().err


def test_a_job_merged_from_rank_files_keeps_the_reporting_settings(tmp_path):
    from wattprint.footprint.merge import merge_footprints

    opts = {"market_intensity_g_per_kwh": 40.0, "renewable_share": 0.5, "water_source": "recycled", "task_stage": "fine-tuning"}
    ranks = [tracked_run(tmp_path / str(k), run_id=f"job-rank{k}", **opts)[0].to_dict() for k in range(2)]
    merged = merge_footprints(ranks, run_id="job")
    assert merged.get("task_stage") == "fine-tuning" and merged.get("water.source") == "recycled"
    assert merged.get("factors.market_intensity_g_per_kwh.value") == 40.0
    want = merged.get("energy.facility_kwh") * 0.5 * 40.0 / 1000.0
    assert merged.get("carbon.scope2_market_kg") == pytest.approx(want)


def test_the_report_table_shows_cue_market_scope_water_source_and_stage(tmp_path):
    from wattprint import report

    fp, _ = tracked_run(tmp_path, market_intensity_g_per_kwh=30.0, water_source="recycled")
    text = report.render([fp], "table")
    assert "CUE" in text and "scope 2 market-based" in text and "recycled" in text and "task stage" in text
    plain, _ = tracked_run(tmp_path / "plain", run_id="plain")
    assert "market-based" not in report.render([plain], "table")
