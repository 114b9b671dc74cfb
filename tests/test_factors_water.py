"""On-site WUE by place (issue 15): the source report's Table 4 from region codes alone, the climate model elsewhere,
`wattprint regions` showing each WUE with its origin, grid basis rows."""

from __future__ import annotations

import json

import pytest
from wattprint.cli.app import main
from wattprint.footprint.climate import climate_wue, tower_wue_l_per_kwh, wet_bulb_c
from wattprint.footprint.factors import list_regions, resolve_factors
from wattprint.footprint.planning import estimate

# Source report (Bijlage D), Table 4: GPT-3 training water, million L, with the PUE of each row (Li et al. 2023 v5 Table 1)
TABLE4_BY_REGION = {"US": (5.44, 1.17), "US-AZ": (9.63, 1.18), "US-VA": (3.68, 1.14), "US-IA": (4.81, 1.16), "IE": (2.29, 1.19)}


@pytest.mark.parametrize("region", sorted(TABLE4_BY_REGION))
def test_table4_from_region_codes_within_1_5_percent(region):
    million_l, pue = TABLE4_BY_REGION[region]
    doc = estimate(energy_kwh=1_287_000, region=region, pue=pue, env={})
    assert doc["water"]["total_l"] / 1e6 == pytest.approx(million_l, rel=0.015)
    assert doc["factors"]["wue_l_per_kwh"]["origin"].startswith("region:li2023:")


def test_arizona_uses_over_four_times_irelands_water():
    az = estimate(energy_kwh=1_287_000, region="US-AZ", pue=1.18, env={})["water"]["total_l"]
    ie = estimate(energy_kwh=1_287_000, region="IE", pue=1.19, env={})["water"]["total_l"]
    assert az / ie > 4.0


def test_what_if_water_differs_on_site_not_only_off_site():
    az, ie = resolve_factors(region="US-AZ", env={}), resolve_factors(region="IE", env={})
    assert az.wue.value == 1.63 and ie.wue.value == 0.02


def test_wet_bulb_and_tower_model():
    assert wet_bulb_c(20.0, 50.0) == pytest.approx(13.7, abs=0.1)  # Stull 2011's worked example: 13.7 degC
    assert tower_wue_l_per_kwh(-10.0) == 0.05  # cold: only the humidity-control floor
    assert tower_wue_l_per_kwh(25.0) > tower_wue_l_per_kwh(10.0) > tower_wue_l_per_kwh(0.0)


def test_climate_model_calibrates_to_lbnl_and_ranks_climates():
    assert climate_wue("US").value == pytest.approx(1.8)  # the calibration anchor (LBNL 2016 US average)
    sg, fi = climate_wue("SG"), climate_wue("FI")
    assert sg.value > 2 * fi.value  # hot and humid Singapore vs cool Finland
    assert sg.low == 0.0 and sg.high > sg.value  # wide bounds
    assert climate_wue("XX") is None


def test_every_us_state_and_bundled_country_gets_a_place_specific_wue():
    rows = {r["code"]: r["factors"]["wue_l_per_kwh"] for r in list_regions(None)}
    states = [c for c in rows if c.startswith("US-")]
    assert len(states) == 51
    assert all(rows[c]["origin"] != "default" for c in states)
    countries = [r["code"] for r in list_regions(None) if r["kind"] == "country"]
    assert len(countries) > 200 and all(rows[c]["origin"] != "default" for c in countries)
    for code in ("US-CA", "SG", "DE", "JP", "aws:us-east-1"):
        assert rows[code]["origin"] != "default", code
    ca = resolve_factors(region="US-CA", env={}).wue
    assert ca.origin == "climate-model:US-CA" and "estimated from climate" in (ca.note or "")
    assert resolve_factors(env={}).wue.value == 1.8  # world keeps the documented global default


def test_regions_cli_shows_wue_with_origin(capsys):
    assert main(["regions", "US-AZ"]) == 0
    az = capsys.readouterr().out
    assert main(["regions", "IE"]) == 0
    ie = capsys.readouterr().out
    az_line = next(line for line in az.splitlines() if "wue_l_per_kwh" in line)
    ie_line = next(line for line in ie.splitlines() if "wue_l_per_kwh" in line)
    assert "1.63 L/kWh" in az_line and "region:li2023:arizona" in az_line
    assert "0.02 L/kWh" in ie_line and "region:li2023:ireland" in ie_line
    assert main(["regions", "US-CA", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["factors"]["wue_l_per_kwh"]["origin"] == "climate-model:US-CA"


def test_grid_rows_carry_basis_and_year():
    for r in list_regions(None):
        ci = r["factors"]["carbon_intensity_g_per_kwh"]
        assert ci["basis"] in ("lifecycle", "direct", "as published") and ci["year"], r["code"]
    va = resolve_factors(region="US-VA", grid_basis="lifecycle", env={}).carbon_intensity
    assert va.basis == "lifecycle" and va.value == pytest.approx(244.76 + 62.0) and "converted" in (va.note or "")
    given = resolve_factors(region="US-VA", intensity_g_per_kwh=100, grid_basis="lifecycle", env={}).carbon_intensity
    assert given.value == 100  # a user's figure is never converted
    env = resolve_factors(region="IE", env={"WATTPRINT_GRID_BASIS": "direct"})
    assert env.grid_basis == "direct" and env.carbon_intensity.value == pytest.approx(257 - 57)


def test_a_tracked_run_records_the_basis_and_reports_withdrawal():
    import jsonschema
    from wattprint.footprint.schema import footprint_schema
    from wattprint.testing import replay_tracker

    opts = {"grid_basis": "lifecycle", "withdrawal": True, "pue_on_wue": True}
    tracker, clock = replay_tracker(100.0, region="US-VA", pue=1.2, accounting_options=opts)
    tracker.start()
    clock.advance(36.0)
    doc = tracker.stop().to_dict()
    it_kwh = doc["energy"]["it_kwh"]
    assert doc["factors"]["grid_basis"] == "lifecycle" and doc["factors"]["carbon_intensity_g_per_kwh"]["basis"] == "lifecycle"
    assert doc["water"]["onsite_l"] == pytest.approx(it_kwh * 0.14 * 1.2)  # Virginia's WUE, times PUE as asked
    assert doc["water"]["withdrawal_offsite_l"] == pytest.approx(it_kwh * 1.2 * 43.8)
    jsonschema.validate(doc, footprint_schema())


def test_grid_year_prices_an_older_run_with_its_year(capsys):
    va = resolve_factors(region="US-VA", grid_year=2016, env={}).carbon_intensity
    assert (va.value, va.year, va.basis) == (369.13, 2016, "direct")  # eGRID2016, as CodeCarbon packages it
    ca = resolve_factors(region="US-CA", grid_year=2016, env={}).carbon_intensity
    assert ca.year == 2023 and "no 2016 grid figure" in (ca.note or "")  # not in the data: the current row, said so
    assert resolve_factors(region="IE", env={"WATTPRINT_GRID_YEAR": "2023"}).carbon_intensity.value == 290.8
    doc = estimate(energy_kwh=1000, region="US-VA", grid_year=2016, env={})
    assert doc["carbon"]["operational_kg"] == pytest.approx(doc["energy"]["facility_kwh"] * 369.13 / 1000)
    assert main(["estimate", "--energy-kwh", "1000", "--region", "US-AZ", "--grid-year", "2016", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["factors"]["carbon_intensity_g_per_kwh"]["year"] == 2016
    from wattprint.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        resolve_factors(grid_year=1800, env={})
    assert err.value.setting == "grid_year"
