"""Every footprint satisfies its own formulas; embodied carbon, work figures, bounds, time series."""

from __future__ import annotations

import datetime as dt
import math

import jsonschema
import pytest
import wattprint as wp
from wattprint.footprint.accounting import (
    J_PER_KWH,
    SECONDS_PER_YEAR,
    account,
    footprint_schema,
)
from wattprint.footprint.factors import resolve_factors
from wattprint.testing import ManualClock, replay_sensor, replay_tracker

SCHEMA = footprint_schema()


def check_formulas(doc: dict) -> None:
    """The footprint's own figures agree with DESIGN.md's formulas (within rounding)."""
    e, f, c, w, work = doc["energy"], doc["factors"], doc["carbon"], doc["water"], doc["work"]
    rel = dict(rel=1e-9, abs=1e-15)
    assert e["it_j"] == pytest.approx(sum(x["energy_j"] for x in doc["components"]), **rel)
    assert e["it_kwh"] == pytest.approx(e["it_j"] / J_PER_KWH, **rel)
    assert e["facility_kwh"] == pytest.approx(e["it_kwh"] * f["pue"]["value"], **rel)
    assert c["operational_kg"] == pytest.approx(e["facility_kwh"] * f["carbon_intensity_g_per_kwh"]["value"] / 1000, **rel)
    assert c["total_kg"] == pytest.approx(c["operational_kg"] + (c["embodied_kg"] or 0.0), **rel)
    assert w["onsite_l"] == pytest.approx(e["it_kwh"] * f["wue_l_per_kwh"]["value"], **rel)
    assert w["offsite_l"] == pytest.approx(e["facility_kwh"] * f["ewif_l_per_kwh"]["value"], **rel)
    assert w["total_l"] == pytest.approx(w["onsite_l"] + w["offsite_l"], **rel)
    for key, count in (("j_per_step", "steps"), ("j_per_sample", "samples"), ("j_per_token", "tokens")):
        assert work[key] == (pytest.approx(e["it_j"] / work[count], **rel) if work[count] else None)
    if work["flops"]:
        assert work["cci_g_per_eflop"] == pytest.approx(c["total_kg"] * 1000 / (work["flops"] / 1e18), **rel)
    for figure, (lo, hi) in doc["bounds"].items():
        node = doc
        for part in figure.split("."):
            node = node[part]
        value = node["value"] if isinstance(node, dict) else node
        assert lo <= value * (1 + 1e-12) + 1e-15 and value <= hi * (1 + 1e-12) + 1e-15, figure
    jsonschema.validate(doc, SCHEMA)


def run(sensors, *, seconds=3600.0, steps=0, tokens=0, samples=0, flops=None, **kw):
    t, clock = replay_tracker(sensors=sensors, env={}, **kw)
    t.start()
    for _ in range(4):
        clock.advance(seconds / 4)
        t.sample_now()
    if steps or tokens or samples or flops:
        t.step(steps, tokens=tokens or None, samples=samples or None, flops=flops)
    fp = t.stop()
    return fp.to_dict()


def gpu(name="NVIDIA H100 80GB HBM3", watts=500.0, cid="gpu:0"):
    return replay_sensor([(0.0, watts), (1e6, watts)], component_id=cid, name=name)


def test_tracker_footprint_formulas_world_defaults():
    doc = run([gpu(watts=400)], steps=100, tokens=51200, samples=400)
    check_formulas(doc)
    assert doc["energy"]["it_j"] == pytest.approx(400 * 3600)
    assert doc["region"] == "world" and doc["factors"]["pue"]["value"] == 1.56


@pytest.mark.parametrize("region", ["IE", "US-VA", "aws:us-east-1", "gcp:europe-west4", "azure:northeurope", "li2023:iowa", "report:singapore"])
def test_formulas_hold_in_every_kind_of_region(region):
    check_formulas(run([gpu(), gpu(cid="gpu:1")], region=region, steps=10))


def test_embodied_is_amortised_per_device_used():
    doc = run([gpu(), gpu(cid="gpu:1"), gpu(name="NVIDIA B200", cid="gpu:2")], seconds=7200)
    share = 7200 / (4 * SECONDS_PER_YEAR)
    assert doc["carbon"]["embodied_kg"] == pytest.approx((164 + 164 + 284) * share)
    devices = doc["embodied"]["devices"]
    assert [d["model"] for d in devices] == ["H100 SXM5", "H100 SXM5", "B200"]
    lo, hi = doc["bounds"]["carbon.embodied_kg"]
    assert lo < doc["carbon"]["embodied_kg"] < hi
    check_formulas(doc)


