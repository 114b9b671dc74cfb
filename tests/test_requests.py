"""The request ledger: conservation, weighting, idle energy, late requests, the log (issue 13).

Deterministic: a ManualClock and replayed power; ticks are ``sample_now()`` calls.
"""

from __future__ import annotations

import json
import random
import threading

import jsonschema
import pytest

from wattprint import ConfigError
from wattprint.footprint.accounting import footprint_schema
from wattprint.testing import replay_tracker

W = 300.0


def _run(ticks_s=0.5, duration_s=10.0, **kw):
    t, clock = replay_tracker(W, **kw)
    t.start()
    return t, clock, clock.monotonic()


def _advance(t, clock, seconds, tick_s=0.5):
    n = int(round(seconds / tick_s))
    for _ in range(n):
        clock.advance(tick_s)
        t.sample_now()


def _inference(fp):
    return fp.to_dict()["inference"]


def test_conservation_200_requests_8_concurrent_300w():
    """Done when: 8 concurrent clients, 200 requests, a replayed 300 W device: Σ + idle = measured within 1 %."""
    t, clock, t0 = _run()
    rng = random.Random(7)
    slots = [t0 + rng.uniform(0, 1) for _ in range(8)]  # each client's next free time
    recs = []
    for _ in range(200):
        c = min(range(8), key=lambda i: slots[i])
        start = slots[c] + rng.uniform(0.0, 0.3)  # think time: some idle
        dur = rng.uniform(0.05, 1.5)
        ft = start + dur * rng.uniform(0.05, 0.3)
        recs.append((rng.randint(5, 200), rng.randint(1, 300), start, start + dur, ft))
        slots[c] = start + dur
    end = max(r[3] for r in recs) + 2.0
    recs.sort(key=lambda r: r[3])
    done = []
    for tin, tout, s, e, ft in recs:
        while clock.monotonic() < e:
            clock.advance(0.25)
            t.sample_now()
        done.append(t.record_request(tin, tout, s, e, first_token_s=ft, model="m"))
    clock.advance(end - clock.monotonic())
    fp = t.stop()
    inf = _inference(fp)
    assert inf["requests"] == 200
    total = sum(r.energy_j for r in done)
    assert inf["estimated_energy_j"] == 0.0
    assert total + inf["idle_energy_j"] == pytest.approx(inf["measured_energy_j"], rel=1e-9)
    assert inf["measured_energy_j"] == pytest.approx(fp.energy_j, rel=1e-9)
    assert abs(total + inf["idle_energy_j"] - fp.energy_j) / fp.energy_j < 0.01
    assert inf["energy_j"] == pytest.approx(total, rel=1e-9)
    jsonschema.validate(fp.to_dict(), footprint_schema())
    # no request is charged more than the device drew while it was active
    for r in done:
        assert r.energy_j <= W * (r.end_s - r.start_s) * (1 + 1e-9)


def test_twice_the_tokens_twice_the_energy_and_overlap_shares():
    t, clock, t0 = _run()
    _advance(t, clock, 1.0)
    a = t.record_request(10, 50, t0 + 1, t0 + 3, model="m")
    b = t.record_request(20, 100, t0 + 1, t0 + 3, model="m")
    _advance(t, clock, 3.0)
    t.stop()
    assert b.energy_j == pytest.approx(2 * a.energy_j, rel=1e-9)
    assert a.energy_j + b.energy_j == pytest.approx(W * 2.0, rel=1e-9)  # shared, not each the whole interval


def test_idle_energy_is_power_times_idle_time_and_no_charge_outside_activity():
    t, clock, t0 = _run()
    _advance(t, clock, 2.0)
    a = t.record_request(5, 5, t0 + 0.2, t0 + 1.2)  # crosses a tick at 1.0 (and 0.5)
    _advance(t, clock, 4.0)
    b = t.record_request(5, 5, t0 + 5.1, t0 + 5.4)  # inside one 0.5 s interval
    _advance(t, clock, 4.0)
    fp = t.stop()
    inf = _inference(fp)
    assert a.energy_j == pytest.approx(W * 1.0, rel=1e-9)
    assert b.energy_j == pytest.approx(W * 0.3, rel=1e-9)
    assert inf["idle_energy_j"] == pytest.approx(W * (10.0 - 1.3), rel=1e-9)
    assert inf["idle_share"] == pytest.approx(8.7 / 10.0, rel=1e-9)


def test_context_manager_open_request_blocks_settling_and_splits_prefill():
    t, clock, t0 = _run()
    with t.request(tokens_in=100, model="tiny", endpoint="/v1/completions") as r:
        clock.advance(0.5)
        t.sample_now()
        assert not r.done  # still open: its intervals wait
        r.first_token()
        clock.advance(1.5)
        t.sample_now()
        r.tokens_out = 30
    clock.advance(0.5)
    t.sample_now()
    assert r.done
    assert r.energy_j == pytest.approx(W * 2.0, rel=1e-9)
    # prefill: 100 tokens x 0.25 in [0, 0.5]; decode: 30 x 1 in [0.5, 2] -> the whole of each phase's intervals
    assert r.prefill_j == pytest.approx(W * 0.5, rel=1e-9)
    fp = t.stop()
    inf = _inference(fp)
    assert inf["prefill"]["requests"] == 1
    assert inf["prefill"]["prefill_energy_j"] == pytest.approx(150.0)
    assert inf["prefill"]["mean_ttft_s"] == pytest.approx(0.5)
    assert inf["by_model"]["tiny"]["requests"] == 1


