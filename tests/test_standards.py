"""Reporting standards: one tracked run and one footprint file give all five documents, each valid
against its format's published schema (SPDX 3.0.1, CycloneDX 1.6, BoAmps 1.1) or ours (AI Act, SCI)."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os

import pytest

pytest.importorskip("jsonschema")
pytest.importorskip("cyclonedx.validation.json")

from standards_helpers import SCHEMAS, VALIDATORS, tracked_run  # noqa: E402
from wattprint import report  # noqa: E402
from wattprint.cli import main  # noqa: E402
from wattprint.errors import ConfigError  # noqa: E402
from wattprint.report import standards  # noqa: E402


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return tracked_run(tmp_path_factory.mktemp("standards"))


@pytest.mark.parametrize("fmt", standards.FORMATS)
def test_run_and_file_give_a_valid_document(run, fmt):
    fp, path = run
    from_run = standards.build(fmt, fp)
    from_file = standards.build(fmt, path)
    assert VALIDATORS[fmt](from_run) == []
    assert VALIDATORS[fmt](from_file) == []
    assert json.dumps(from_run, sort_keys=True) == json.dumps(from_file, sort_keys=True)  # pure: same footprint, same document


@pytest.mark.parametrize(
    "fmt, break_it",
    [
        ("ai-act", lambda d: d["energy"].update(basis="guessed")),
        ("sci", lambda d: d.update(R=0)),
        ("spdx", lambda d: d["@graph"][-2]["ai_energyConsumption"]["ai_trainingEnergyConsumption"][0].update(ai_energyUnit="watt")),
        ("cyclonedx", lambda d: d["components"][0]["modelCard"]["considerations"]["environmentalConsiderations"]
         ["energyConsumptions"][0]["activityEnergyCost"].update(unit="J")),
        ("boamps", lambda d: d["measures"][0].pop("powerConsumption")),
    ],
)
def test_the_validators_reject_a_broken_document(run, fmt, break_it):
    doc = copy.deepcopy(standards.build(fmt, run[0]))
    break_it(doc)
    assert VALIDATORS[fmt](doc), f"{fmt}: a broken document passed its schema"


def test_vendored_schemas_are_the_published_files_with_licences():
    with open(os.path.join(SCHEMAS, "spdx", "spdx-json-schema.json"), "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == "582c64e809d5b3ef9bd0c4de13a32391b47b0284a3e8d199569fb96f649234b1"
    assert "Community Specification License 1.0" in open(os.path.join(SCHEMAS, "spdx", "LICENSE"), encoding="utf-8").read()
    assert "creativecommons.org/licenses/by/4.0" in open(os.path.join(SCHEMAS, "boamps", "LICENSE.md"), encoding="utf-8").read()
    for name in ("report", "measure", "hardware", "algorithm", "dataset"):
        assert os.path.exists(os.path.join(SCHEMAS, "boamps", f"{name}_schema.json"))


def test_sci_score_recomputed_by_hand(run):
    fp, _ = run
    for unit, r in (("run", 1), ("token", fp.get("work.tokens")), ("step", 6), ("sample", fp.get("work.samples")), ("images:5000", 5000)):
        doc = report.to_sci(fp, unit)
        assert doc["R"] == r
        assert doc["sci_g_per_unit"] == pytest.approx((doc["E_kwh"] * doc["I_g_per_kwh"] + doc["M_g"]) / doc["R"], rel=1e-12)
    doc = report.to_sci(fp, "run")
    assert doc["E_kwh"] == pytest.approx(fp.get("energy.facility_kwh"))  # E includes the facility overhead
    assert doc["E_kwh"] * doc["I_g_per_kwh"] == pytest.approx(fp.get("carbon.operational_kg") * 1000.0)
    assert doc["M_g"] == pytest.approx(fp.get("carbon.embodied_kg") * 1000.0) and doc["M_g"] > 0
    lo, hi = doc["sci_bounds_g_per_unit"]
    assert lo < doc["sci_g_per_unit"] < hi
    half = report.to_sci(fp, "run", resource_share=0.5)
    assert half["M_g"] == pytest.approx(doc["M_g"] / 2)
    assert doc["boundary"]["included"] and "network" in doc["boundary"]["excluded"]
    assert report.to_sci(fp, boundary="the training job, data loading included")["boundary"]["declared"].startswith("the training")
    ai = report.to_sci(fp, "token", parameters=1e9)["ai"]
    assert ai["role"] == "provider" and ai["scores_g"]["per_parameter"] == pytest.approx(doc["sci_g_per_unit"] / 1e9)
    assert ai["scores_g"]["per_flop"] == pytest.approx(doc["sci_g_per_unit"] / fp.get("work.flops"))


def test_sci_ignores_market_instruments(tmp_path):
    plain, _ = tracked_run(tmp_path / "a", run_id="plain")
    market, _ = tracked_run(tmp_path / "b", run_id="market", market_intensity_g_per_kwh=5.0, renewable_share=0.9)
    assert report.to_sci(market)["I_g_per_kwh"] == report.to_sci(plain)["I_g_per_kwh"]
    assert report.to_sci(market)["sci_g_per_unit"] == pytest.approx(report.to_sci(plain)["sci_g_per_unit"])


@pytest.mark.parametrize("unit", ["bogus", "images:0", "images:x", ":5"])
def test_bad_functional_unit_names_the_setting(run, unit):
    with pytest.raises(ConfigError) as info:
        report.to_sci(run[0], unit)
    assert info.value.setting == "functional_unit"


def test_a_unit_the_run_did_not_count_is_refused(run):
    with pytest.raises(ConfigError, match="counted no requests") as info:
        report.to_sci(run[0], "request")
    assert info.value.setting == "functional_unit"


def _sig_figs(text: str) -> int:
    mantissa = text.lower().split("e")[0].replace(".", "").lstrip("0")
    return len(mantissa)


def test_ai_act_energy_in_mwh_to_at_least_two_significant_figures(run):
    fp, _ = run
    doc = report.to_ai_act(fp)
    mwh = fp.get("energy.facility_kwh") / 1000.0
    assert doc["energy"]["value_mwh"] == pytest.approx(mwh, rel=5e-3)  # 3 significant figures
    assert doc["energy"]["value_mwh"] != 0 and _sig_figs(doc["energy"]["value_mwh_text"]) >= 2
    assert float(doc["energy"]["value_mwh_text"]) == pytest.approx(mwh, rel=5e-3)
    assert doc["energy"]["low_mwh"] < doc["energy"]["value_mwh"] < doc["energy"]["high_mwh"]
    assert doc["energy"]["basis"] == "mixed" and 0 < doc["energy"]["measured_share"] < 1
    assert doc["compute"]["flops"] == pytest.approx(6 * 1.5e15) and doc["compute"]["flops_basis"] == "counted"
    assert doc["compute"]["wall_clock_time_s"] == 60.0
    assert doc["compute"]["hardware_time_device_hours"] == pytest.approx(2 * 60.0 / 3600.0)
    method = doc["method"]
    assert "gpu:0" in method and "energy counter" in method and "estimated" in method and "PUE" in method


@pytest.mark.parametrize("mwh, text", [(1.234567e-6, "1.23e-06"), (12.3456, "12.3"), (0.5, "0.500"), (1234.5, "1230")])
def test_significant_figures_text(mwh, text):
    from wattprint.report.standards._common import format_sig, round_sig

    assert format_sig(mwh) == text and _sig_figs(text) >= 2
    assert math.isclose(round_sig(mwh), float(text), rel_tol=1e-3)


def test_standards_in_the_documents(run):
    fp, _ = run
    spdx = report.to_spdx(fp)
    pkg = next(e for e in spdx["@graph"] if e["type"] == "ai_AIPackage")
    desc = pkg["ai_energyConsumption"]["ai_trainingEnergyConsumption"][0]
    assert desc["ai_energyUnit"] == "kilowattHour" and desc["ai_energyQuantity"] == pytest.approx(fp.get("energy.facility_kwh"))
    assert "estimated" in pkg["comment"] and "bounds" in pkg["comment"]
    cdx = report.to_cyclonedx(fp)
    ec = cdx["components"][0]["modelCard"]["considerations"]["environmentalConsiderations"]["energyConsumptions"][0]
    assert ec["activity"] == "training" and ec["activityEnergyCost"]["value"] == pytest.approx(fp.get("energy.facility_kwh"))
    assert ec["co2CostEquivalent"]["value"] == pytest.approx(fp.get("carbon.scope2_location_kg") / 1000.0)
    assert "co2CostOffset" not in ec  # offsets are never netted
    assert any(p["name"] == "wattprint:energy.basis" and p["value"] == "mixed" for p in ec["properties"])
    boamps = report.to_boamps(fp)
    assert boamps["measures"][0]["powerConsumption"] == pytest.approx(fp.get("energy.it_kwh"))
    assert boamps["task"]["taskStage"] == "training" and boamps["environment"]["country"] == "IE"


def test_inference_stage_goes_to_the_inference_fields(tmp_path):
    fp, _ = tracked_run(tmp_path, run_id="serve", task_stage="inference")
    pkg = next(e for e in report.to_spdx(fp)["@graph"] if e["type"] == "ai_AIPackage")
    assert "ai_inferenceEnergyConsumption" in pkg["ai_energyConsumption"]
    cdx = report.to_cyclonedx(fp)
    assert cdx["components"][0]["modelCard"]["considerations"]["environmentalConsiderations"]["energyConsumptions"][0]["activity"] == "inference"
    assert report.to_sci(fp, "token")["ai"]["role"] == "consumer"
    for fmt in standards.FORMATS:
        assert VALIDATORS[fmt](standards.build(fmt, fp)) == []


@pytest.mark.parametrize("fmt", standards.FORMATS)
def test_cli_prints_each_valid_document(run, fmt, capsys):
    _, path = run
    assert main(["report", path, "--format", fmt]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert VALIDATORS[fmt](doc) == []


def test_cli_writes_output_and_errors_name_the_flag(run, tmp_path, capsys):
    _, path = run
    out = tmp_path / "r.sci.json"
    assert main(["report", path, "--format", "sci", "--functional-unit", "token", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["functional_unit"]["name"] == "token"
    capsys.readouterr()
    assert main(["report", path, "--format", "sci", "--functional-unit", "bogus"]) == 2
    assert "--functional-unit" in capsys.readouterr().err
    assert main(["report", path, "--format", "spdx", "--functional-unit", "token"]) == 2
    assert "--functional-unit goes with --format sci" in capsys.readouterr().err
    assert main(["report", path, os.path.dirname(path) + "/missing-dir-xyz", "--format", "sci"]) == 2
    capsys.readouterr()


def test_cli_needs_one_run(tmp_path, capsys):
    tracked_run(tmp_path, run_id="one")
    tracked_run(tmp_path, run_id="two")
    assert main(["report", str(tmp_path), "--format", "ai-act"]) == 2
    assert "documents one run" in capsys.readouterr().err


def test_build_refuses_unknown_format_and_option(run):
    with pytest.raises(ConfigError) as info:
        standards.build("pdf", run[0])
    assert info.value.setting == "format"
    with pytest.raises(ConfigError) as info:
        standards.build("ai-act", run[0], functional_unit="token")
    assert info.value.setting == "functional_unit"


def test_a_plan_gives_valid_documents_that_say_nothing_was_measured():
    import wattprint as wp

    plan = wp.estimate(gpu="H100", gpus=8, hours=10, region="IE", market_intensity_g_per_kwh=20)
    for fmt in standards.FORMATS:
        assert VALIDATORS[fmt](standards.build(fmt, plan)) == []
    doc = report.to_ai_act(plan)
    assert doc["energy"]["basis"] == "estimated" and "nothing measured" in doc["method"]
    assert report.to_sci(plan)["I_g_per_kwh"] == plan["factors"]["carbon_intensity_g_per_kwh"]["value"]  # location-based, not 20
