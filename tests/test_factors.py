"""Factor resolution: precedence, region codes, tables with sources, clear errors."""

from __future__ import annotations

import pytest
from wattprint.errors import ConfigError
from wattprint.footprint.factors import (
    list_regions,
    normalize_region,
    pue_table,
    resolve_factors,
    resolve_region,
)
from wattprint.footprint.hardware import (
    accelerator_table,
    lookup_accelerator,
    lookup_cpu,
)
from wattprint.footprint.tables import read_data_csv


def test_world_defaults_are_documented_and_sourced():
    f = resolve_factors(env={})
    assert f.region == "world"
    assert f.carbon_intensity.value == 458 and f.carbon_intensity.year == 2025 and "Ember" in f.carbon_intensity.source
    assert f.pue.value == 1.56 and "Uptime" in f.pue.source and f.pue.range == (1.0, 2.0)
    assert f.wue.value == 1.8 and "LBNL" in f.wue.source
    assert f.ewif.value == pytest.approx(3.908) and "WRI" in f.ewif.source
    for factor in (f.pue, f.carbon_intensity, f.wue, f.ewif):
        d = factor.to_dict()
        assert {"value", "unit", "source", "year", "low", "high", "origin"} <= set(d)
        assert d["low"] <= d["value"] <= d["high"]


def test_precedence_argument_then_env_then_region_then_default():
    env = {"WATTPRINT_PUE": "1.3", "WATTPRINT_REGION": "IE", "WATTPRINT_INTENSITY_G_PER_KWH": "100"}
    f = resolve_factors(env=env)
    assert f.region == "IE"
    assert f.pue.value == 1.3 and f.pue.origin == "env:WATTPRINT_PUE"
    assert f.carbon_intensity.value == 100 and f.carbon_intensity.origin.startswith("env:")
    assert f.ewif.origin == "region:IE"  # region default
    assert f.wue.origin == "region:li2023:ireland"  # Ireland's published on-site WUE (Li et al. 2023), no longer the global default
    f = resolve_factors(region="SG", pue=1.1, intensity_g_per_kwh=50, env=env)
    assert f.region == "SG" and f.pue.value == 1.1 and f.pue.origin == "argument"
    assert f.pue.range == (1.1, 1.1)  # user-given values are exact
    assert f.carbon_intensity.value == 50


@pytest.mark.parametrize(
    "code, canonical",
    [("ie", "IE"), ("us-va", "US-VA"), ("AWS:US-EAST-1", "aws:us-east-1"), ("gcp:US-Central1", "gcp:us-central1"),
     ("azure:EastUS", "azure:eastus"), ("WORLD", "world"), ("egrid:srvc", "egrid:SRVC"), ("Li2023:Arizona", "li2023:arizona")],
)
def test_region_codes_normalise(code, canonical):
    assert normalize_region(code) == canonical
    assert resolve_region(code).code == canonical


def test_region_values_come_from_the_right_tables():
    va = resolve_factors(region="US-VA", env={})
    assert va.carbon_intensity.value == pytest.approx(539.599 * 0.45359237, abs=0.01)  # eGRID2023 state rate
    assert "eGRID2023" in va.carbon_intensity.source and va.carbon_intensity.licence.startswith("public domain")
    assert va.ewif.value == 2.385  # Li et al. 2023, Virginia
    aws = resolve_factors(region="aws:us-east-1", env={})
    assert aws.carbon_intensity.value == va.carbon_intensity.value  # located in Virginia
    assert aws.pue.value == 1.15 and "AWS" in aws.pue.source
    gcp = resolve_factors(region="gcp:us-central1", env={})
    assert gcp.carbon_intensity.value == 412.72 and "region-carbon-info" in gcp.carbon_intensity.source
    assert gcp.pue.value == 1.09 and gcp.wue.value == 1.15
    az = resolve_factors(region="azure:westeurope", env={})
    assert az.pue.value == 1.16 and az.ewif.value == 3.433
    li = resolve_factors(region="li2023:arizona", env={})
    assert (li.pue.value, li.wue.value, li.ewif.value) == (1.18, 1.63, 4.959)
    oh = resolve_factors(region="US-OH", env={})  # a state without a water row falls back to the US figure
    assert oh.ewif.value == 3.142 and "US" in oh.ewif.note


def test_report_table3_rows_are_named_regions():
    values = {code: resolve_factors(region=code, env={}).carbon_intensity.value for code in
              ("report:virginia", "report:ireland-demand", "report:ireland-generation", "report:singapore", "report:world")}
    assert values == {"report:virginia": 269, "report:ireland-demand": 234, "report:ireland-generation": 291,
                      "report:singapore": 412, "report:world": 445}
    # the report: "Singapore ... more than 50% more carbon than the same workload in Virginia"
    assert values["report:singapore"] / values["report:virginia"] > 1.5


def test_report_table2_pue_sites_and_providers():
    table = pue_table()
    expected = {"google:fleet": 1.09, "google:lancaster-oh": 1.04, "google:hamina-fi": 1.10, "google:dublin-ie": 1.08,
                "google:douglas-county-ga": 1.09, "google:storey-county-nv": 1.17, "google:singapore-2": 1.15}
    for key, ttm in expected.items():
        assert float(table[key]["pue"]) == ttm
    for key in ("provider:google", "provider:aws", "provider:azure", "provider:meta", "default"):
        assert table[key]["source"] and table[key]["licence"]
    f = resolve_factors(pue="google:dublin-ie", env={})
    assert f.pue.value == 1.08 and "Table 2" in f.pue.source
    f = resolve_factors(env={"WATTPRINT_PUE": "provider:meta"})
    assert f.pue.value == 1.08 and f.pue.origin == "env:WATTPRINT_PUE"


