"""The carbon-aware planner: the exact greenest start, the deadline, the saving in the footprint."""

from __future__ import annotations

import datetime as dt
import io
import json
import os

import jsonschema
import pytest
import wattprint as wp
from hypothesis import given, settings
from hypothesis import strategies as st
from wattprint.errors import ConfigError
from wattprint.footprint.schema import footprint_schema
from wattprint.run.carbon_aware import parse_duration, plan_run, plan_start, previous_run, wait_for_greener
from wattprint.run.forecast import FileProvider
from wattprint.run.forecast.base import Forecast
from wattprint.testing import ManualClock

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "forecasts")
UK = os.path.join(FIX, "ukci_national_fw48h.json")
EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "examples", "data", "uk_forecast_48h.json")
T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.timezone.utc)
H = 3600.0


def _series(values, step_s=1800.0, t0=T0, signal="average"):
    periods = [(t0 + dt.timedelta(seconds=i * step_s), t0 + dt.timedelta(seconds=(i + 1) * step_s), float(v)) for i, v in enumerate(values)]
    return Forecast("test", "test series", None, signal, tuple(periods), t0)


def _brute_force(fc, now, within_s, expect_s, grid_s):
    """Every start on a grid of ``grid_s`` in [now, now + within_s]: (mean, start) of the best, earliest first."""
    best = None
    k = 0
    while k * grid_s <= within_s + 1e-9:
        s = now + dt.timedelta(seconds=k * grid_s)
        m = fc.mean(s, s + dt.timedelta(seconds=expect_s))
        if m is not None and (best is None or m < best[0] - 1e-9):
            best = (m, s)
        k += 1
    return best


def test_recorded_uk_48h_forecast_the_chosen_start_is_the_brute_force_optimum():
    fc = FileProvider(UK).get(T0)
    assert fc is not None and len(fc.periods) == 96
    for within_h, expect_h in [(12, 3), (24, 3), (36, 6), (6, 1.5), (30, 2.5)]:
        start, mean_now, mean_best = plan_start(fc, T0, within_h * H, expect_h * H)
        brute_mean, brute_start = _brute_force(fc, T0, within_h * H, expect_h * H, 60.0)  # every minute
        assert mean_best == pytest.approx(brute_mean) and start == brute_start
        assert T0 <= start <= T0 + dt.timedelta(hours=within_h)
        assert mean_now == pytest.approx(fc.mean(T0, T0 + dt.timedelta(hours=expect_h)))


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(st.integers(min_value=0, max_value=600), min_size=2, max_size=40),
    now_min=st.integers(min_value=0, max_value=120),
    within_min=st.integers(min_value=1, max_value=900),
    expect_min=st.integers(min_value=1, max_value=400),
)
def test_the_planner_matches_a_brute_force_minimum_and_respects_the_deadline(values, now_min, within_min, expect_min):
    fc = _series(values, step_s=1800.0)
    now = T0 + dt.timedelta(minutes=now_min)
    got = plan_start(fc, now, within_min * 60.0, expect_min * 60.0)
    brute = _brute_force(fc, now, within_min * 60.0, expect_min * 60.0, 60.0)  # every minute: edges are whole minutes
    if fc.mean(now, now + dt.timedelta(minutes=expect_min)) is None:
        assert got is None
        return
    assert got is not None and brute is not None
    start, _, mean_best = got
    assert now <= start <= now + dt.timedelta(minutes=within_min)  # never past the deadline
    assert start + dt.timedelta(minutes=expect_min) <= fc.end  # the run stays inside the forecast
    assert mean_best == pytest.approx(brute[0], abs=1e-6)
    assert fc.mean(start, start + dt.timedelta(minutes=expect_min)) == pytest.approx(mean_best)


def test_ties_keep_the_earliest_start_and_a_flat_forecast_runs_now():
    plan = plan_run(FileProvider(UK), within="12h", expect="3h", now=T0)
    assert plan.decision == "delay"
    flat = _series([200] * 96)
    assert plan_start(flat, T0, 12 * H, 3 * H)[0] == T0


