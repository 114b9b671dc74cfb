"""Every planner input of issue 15 (Build 1), through `wattprint.estimate` and `wattprint estimate`: each changes the
result as its definition says. Also the TDP band (a small job measured at 35 % of TDP lies inside a plan's bounds)
and calibration from a measured run (`--from RUN.json --tokens`)."""

from __future__ import annotations

import json

import pytest
import wattprint
from wattprint.cli.app import main
from wattprint.errors import ConfigError
from wattprint.footprint.planning import TDP_BAND, estimate
from wattprint.testing import replay_tracker

YEAR_S = 365.25 * 86400  # units.SECONDS_PER_YEAR
BASE = {"gpu": "A100", "gpus": 8, "hours": 10.0, "region": "IE", "env": {}}


def plan(**kw):
    return estimate(**{**BASE, **kw})


def cli(capsys, *argv):
    assert main(["estimate", "--json", *argv]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_public_estimate_is_the_planner():
    assert wattprint.estimate is estimate


def test_gpu_hours_set_the_time_and_energy(capsys):
    doc = estimate(gpu="H100", gpus=16384, gpu_hours=30.84e6, power_w=700, region="US", env={})
    assert doc["duration_s"] == pytest.approx(30.84e6 / 16384 * 3600)
    assert doc["energy"]["it_kwh"] == pytest.approx(30.84e6 * 0.7)  # GPU-hours x 700 W
    assert doc["gpu_hours"] == pytest.approx(30.84e6)
    c = cli(capsys, "--gpu", "H100", "--gpus", "16384", "--gpu-hours", "30.84e6", "--power-w", "700", "--region", "US")
    assert c["energy"]["it_kwh"] == pytest.approx(doc["energy"]["it_kwh"])
    with pytest.raises(ConfigError) as err:
        estimate(gpu="H100", hours=1, gpu_hours=1, env={})
    assert err.value.setting == "gpu_hours"


def test_power_w_describes_an_accelerator_the_table_lacks(capsys):
    doc = estimate(power_w=23000, peak_flops_per_s=1.25e17, embodied_kg_per_device=2000, hours=10, flops=1e21, env={})
    assert doc["energy"]["it_kwh"] == pytest.approx(230.0)  # 23 kW x 10 h, no band: the power is given
    assert doc["bounds"]["energy.it_kwh"] == [pytest.approx(230.0), pytest.approx(230.0)]
    c = cli(capsys, "--gpu", "WSE-3", "--power-w", "23000", "--hours", "10", "--flops", "1e21")
    assert c["hardware"]["model"] == "WSE-3" and c["energy"]["it_kwh"] == pytest.approx(230.0)


def test_peak_flops_sets_the_mfu(capsys):
    doc = estimate(power_w=500, peak_flops_per_s=1e15, hours=1, flops=1e15 * 3600 * 0.4, env={})
    assert doc["work"]["mfu"] == pytest.approx(0.4)
    assert estimate(power_w=500, hours=1, flops=1e18, env={})["work"]["mfu"] is None  # no peak: no MFU
    c = cli(capsys, "--gpu", "X1", "--power-w", "500", "--peak-flops", "1e15", "--hours", "1", "--flops", "1.44e18")
    assert c["work"]["mfu"] == pytest.approx(0.4)


def test_embodied_kg_per_device_is_amortised(capsys):
    doc = plan(embodied_kg_per_device=1000, lifetime_years=4)
    assert doc["carbon"]["embodied_kg"] == pytest.approx(1000 * 8 * 10 * 3600 / (4 * YEAR_S))
    assert plan(lifetime_years=4)["carbon"]["embodied_kg"] == pytest.approx(150 * 8 * 10 * 3600 / (4 * YEAR_S))  # the table's 150
    c = cli(capsys, "--gpu", "A100", "--gpus", "8", "--hours", "10", "--embodied-kg-per-device", "1000", "--lifetime-years", "4")
    assert c["carbon"]["embodied_kg"] == pytest.approx(doc["carbon"]["embodied_kg"])


def test_facility_energy_is_not_multiplied_by_pue_again(capsys):
    doc = estimate(facility_energy_kwh=1_287_000, pue=1.1, intensity_g_per_kwh=429, env={})  # Patterson et al. GPT-3
    assert doc["energy"]["facility_kwh"] == pytest.approx(1_287_000)
    assert doc["energy"]["it_kwh"] == pytest.approx(1_287_000 / 1.1)
    assert doc["carbon"]["operational_kg"] / 1000 == pytest.approx(552.1, rel=0.001)
    c = cli(capsys, "--facility-energy-kwh", "1287000", "--pue", "1.1", "--intensity", "429")
    assert c["energy"]["facility_kwh"] == pytest.approx(1_287_000)
    with pytest.raises(ConfigError) as err:
        estimate(facility_energy_kwh=1, energy_kwh=1, env={})
    assert err.value.setting == "facility_energy_kwh"


def test_idle_power_adds_energy_over_the_duration(capsys):
    base, idle = plan(power_w=300), plan(power_w=300, idle_power_w=500)
    assert idle["energy"]["it_kwh"] - base["energy"]["it_kwh"] == pytest.approx(5.0)  # 500 W x 10 h
    assert {c["id"] for c in idle["components"]} >= {"gpu:plan", "idle:plan"}
    c = cli(capsys, "--gpu", "A100", "--gpus", "8", "--hours", "10", "--power-w", "300", "--idle-power-w", "500")
    assert c["energy"]["it_kwh"] == pytest.approx(idle["energy"]["it_kwh"])
    with pytest.raises(ConfigError) as err:
        estimate(energy_kwh=1, idle_power_w=100, env={})
    assert err.value.setting == "idle_power_w"


def test_host_embodied_and_usage_share(capsys):
    base = plan(lifetime_years=6)
    hosts = plan(lifetime_years=6, host_embodied_kg=2500)
    assert hosts["carbon"]["embodied_kg"] - base["carbon"]["embodied_kg"] == pytest.approx(2500 * 10 * 3600 / (6 * YEAR_S))  # 1 host
    shared = plan(lifetime_years=6, host_embodied_kg=2500, usage_share=0.85)
    assert shared["carbon"]["embodied_kg"] == pytest.approx(hosts["carbon"]["embodied_kg"] / 0.85)
    c = cli(capsys, "--gpu", "A100", "--gpus", "8", "--hours", "10", "--lifetime-years", "6", "--host-embodied-kg", "2500",
            "--usage-share", "0.85")
    assert c["carbon"]["embodied_kg"] == pytest.approx(shared["carbon"]["embodied_kg"])
    with pytest.raises(ConfigError) as err:
        plan(usage_share=1.5)
    assert err.value.setting == "usage_share"


def test_market_intensity_and_renewable_share_leave_location_based_alone(capsys):
    base = plan(power_w=300)
    market = plan(power_w=300, market_intensity_g_per_kwh=50)
    share = plan(power_w=300, renewable_share=0.6)
    assert market["carbon"]["operational_kg"] == base["carbon"]["operational_kg"] == share["carbon"]["operational_kg"]
    assert market["carbon"]["scope2_market_kg"] == pytest.approx(base["energy"]["facility_kwh"] * 50 / 1000)
    assert share["carbon"]["scope2_market_kg"] == pytest.approx(base["carbon"]["operational_kg"] * 0.4)
    assert "scope2_market_kg" not in base["carbon"]
    c = cli(capsys, "--gpu", "A100", "--gpus", "8", "--hours", "10", "--power-w", "300", "--region", "IE", "--market-intensity", "50")
    assert c["carbon"]["scope2_market_kg"] == pytest.approx(market["carbon"]["scope2_market_kg"])
    c = cli(capsys, "--gpu", "A100", "--gpus", "8", "--hours", "10", "--power-w", "300", "--region", "IE", "--renewable-share", "0.6")
    assert c["carbon"]["scope2_market_kg"] == pytest.approx(share["carbon"]["scope2_market_kg"])


def test_withdrawal_is_reported_beside_consumption(capsys):
    base = estimate(energy_kwh=1000, region="US-AZ", pue=1.18, env={})
    wd = estimate(energy_kwh=1000, region="US-AZ", pue=1.18, withdrawal=True, env={})
    assert wd["water"]["total_l"] == base["water"]["total_l"]  # consumption unchanged
    assert wd["water"]["withdrawal_onsite_l"] == pytest.approx(1000 * 1.63 / 0.8)
    assert wd["water"]["withdrawal_offsite_l"] == pytest.approx(1000 * 1.18 * 43.8)
    given = estimate(energy_kwh=1000, pue=1.5, withdrawal=(2.0, 40.0), env={})
    assert given["water"]["withdrawal_total_l"] == pytest.approx(1000 * 2.0 + 1500 * 40.0)
    assert "withdrawal_total_l" not in base["water"]
    c = cli(capsys, "--energy-kwh", "1000", "--pue", "1.5", "--withdrawal", "2,40")
    assert c["water"]["withdrawal_total_l"] == pytest.approx(given["water"]["withdrawal_total_l"])
    assert cli(capsys, "--energy-kwh", "1000", "--region", "US-AZ", "--pue", "1.18", "--withdrawal")["water"]["withdrawal_onsite_l"] > 0
    with pytest.raises(ConfigError) as err:
        estimate(energy_kwh=1, withdrawal="lots", env={})
    assert err.value.setting == "withdrawal"


def test_pue_on_wue_multiplies_on_site_water_only_when_asked(capsys):
    off = estimate(energy_kwh=1000, pue=1.5, wue_l_per_kwh=2.0, env={})
    on = estimate(energy_kwh=1000, pue=1.5, wue_l_per_kwh=2.0, pue_on_wue=True, env={})
    assert off["water"]["onsite_l"] == pytest.approx(2000.0)  # The Green Grid: per IT kWh
    assert on["water"]["onsite_l"] == pytest.approx(3000.0) and on["water"]["offsite_l"] == off["water"]["offsite_l"]
    assert on["factors"]["pue_on_wue"] is True and "pue_on_wue" not in off["factors"]
    c = cli(capsys, "--energy-kwh", "1000", "--pue", "1.5", "--wue", "2", "--pue-on-wue")
    assert c["water"]["onsite_l"] == pytest.approx(3000.0)


def test_requests_give_per_request_figures(capsys):
    doc = estimate(energy_kwh=0.004 * 1000, requests=1000, region="li2023:us-average", env={})  # Li et al.: 4 Wh a request
    pr = doc["per_request"]
    assert pr["it_wh"] == pytest.approx(4.0)
    assert pr["water_ml"] == pytest.approx(16.904, abs=0.001) and round(pr["requests_per_500ml"], 1) == 29.6
    assert pr["carbon_g"] == pytest.approx(doc["carbon"]["total_kg"])  # kg per 1000 requests = g per request
    c = cli(capsys, "--energy-kwh", "4", "--requests", "1000", "--region", "li2023:us-average")
    assert c["per_request"]["water_ml"] == pytest.approx(pr["water_ml"])


def test_grid_basis_is_chosen_and_recorded(capsys):
    direct = estimate(energy_kwh=1000, region="US-VA", grid_basis="direct", env={})
    life = estimate(energy_kwh=1000, region="US-VA", grid_basis="lifecycle", env={})
    default = estimate(energy_kwh=1000, region="US-VA", env={})
    assert direct["factors"]["carbon_intensity_g_per_kwh"]["basis"] == "direct" == default["factors"]["carbon_intensity_g_per_kwh"]["basis"]
    assert default["factors"]["grid_basis"] == "as published" and life["factors"]["grid_basis"] == "lifecycle"
    assert life["carbon"]["operational_kg"] > direct["carbon"]["operational_kg"]
    assert cli(capsys, "--energy-kwh", "1000", "--region", "US-VA", "--grid-basis", "lifecycle")["factors"]["grid_basis"] == "lifecycle"


def test_a_small_job_measured_at_35_percent_of_tdp_is_inside_the_plan():
    # measured: one A100 (400 W TDP) drawing 140 W (35 %) for an hour, replayed through a real Tracker
    tracker, clock = replay_tracker(140.0, region="IE")
    tracker.start()
    clock.advance(3600.0)
    measured_kwh = tracker.stop().to_dict()["energy"]["it_kwh"]
    assert measured_kwh == pytest.approx(0.140, rel=0.01)
    planned = estimate(gpu="A100", hours=1.0, region="IE", env={})
    lo, hi = planned["bounds"]["energy.it_kwh"]
    assert lo <= measured_kwh <= hi
    assert lo == pytest.approx(0.400 * TDP_BAND[1]) and hi == pytest.approx(0.400 * TDP_BAND[2])  # 30 %..100 % of TDP
    assert planned["energy"]["it_kwh"] == pytest.approx(0.400 * TDP_BAND[0])
    big = estimate(gpu="H100", gpus=16384, hours=100.0, env={})  # a large job at TDP is inside too
    assert big["bounds"]["energy.it_kwh"][1] >= 16384 * 0.7 * 100.0 * 0.999


def test_calibrate_from_a_measured_run(tmp_path, capsys):
    tracker, clock = replay_tracker(200.0, region="IE", output_dir=str(tmp_path), save=True, run_id="pilot")
    tracker.start()
    for _ in range(10):
        clock.advance(1.0)
        tracker.step(tokens=1000)
    tracker.stop()
    run = tmp_path / "pilot.json"
    pilot = json.loads(run.read_text())
    j_per_token = pilot["work"]["j_per_token"]
    doc = estimate(from_run=str(run), tokens=1e9, env={})
    assert doc["energy"]["it_j"] == pytest.approx(j_per_token * 1e9)
    assert doc["region"] == "IE"  # priced where the pilot ran
    c = cli(capsys, "--from", str(run), "--tokens", "1e9")
    assert c["energy"]["it_j"] == pytest.approx(doc["energy"]["it_j"])
    by_steps = cli(capsys, "--from", str(run), "--steps", "5000")
    assert by_steps["energy"]["it_j"] == pytest.approx(pilot["work"]["j_per_step"] * 5000)
    with pytest.raises(ConfigError) as err:
        estimate(from_run=str(run), env={})
    assert err.value.setting == "tokens"
    with pytest.raises(ConfigError) as err:
        estimate(from_run=str(tmp_path / "missing.json"), tokens=1, env={})
    assert err.value.setting == "from_run"


def test_cli_errors_name_the_flags(capsys):
    assert main(["estimate", "--gpu", "H100", "--hours", "1", "--gpu-hours", "2"]) == 2
    assert "--gpu-hours" in capsys.readouterr().err
    assert main(["estimate", "--energy-kwh", "1", "--idle-power-w", "10"]) == 2
    assert "--idle-power-w" in capsys.readouterr().err
    assert main(["estimate", "--gpu", "TPU v5p", "--hours", "1"]) == 2
    assert "--power-w" in capsys.readouterr().err  # no published TDP