def test_embodied_lifetime_option_and_switch():
    doc = run([gpu()], seconds=3600, accounting_options={"lifetime_years": 6})
    assert doc["carbon"]["embodied_kg"] == pytest.approx(164 * 3600 / (6 * SECONDS_PER_YEAR))
    doc = run([gpu()], accounting_options={"embodied": False})
    assert doc["carbon"]["embodied_kg"] is None and doc["carbon"]["total_kg"] == doc["carbon"]["operational_kg"]


def test_unknown_device_is_listed_not_guessed():
    doc = run([gpu(name="Mystery Accelerator 9000")], flops=1e15)
    assert doc["carbon"]["embodied_kg"] is None
    assert doc["embodied"]["missing"] == ["gpu:0 (Mystery Accelerator 9000)"]
    assert doc["work"]["mfu"] is None  # no peak known: no MFU rather than a wrong one
    check_formulas(doc)


def test_mfu_and_cci_from_counted_flops():
    flops = 0.4 * 989.4e12 * 3600  # 40 % of one H100 for an hour
    doc = run([gpu()], seconds=3600, flops=flops)
    assert doc["work"]["mfu"] == pytest.approx(0.4)
    assert doc["work"]["cci_g_per_eflop"] == pytest.approx(doc["carbon"]["total_kg"] * 1000 / (flops / 1e18))
    check_formulas(doc)


def test_flops_from_6nd_when_not_counted():
    doc = run([gpu()], tokens=1_000_000, accounting_options={"model_params": 125e6})
    assert doc["work"]["flops"] == pytest.approx(6 * 125e6 * 1e6)
    assert doc["work"]["flops_source"].startswith("6*N*D")


def test_bounds_follow_sensor_uncertainty():
    counter = run([gpu()], pue=1.2, intensity_g_per_kwh=300, wue_l_per_kwh=0.5, ewif_l_per_kwh=2.0)
    lo, hi = counter["bounds"]["energy.it_kwh"]
    v = counter["energy"]["it_kwh"]
    assert lo == pytest.approx(v * 0.95) and hi == pytest.approx(v * 1.05)  # NVML-class counter, ±5 %
    lo, hi = counter["bounds"]["carbon.operational_kg"]  # exact user factors: only the energy spreads
    assert lo == pytest.approx(counter["carbon"]["operational_kg"] * 0.95)
    comps = [{"id": "cpu", "kind": "cpu", "name": "x", "energy_j": 1000.0, "uncertainty_rel": 0.5}]
    acc = account(components=comps, duration_s=10, work={}, factors=resolve_factors(pue=1.0, env={}))
    assert acc["bounds"]["energy.it_j"] == [500.0, 1500.0]  # an estimate, ±50 %


def test_default_factor_ranges_widen_the_bounds():
    doc = run([gpu()])
    lo, hi = doc["bounds"]["water.onsite_l"]
    assert lo == 0.0 and hi > doc["water"]["onsite_l"] * 4  # WUE 0 (air-cooled) .. 9 (hot cooling tower)
    lo, hi = doc["bounds"]["energy.facility_kwh"]
    assert lo == pytest.approx(doc["energy"]["it_kwh"] * 0.95)  # PUE may be 1.0 for a machine outside a data centre


class _FakeLive:
    """A stand-in for LiveGrid with fixed readings (the real one is tested in test_grid_live)."""

    def __init__(self, readings):
        self._r = readings

    def readings(self):
        return list(self._r)

    def status(self):
        return {"provider": "ukci", "source": "test", "zone": None, "status": "live" if self._r else "fallback",
                "readings": len(self._r), "reason": None if self._r else "HTTP 503"}

    def start(self):
        pass

    def stop(self, wait_s=0.0):
        pass


def test_carbon_is_summed_per_interval_against_a_time_series():
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    factors = resolve_factors(pue=1.0, env={})
    factors.live = _FakeLive([(t0, 100.0), (t0 + dt.timedelta(seconds=1800), 300.0)])
    timeline = {"t_s": [0.0, 900.0, 1800.0, 2700.0, 3600.0], "energy_j": {"gpu:0": [0.0, 1e6, 2e6, 3e6, 4e6]}}
    comps = [{"id": "gpu:0", "kind": "synthetic", "name": "x", "energy_j": 4e6, "uncertainty_rel": 0.05}]
    acc = account(components=comps, duration_s=3600, work={}, factors=factors, started_at=t0, timeline=timeline)
    kwh = 1e6 / J_PER_KWH
    assert acc["carbon"]["operational_kg"] == pytest.approx((2 * kwh * 100 + 2 * kwh * 300) / 1000)
    ci = acc["factors"]["carbon_intensity_g_per_kwh"]
    assert ci["value"] == pytest.approx(200.0) and ci["origin"] == "live"
    assert acc["carbon"]["operational_kg"] == pytest.approx(acc["energy"]["facility_kwh"] * ci["value"] / 1000)
    assert acc["grid"]["status"] == "live" and len(acc["grid"]["series"]) == 2