def test_prefill_and_decode_weights_are_settable():
    t, clock, t0 = _run(prefill_token_weight=1.0, decode_token_weight=0.0)
    _advance(t, clock, 1.0)
    a = t.record_request(10, 0, t0, t0 + 1)
    b = t.record_request(30, 1000, t0, t0 + 1)
    t.stop()
    assert b.energy_j == pytest.approx(3 * a.energy_j, rel=1e-9)


def test_late_request_is_estimated_and_marked():
    t, clock, t0 = _run(request_retention_s=1.0)
    _advance(t, clock, 1.0)
    t.record_request(10, 10, t0, t0 + 1.0)  # on time: sets the run's J per weighted token
    _advance(t, clock, 3.0)  # intervals older than 1 s settle
    late = t.record_request(10, 10, t0 + 0.5, t0 + 1.0)
    fp = t.stop()
    inf = _inference(fp)
    assert late.estimated and late.estimated_j > 0
    assert inf["estimated_requests"] == 1
    assert inf["energy_j"] + inf["idle_energy_j"] == pytest.approx(inf["measured_energy_j"], rel=1e-9)


def test_threads_share_the_ledger_safely():
    t, clock, t0 = _run()
    recs, lock = [], threading.Lock()

    def client():
        for _ in range(25):
            with t.request(tokens_in=8) as r:
                r.tokens_out = 16
            with lock:
                recs.append(r)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for th in threads:
        th.start()
    for _ in range(20):
        clock.advance(0.1)
        t.sample_now()
    for th in threads:
        th.join(60)
    clock.advance(1.0)
    fp = t.stop()
    inf = _inference(fp)
    assert inf["requests"] == 200 == len(recs)
    assert sum(r.energy_j for r in recs) + inf["idle_energy_j"] == pytest.approx(fp.energy_j, rel=1e-9)


def test_requests_log_is_json_lines_in_output_dir(tmp_path):
    t, clock, t0 = _run(requests_log="requests.jsonl", output_dir=str(tmp_path))
    _advance(t, clock, 1.0)
    t.record_request(4, 8, t0, t0 + 0.5, first_token_s=t0 + 0.1, model="m")
    t.record_request(4, 8, t0 + 0.25, t0 + 1.0)
    _advance(t, clock, 1.0)
    fp = t.stop()
    rows = [json.loads(x) for x in (tmp_path / "requests.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    assert sum(r["energy_j"] for r in rows) == pytest.approx(_inference(fp)["energy_j"])
    assert rows[0]["components"]["gpu:0"] == pytest.approx(rows[0]["energy_j"])
    assert rows[0]["carbon_g"] > 0 and rows[0]["water_ml"] > 0
    assert rows[0]["ttft_s"] == pytest.approx(0.1)
    r = rows[0]
    assert r["water_onsite_ml"] + r["water_offsite_ml"] == pytest.approx(r["water_ml"])
    lo, hi = r["bounds"]["energy_j"]
    assert lo < r["energy_j"] < hi
    assert r["bounds"]["carbon_g"][0] < r["carbon_g"] < r["bounds"]["carbon_g"][1]


def test_no_inference_section_without_requests_and_errors():
    t, clock, t0 = _run()
    with pytest.raises(ValueError):
        t.record_request(-1, 3, t0, t0 + 1)
    with pytest.raises(ValueError):
        t.record_request(1, 3, t0 + 1, t0)
    clock.advance(1.0)
    assert "inference" not in t.stop().to_dict()
    for kw in ({"prefill_token_weight": -1.0}, {"request_retention_s": 0.0}, {"requests_log": "a/b.jsonl"}):
        with pytest.raises(ConfigError) as err:
            replay_tracker(W, **kw)
        assert next(iter(kw)) in str(err.value)
    t, _ = replay_tracker(W)
    from wattprint import WattprintError

    with pytest.raises(WattprintError):
        t.record_request(1, 1, 0.0, 1.0)


class _Broken:
    def export(self, fp):
        pass

    def on_request(self, row):
        raise RuntimeError("exporter down")


def test_failing_request_exporter_and_bad_tokens_never_break_serving(caplog):
    t, clock, t0 = _run(exporters=[_Broken()])
    with t.request(tokens_in=3) as r:
        clock.advance(0.5)
        r.tokens_out = "lots"  # not a count: dropped with a warning, the request still counts
    t.record_request(1, 2, t0, t0 + 0.5)
    clock.advance(0.5)
    fp = t.stop()
    inf = _inference(fp)
    assert inf["requests"] == 2
    assert inf["energy_j"] + inf["idle_energy_j"] == pytest.approx(fp.energy_j, rel=1e-9)
    assert "skipped from now on" in caplog.text and "tokens_out" in caplog.text