@pytest.mark.parametrize("text, seconds", [("12h", 43200), ("90m", 5400), ("1h30m", 5400), ("45s", 45), ("2d", 172800), ("600", 600), (30, 30)])
def test_durations(text, seconds):
    assert parse_duration(text, "within") == seconds


@pytest.mark.parametrize("bad", ["", "3x", "-1h", "0", "h", "inf"])
def test_bad_durations_name_the_flag(bad):
    with pytest.raises(ConfigError) as err:
        parse_duration(bad, "within")
    assert err.value.setting == "within"


def test_wait_sleeps_until_the_start_and_never_past_the_deadline():
    clock, slept, out = ManualClock(utc=T0), [], io.StringIO()

    def sleep(s):
        slept.append(s)
        clock.advance(s)

    plan = wait_for_greener("12h", "3h", provider=FileProvider(UK), clock=clock, sleep=sleep, stream=out, poll_s=600)
    assert plan.decision == "delay" and clock.utc_now() == plan.start_at <= T0 + dt.timedelta(hours=12)
    assert plan.waited_s == pytest.approx(sum(slept)) and max(slept) <= 600
    text = out.getvalue()
    assert "waiting for a greener grid" in text and "saving" in text and "%" in text


def test_a_clock_that_jumps_past_the_start_stops_waiting():
    clock = ManualClock(utc=T0)
    plan = wait_for_greener("12h", "3h", provider=FileProvider(UK), clock=clock, sleep=lambda s: clock.advance(24 * H), stream=io.StringIO())
    assert plan.waited_s == 24 * H  # one sleep, then the loop sees the start passed: no second sleep


def test_dry_run_plans_without_waiting():
    clock = ManualClock(utc=T0)
    plan = wait_for_greener("12h", "3h", provider=FileProvider(UK), clock=clock, sleep=lambda s: pytest.fail("slept"), dry_run=True, stream=io.StringIO())
    assert plan.decision == "delay" and plan.waited_s == 0 and clock.utc_now() == T0


def test_no_provider_or_no_forecast_runs_now_and_says_why(tmp_path):
    sleep = lambda s: pytest.fail("slept")  # noqa: E731
    p = wait_for_greener("12h", "1h", env={}, clock=ManualClock(utc=T0), sleep=sleep, stream=io.StringIO())
    assert p.decision == "run_now" and p.reason == "no forecast provider configured" and p.section()["expected"] is None
    missing = FileProvider(str(tmp_path / "gone.json"))
    p = wait_for_greener("12h", "1h", provider=missing, clock=ManualClock(utc=T0), sleep=sleep, stream=io.StringIO())
    assert p.decision == "run_now" and p.reason.startswith("no forecast: cannot read the forecast file")
    late = ManualClock(utc=T0 + dt.timedelta(days=30))  # the forecast is over
    p = wait_for_greener("12h", "1h", provider=FileProvider(UK), clock=late, sleep=sleep, stream=io.StringIO())
    assert p.decision == "run_now" and "does not cover" in p.reason
    p = plan_run(FileProvider(UK), within="12h", expect=None, project="never-ran", output_dir=str(tmp_path), now=T0)
    assert p.decision == "run_now" and "--expect" in p.reason


def test_expect_defaults_to_the_projects_last_completed_run(tmp_path):
    t, clock = wp.testing.replay_tracker(100.0, project="p", output_dir=str(tmp_path), save=True, interval_s=float("inf"), handle_signals=False)
    t.start()
    clock.advance(2 * H)
    t.stop()
    prev = previous_run(str(tmp_path), "p")
    assert prev["duration_s"] == pytest.approx(2 * H) and prev["energy_kwh"] > 0
    plan = plan_run(FileProvider(UK), within="12h", project="p", output_dir=str(tmp_path), now=T0)
    assert plan.expect_s == pytest.approx(2 * H) and plan.expect_source.startswith("previous run")
    assert plan.expected()["saving_g"] == pytest.approx(plan.expected()["saving_g_per_kwh"] * prev["energy_kwh"])
    assert previous_run(str(tmp_path), "other") is None