def test_live_failure_falls_back_with_the_reason():
    factors = resolve_factors(region="GB", env={})
    factors.live = _FakeLive([])
    comps = [{"id": "gpu:0", "kind": "synthetic", "name": "x", "energy_j": 3.6e6, "uncertainty_rel": 0.05}]
    acc = account(components=comps, duration_s=60, work={}, factors=factors)
    ci = acc["factors"]["carbon_intensity_g_per_kwh"]
    assert ci["value"] == factors.carbon_intensity.value and "HTTP 503" in ci["note"]
    assert acc["grid"]["status"] == "fallback" and acc["grid"]["reason"] == "HTTP 503"


def test_partial_snapshots_also_satisfy_the_formulas():
    clock = ManualClock()
    t = wp.Tracker(sensors=[gpu()], interval_s=math.inf, clock=clock, save=False, handle_signals=False, env={}, region="DE")
    t.start()
    clock.advance(30)
    t.sample_now()
    t.step(3, tokens=300)
    snap = t.snapshot().to_dict()
    assert snap["status"] == "partial"
    check_formulas(snap)
    with t.window("eval"):
        clock.advance(5)
    check_formulas(t.stop().to_dict())


def test_csv_flattening_reads_factor_values():
    clock = ManualClock()
    t = wp.Tracker(sensors=[gpu()], interval_s=math.inf, clock=clock, save=False, handle_signals=False, env={}, region="FR")
    t.start()
    clock.advance(10)
    row = t.stop().csv_row()
    assert row["factors.pue"] == 1.56 and row["region"] == "FR"
    assert row["factors.carbon_intensity_g_per_kwh"] == pytest.approx(56.04)


def test_account_is_pure_given_a_live_snapshot():
    """account() prices a given live snapshot; it reads nothing off the factors then."""
    from wattprint.footprint.factors import LiveReadings

    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    readings = [(t0, 100.0), (t0 + dt.timedelta(seconds=1800), 300.0)]
    timeline = {"t_s": [0.0, 1800.0, 3600.0], "energy_j": {"gpu:0": [0.0, 1e6, 2e6]}}
    comps = [{"id": "gpu:0", "kind": "synthetic", "name": "x", "energy_j": 2e6, "uncertainty_rel": 0.05}]
    with_live = resolve_factors(pue=1.0, env={})
    with_live.live = _FakeLive(readings)
    by_default = account(components=comps, duration_s=3600, work={}, factors=with_live, started_at=t0, timeline=timeline)
    snapshot = with_live.live_readings()
    assert snapshot is not None and snapshot.readings == tuple(readings)
    with_live.live = _FakeLive([])  # the live state moves on; the snapshot does not
    pure = resolve_factors(pue=1.0, env={})
    given = account(components=comps, duration_s=3600, work={}, factors=pure, started_at=t0, timeline=timeline, live=snapshot)
    again = account(components=comps, duration_s=3600, work={}, factors=with_live, started_at=t0, timeline=timeline, live=snapshot)
    assert by_default == given == again
    assert given["grid"]["status"] == "live" and pure.live is None
    no_live = account(components=comps, duration_s=3600, work={}, factors=pure)
    assert "grid" not in no_live
    fallback = account(components=comps, duration_s=60, work={}, factors=pure, live=LiveReadings({"status": "pending", "reason": "x"}))
    assert fallback["grid"]["fallback"]["value"] == pure.carbon_intensity.value


def test_embodied_and_peak_flops_are_separate_figures():
    from wattprint.footprint.accounting import embodied, peak_flops

    factors = resolve_factors(pue=1.0, env={})
    h100 = {"id": "gpu:0", "kind": "gpu", "name": "NVIDIA H100 80GB HBM3", "info": {"count": 2}}
    mystery = {"id": "gpu:1", "kind": "gpu", "name": "Mystery Accelerator 9000"}
    assert peak_flops([h100]) == pytest.approx(2 * 989.4e12)
    assert peak_flops([h100, mystery]) is None and peak_flops([]) is None  # a partial peak would give a wrong MFU
    from wattprint.footprint.hardware import lookup_accelerator

    spec = lookup_accelerator("H100")
    emb = embodied([h100, mystery], 3600.0, factors)
    assert emb.kg == pytest.approx(2 * spec.embodied_kgco2e * 3600 / (spec.lifetime_years * SECONDS_PER_YEAR))
    assert emb.low_kg <= emb.kg <= emb.high_kg
    assert emb.section["missing"] == ["gpu:1 (Mystery Accelerator 9000)"] and emb.section["devices"][0]["count"] == 2
    off = resolve_factors(pue=1.0, env={}, embodied=False)
    assert embodied([h100], 3600.0, off).kg is None and peak_flops([h100]) is not None
