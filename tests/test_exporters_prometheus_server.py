"""Against a real Prometheus: every dashboard query, evaluated through its HTTP API, means one thing
whatever the transport.

One Prometheus (1 s scrapes) scrapes the pull endpoints and a real Pushgateway
(its own persistence file). Three transports run side by side, told apart by
``project``: ``pull`` (endpoints only), ``push`` (Pushgateway only) and
``both`` (each run scraped and pushed). Each has two concurrent runs of
different lengths (6 and 4 replayed seconds; only the long one counts
tokens). After both ended, every dashboard total equals the sum of the two
JSON footprints within 1 %, the final scraped energy equals the JSON's,
``run_info`` ends ``completed``, and no power series of an ended run is left.
"""

from __future__ import annotations

import json
import re
import threading
import time

import pytest

pytest.importorskip("prometheus_client")
pytestmark = pytest.mark.slow  # starts a real Prometheus and Pushgateway

from conftest_pushgateway import replay_tracker  # noqa: E402
from servers.prometheus import SCRAPE_INTERVAL_S, start_prometheus  # noqa: E402
from servers.pushgateway import start_pushgateway  # noqa: E402
from test_dashboard import _dashboard, _queries  # noqa: E402
from wattprint.exporters.prometheus import PrometheusExporter  # noqa: E402

MODES = ("pull", "push", "both")
CAP_S = 60.0  # every wait below ends on a condition; this only bounds it on a stuck server
LENGTHS_S = {"long": 6, "short": 4}
WATTS = {"long": 120.0, "short": 80.0}


def _grafana(expr: str, project: str) -> str:
    subs = {"$__range": "10m", "$rate_window": f"{4 * SCRAPE_INTERVAL_S:g}s", "$project": project, "$run_id": ".*",
            "$__rate_interval": "4s", "$__interval": "1s"}
    for var, value in subs.items():
        expr = expr.replace(var, value)
    assert "$" not in expr, expr
    return expr


def _panel_exprs():
    out = {}

    def walk(panels):
        for p in panels:
            for tgt in p.get("targets") or []:
                out[(p["title"], tgt.get("refId"))] = tgt["expr"]
            walk(p.get("panels") or [])

    walk(_dashboard()["panels"])
    return out


@pytest.fixture(scope="module")
def observed(tmp_path_factory):
    """Run the six runs under a real Prometheus; yield (prometheus, {mode: {name: json doc}}, t_start, t_end)."""
    tmp = tmp_path_factory.mktemp("prom-server")
    gw = start_pushgateway(str(tmp))
    try:
        yield from _observe(tmp, gw)
    finally:
        gw.stop()