@pytest.mark.parametrize(
    "kwargs, setting",
    [({"pue": 0.9}, "pue"), ({"pue": "fast"}, "pue"), ({"pue": float("nan")}, "pue"), ({"wue_l_per_kwh": -1}, "wue_l_per_kwh"),
     ({"intensity_g_per_kwh": "x"}, "intensity_g_per_kwh"), ({"ewif_l_per_kwh": float("inf")}, "ewif_l_per_kwh"),
     ({"region": "XX-NOPE"}, "region"), ({"lifetime_years": 0}, "lifetime_years"), ({"bogus": 1}, "accounting_options"),
     ({"embodied": "maybe"}, "embodied"), ({"model_params": -1}, "model_params")],
)
def test_bad_settings_name_the_setting(kwargs, setting):
    with pytest.raises(ConfigError) as err:
        resolve_factors(env={}, **kwargs)
    assert err.value.setting == setting


def test_the_live_grid_is_the_run_layer_s_job():
    """resolve_factors is the pure resolver: grid options build nothing; the run layer builds the LiveGrid."""
    from wattprint.run.grid_live import LiveGrid, resolve_run_factors

    pure = resolve_factors(grid="ukci", env={})
    assert pure.live is None and pure.region == "GB"
    run = resolve_run_factors(grid="ukci", grid_stop_wait_s=0.25, env={})
    assert isinstance(run.live, LiveGrid) and run.stop_wait_s == 0.25 and run.to_dict() == pure.to_dict()
    with pytest.raises(ConfigError) as err:
        resolve_run_factors(grid="carbonfairy", env={})
    assert err.value.setting == "grid"
    with pytest.raises(ConfigError) as err:
        resolve_run_factors(grid="ukci", intensity_g_per_kwh=100, env={})
    assert err.value.setting == "grid"
    with pytest.raises(ConfigError) as err:
        resolve_run_factors(env={"WATTPRINT_GRID": "ukci", "WATTPRINT_GRID_STOP_WAIT_S": "-1"})
    assert err.value.setting == "WATTPRINT_GRID_STOP_WAIT_S"


def test_embodied_and_lifetime_from_the_environment():
    f = resolve_factors(env={"WATTPRINT_EMBODIED": "off", "WATTPRINT_LIFETIME_YEARS": "5"})
    assert f.embodied is False and f.lifetime_years == 5.0
    with pytest.raises(ConfigError) as err:
        resolve_factors(env={"WATTPRINT_LIFETIME_YEARS": "0"})
    assert err.value.setting == "WATTPRINT_LIFETIME_YEARS"


def test_bad_env_names_the_variable():
    with pytest.raises(ConfigError) as err:
        resolve_factors(env={"WATTPRINT_PUE": "0.5"})
    assert err.value.setting == "WATTPRINT_PUE" and ">= 1" in str(err.value)
    with pytest.raises(ConfigError) as err:
        resolve_factors(env={"WATTPRINT_REGION": "aws:us-east1"})
    assert err.value.setting == "WATTPRINT_REGION"


def test_unknown_region_suggests_close_matches():
    with pytest.raises(ConfigError) as err:
        resolve_region("aws:us-east1")
    assert "aws:us-east-1" in str(err.value)
    with pytest.raises(ConfigError) as err:
        resolve_region("Irland")
    assert "IE" in str(err.value)
    with pytest.raises(ConfigError) as err:
        resolve_region("gcp:europe-west44")
    assert "gcp:europe-west4" in str(err.value)


def test_every_bundled_row_has_a_source_and_a_licence():
    for name in ("grid_intensity.csv", "cloud_regions.csv", "pue.csv", "water.csv", "locations_li2023.csv", "accelerators.csv", "cpus.csv"):
        rows = read_data_csv(name)
        assert rows, name
        for row in rows:
            assert row["source"].strip(), (name, row)
            assert row["licence"].strip(), (name, row)
            assert "ODbL" not in row["licence"] and "IEA" not in row["licence"], (name, row)


def test_region_list_covers_the_required_codes():
    codes = {r["code"] for r in list_regions()}
    for code in ("world", "IE", "SG", "US-VA", "US-AZ", "aws:us-east-1", "gcp:us-central1", "azure:eastus", "egrid:SRVC"):
        assert code in codes
    assert sum(1 for c in codes if len(c) == 2) > 150  # countries
    assert sum(1 for c in codes if c.startswith("US-")) >= 50  # states + DC


def test_hardware_tables_cover_the_required_accelerators():
    models = {s.model for s in accelerator_table()}
    for m in ("V100", "A100", "H100", "H200", "B200", "L4", "L40S", "MI300X"):
        spec = lookup_accelerator(m)
        assert spec is not None and spec.model in models, m
        assert spec.tdp_w > 0 and spec.peak_bf16_flops > 1e13 and spec.embodied_kgco2e > 0 and spec.lifetime_years > 0
    assert lookup_accelerator("NVIDIA H100 80GB HBM3").model == "H100 SXM5"
    assert lookup_accelerator("NVIDIA A100-PCIE-40GB").model == "A100 PCIe"
    assert lookup_accelerator("NVIDIA L40S").model == "L40S"  # not L4
    assert lookup_accelerator("Tesla V100-SXM2-32GB").peak_bf16_flops == 125e12
    assert lookup_accelerator("a GPU nobody makes") is None
    cpu = lookup_cpu("AMD EPYC 9654 96-Core Processor")
    assert cpu.tdp_w == 360 and cpu.embodied_kgco2e == 100 and cpu.lifetime_years == 4