def _tracked_run(tmp_path, provider, watts=1000.0, hours=3.0):
    clock = ManualClock(utc=T0)
    plan = wait_for_greener("12h", f"{hours}h", provider=provider, clock=clock, sleep=clock.advance, stream=io.StringIO())
    t, _ = wp.testing.replay_tracker(watts, clock=clock, output_dir=str(tmp_path), save=True, interval_s=float("inf"), handle_signals=False, pue=1.0)
    t.start()
    clock.advance(hours * H)
    plan.finish(t)
    return plan, t.stop()


def test_the_footprint_states_expected_and_realised_savings_labelled(tmp_path):
    plan, fp = _tracked_run(tmp_path, FileProvider(EXAMPLE))  # a recorded UK forecast with actuals: history exists
    doc = fp.to_dict()
    jsonschema.validate(doc, footprint_schema())
    ca = doc["carbon_aware"]
    assert ca["decision"] == "delay" and ca["signal"] == "average" and ca["forecast"]["periods"] == 96
    exp, real = ca["expected"], ca["realised"]
    energy_kwh = doc["energy"]["facility_kwh"]
    assert energy_kwh == pytest.approx(3.0)  # 1 kW for 3 h, PUE 1
    assert exp["signal"] == "average" and exp["energy_basis"] == "measured"
    assert exp["saving_g"] == pytest.approx(exp["saving_g_per_kwh"] * energy_kwh) and exp["saving_g"] > 0
    assert exp["saving_pct"] == pytest.approx(100 * exp["saving_g_per_kwh"] / exp["intensity_now_g_per_kwh"])
    assert real["basis"] == "observed" and real["signal"] == "average" and "observed" in real["source"]
    hist = FileProvider(EXAMPLE).history(T0, T0)
    start = dt.datetime.fromisoformat(doc["started_at"].replace("Z", "+00:00"))
    assert real["intensity_g_per_kwh"] == pytest.approx(hist.mean(start, start + dt.timedelta(hours=3)))
    assert real["counterfactual_intensity_g_per_kwh"] == pytest.approx(hist.mean(T0, T0 + dt.timedelta(hours=3)))
    assert real["saving_g"] == pytest.approx(real["counterfactual_emissions_g"] - real["emissions_g"])
    with open(os.path.join(str(tmp_path), f"{doc['run_id']}.json")) as f:
        assert json.load(f)["carbon_aware"]["realised"]["basis"] == "observed"  # and in the file


def test_without_history_the_realised_figures_are_forecast_only(tmp_path):
    _, fp = _tracked_run(tmp_path, FileProvider(os.path.join(FIX, "user_forecast.json")), hours=1.0)  # marginal, no observed rows
    ca = fp.to_dict()["carbon_aware"]
    assert ca["signal"] == "marginal" and ca["expected"]["signal"] == "marginal"
    assert ca["realised"]["basis"] == "forecast-only" and ca["realised"]["signal"] == "marginal" and "no observed history" in ca["realised"]["reason"]


def test_nothing_opens_a_socket_unless_a_provider_was_configured(tmp_path, monkeypatch):
    import socket

    def refuse(*a, **k):
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.delenv("WATTPRINT_FORECAST", raising=False)
    monkeypatch.delenv("WATTPRINT_FORECAST_PROVIDER", raising=False)
    clock = ManualClock(utc=T0)
    plan = wp.wait_for_greener("12h", "1h", clock=clock, sleep=clock.advance, stream=io.StringIO())
    t, _ = wp.testing.replay_tracker(100.0, clock=clock, output_dir=str(tmp_path), interval_s=float("inf"), handle_signals=False)
    t.start()
    clock.advance(60)
    plan.finish(t)
    assert t.stop().to_dict()["carbon_aware"]["reason"] == "no forecast provider configured"
    wp.forecast_provider("ukci", env={})  # building a provider opens nothing either; only get() would