class Observed(PrometheusExporter):
    """The real exporter, counting the live samples it has handled (its worker thread's pace is not the test's)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.handled = 0

    def on_sample(self, footprint):
        try:
            super().on_sample(footprint)
        finally:
            self.handled += 1


def _until(what, check):
    deadline = time.monotonic() + CAP_S
    while not check():
        assert time.monotonic() < deadline, f"{what} within {CAP_S:g} s"
        time.sleep(0.02)


def _live_values_scraped(exps, ticks):
    """Each endpoint handled its ``ticks``-th sample and was scraped twice since (the second scrape began after
    the sample was exposed); pushed samples are on the gateway once handled (the push is synchronous)."""
    for exp in exps:
        _until("the exporter handled the sample", lambda exp=exp: exp.handled >= ticks)
    seen = [(exp, exp.scrapes) for exp in exps if exp.port is not None]
    for exp, n in seen:  # the endpoints are scraped side by side: waiting for one lets the others' scrapes happen
        _until("Prometheus scraped the live values", lambda exp=exp, n=n: exp.scrapes >= n + 2)


def _observe(tmp, gw):
    runs = {}
    for mode in MODES:
        for name in LENGTHS_S:
            kwargs = {}
            if mode in ("pull", "both"):
                kwargs.update(port=0, linger_s=CAP_S, scrape_interval_s=SCRAPE_INTERVAL_S)  # ends at the first final scrape
            if mode in ("push", "both"):
                kwargs.update(pushgateway=gw.addr, push_interval_s=0.0)
            exp = Observed(**kwargs)
            t, clock = replay_tracker([exp], power_w=WATTS[name], run_id=f"{mode}-{name}", project=mode, save=True,
                                      output_dir=str(tmp / "runs"), total_steps=LENGTHS_S[name] * 2, export_timeout_s=CAP_S)
            runs[(mode, name)] = (exp, t, clock)
    # one more run whose replayed clock follows the wall clock, so that rates can be checked against its power
    rate_exp = PrometheusExporter(port=0, linger_s=CAP_S, scrape_interval_s=SCRAPE_INTERVAL_S)
    rate_t, rate_clock = replay_tracker([rate_exp], power_w=WATTS["long"], run_id="rate-1", project="rate", save=False, interval_s=0.05)
    rate_stop = threading.Event()

    def follow_the_wall_clock() -> None:  # the rate run's replayed clock keeps up with real time, sampled every 50 ms
        start_wall, start_clock = time.monotonic(), rate_clock.monotonic()
        while not rate_stop.wait(0.05):
            rate_clock.advance(max(0.0, time.monotonic() - start_wall - (rate_clock.monotonic() - start_clock)))
            rate_t.sample_now()
    targets = [f"127.0.0.1:{exp.port}" for exp, _, _ in runs.values() if exp.port is not None] + [f"127.0.0.1:{rate_exp.port}"]
    prom = start_prometheus(str(tmp), targets, gw.addr)
    try:
        # wait (bounded) until Prometheus scrapes every pull target: the runs start once it is watching
        prom.wait_until('count(up{job="wattprint"} == 1) or vector(0)', lambda r: float(r[0]["value"][1]) == len(targets), CAP_S)
        t_start = time.time()
        for _, t, _ in runs.values():
            t.start()
        rate_t.start()
        follower = threading.Thread(target=follow_the_wall_clock, daemon=True)
        follower.start()
        for tick in range(max(LENGTHS_S.values())):
            ticking = [exp for (_mode, name), (exp, _t, _clock) in runs.items() if tick < LENGTHS_S[name]]
            for (_mode, name), (_exp, t, clock) in runs.items():
                if tick < LENGTHS_S[name]:
                    clock.advance(1.0)
                    t.step(2, samples=16, tokens=512 if name == "long" else None)
                    t.sample_now()
            _live_values_scraped(ticking, tick + 1)  # a scrape of the live values between ticks
            for (_mode, name), (_exp, t, _clock) in runs.items():
                if tick + 1 == LENGTHS_S[name] and t.running:
                    t.stop()
        rate_stop.set()
        follower.join(10)
        rate_t.stop()
        docs = {}
        for (mode, name), (_exp, t, _) in runs.items():
            if t.running:
                t.stop()
            with open(t.json_path, encoding="utf-8") as fh:
                docs.setdefault(mode, {})[name] = json.load(fh)
        for exp in [e for e, _, _ in runs.values()] + [rate_exp]:
            if exp.port is not None:
                assert exp.wait_closed(CAP_S), "the endpoint never saw its final values scraped"
        # every transport's final values are in Prometheus (pushed groups are scraped within a second)
        for mode in MODES:
            want = sum(d["energy"]["it_j"] for d in docs[mode].values())
            prom.wait_until(
                f'sum(max by (run_id, rank, component) (last_over_time(wattprint_energy_joules_total{{project="{mode}"}}[10m])))',
                lambda r, want=want: bool(r) and abs(float(r[0]["value"][1]) - want) <= 1e-6 * want, CAP_S)
        # the scrapes of the final values (no live gauges, no running status) wrote the stale markers of the live series
        prom.wait_until("count(wattprint_power_watts) or vector(0)", lambda r: float(r[0]["value"][1]) == 0, CAP_S)
        prom.wait_until('count(wattprint_run_info{status="running"}) or vector(0)', lambda r: float(r[0]["value"][1]) == 0, CAP_S)
        yield prom, docs, t_start, time.time()
    finally:
        for _exp, t, _ in list(runs.values()) + [(rate_exp, rate_t, rate_clock)]:
            if t.running:
                t.stop()
        rate_stop.set()
        prom.server.stop()


def _total(docs, fn):
    return sum(fn(d) for d in docs.values())


@pytest.mark.parametrize("mode", MODES)
def test_dashboard_totals_equal_the_sum_of_the_json_footprints(observed, mode):
    prom, docs, _, _ = observed
    d = docs[mode]
    exprs = _panel_exprs()
    want = {
        ("IT energy", "A"): _total(d, lambda x: x["energy"]["it_j"]) / 3.6e6,
        ("Facility energy", "A"): _total(d, lambda x: x["energy"]["facility_kwh"]),
        ("Carbon", "A"): _total(d, lambda x: x["carbon"]["total_kg"]) * 1000.0,
        ("Water", "A"): _total(d, lambda x: x["water"]["total_l"]),
        ("Energy per token", "A"): d["long"]["energy"]["it_j"] / d["long"]["work"]["tokens"],
        ("Run duration", "A"): None,
    }
    for key, expected in want.items():
        if expected is None:
            continue
        got = prom.value(_grafana(exprs[key], mode))
        assert got == pytest.approx(expected, rel=0.01), f"{key[0]} ({mode}): {got} vs {expected}"
    by_scope = {r["metric"]["scope"]: float(r["value"][1]) for r in prom.query(_grafana(exprs[("Carbon by scope", "A")], mode))}
    assert by_scope["operational"] == pytest.approx(_total(d, lambda x: x["carbon"]["operational_kg"]) * 1000.0, rel=0.01)
    per_component = {r["metric"]["component"]: float(r["value"][1]) for r in prom.query(_grafana(exprs[("Energy by component (cumulative)", "A")], mode))}
    assert sum(per_component.values()) == pytest.approx(_total(d, lambda x: x["energy"]["it_j"]) / 3.6e6, rel=0.01)
    durations = {r["metric"]["run_id"]: float(r["value"][1]) for r in prom.query(_grafana(exprs[("Run duration", "A")], mode))}
    assert durations == pytest.approx({f"{mode}-{n}": float(s) for n, s in LENGTHS_S.items()}, rel=0.01)


@pytest.mark.parametrize("mode", MODES)
def test_final_energy_and_status_reach_prometheus_and_ended_runs_have_no_power(observed, mode):
    prom, docs, _, _ = observed
    exprs = _panel_exprs()
    for name, doc in docs[mode].items():
        rows = prom.query(f'max by (component) (last_over_time(wattprint_energy_joules_total{{run_id="{mode}-{name}"}}[10m]))')
        assert {r["metric"]["component"]: float(r["value"][1]) for r in rows} == pytest.approx(
            {c["id"]: c["energy_j"] for c in doc["components"]}, rel=1e-9)
    statuses = {r["metric"]["run_id"]: r["metric"]["status"] for r in prom.query(_grafana(exprs[("Runs", "A")], mode))}
    assert statuses == {f"{mode}-long": "completed", f"{mode}-short": "completed"}
    assert prom.query(_grafana(exprs[("Power now", "A")], mode)) == []
    assert prom.query(_grafana(exprs[("Power by component", "A")], mode)) == []
    assert prom.query(_grafana(exprs[("Seconds since last update", "A")], mode)) == []
    # the progress of a run that ended at its total_steps is 1
    assert prom.value(_grafana(exprs[("Progress", "A")], mode)) == pytest.approx(1.0)


def test_every_dashboard_query_evaluates_on_the_real_server(observed):
    prom, _, _, t_end = observed
    problems = []
    for where, expr in _queries(_dashboard()):
        for mode in MODES:
            q = _grafana(expr, mode)
            try:
                prom.query(q)
                prom.query_range(q, t_end - 30.0, t_end, SCRAPE_INTERVAL_S)
            except AssertionError as err:
                problems.append(f"{where} ({mode}): {err}")
    assert not problems, "\n".join(problems)


def test_live_power_was_seen_while_the_runs_ran_one_series_per_run(observed):
    prom, docs, t_start, t_end = observed
    exprs = _panel_exprs()
    series = prom.query_range(_grafana(exprs[("Power by component", "A")], "both"), t_start, t_end, SCRAPE_INTERVAL_S)
    gpu = [s for s in series if s["metric"]["component"] == "gpu:0"]
    assert {s["metric"]["run_id"] for s in gpu} == {"both-long", "both-short"}
    peak = {s["metric"]["run_id"]: max(float(v[1]) for v in s["values"]) for s in gpu}
    assert peak == pytest.approx({"both-long": WATTS["long"], "both-short": WATTS["short"]})
    # a run scraped and pushed at once is one series per component after the dashboard's reduction
    assert len(gpu) == 2
    # no doubling: the raw data has two transports for each "both" run
    raw = prom.query('count by (run_id) (last_over_time(wattprint_run_duration_seconds{project="both"}[10m]))')
    assert all(float(r["value"][1]) == 2 for r in raw)
    assert re.search(r"irate\(", exprs[("Power from the energy counters", "A")])


def test_rate_panels_read_the_true_power_of_a_short_run(observed):
    """A run of a few seconds: irate over the dashboard's window reads its power; a 1 min rate() (Grafana's
    $__rate_interval at a 15 s scrape interval) reads a fraction of it."""
    prom, _, t_start, t_end = observed
    exprs = _panel_exprs()
    series = prom.query_range(_grafana(exprs[("Power from the energy counters", "A")], "rate"), t_start, t_end, SCRAPE_INTERVAL_S)
    (gpu,) = [s for s in series if s["metric"]["component"] == "gpu:0"]
    values = sorted(float(v[1]) for v in gpu["values"])
    # the median: one late scrape or a stalled wall-clock follower skews a point or two, not the run's reading
    assert values[len(values) // 2] == pytest.approx(WATTS["long"], rel=0.3)
    slow = prom.query_range('sum(rate(wattprint_energy_joules_total{project="rate", component="gpu:0"}[1m]))', t_start, t_end, SCRAPE_INTERVAL_S)
    assert max(float(v[1]) for v in slow[0]["values"]) < 0.5 * WATTS["long"]
