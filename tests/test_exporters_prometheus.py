"""PrometheusExporter against real clients: an HTTP scrape parsed by prometheus_client,
promtool's linter, and a real Pushgateway started on loopback."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("prometheus_client")

from conftest_pushgateway import (  # noqa: F401
    dead_port,
    free_port,
    pushgateway,
    replay_tracker,
    samples_of,
    scrape,
)
from wattprint.errors import ConfigError
from wattprint.exporters.prometheus import METRICS, PrometheusExporter

DOCS = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "exporters.md")


class ObservedExporter(PrometheusExporter):
    """The real exporter, plus a semaphore released after each live sample is handled."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.handled = threading.Semaphore(0)

    def on_sample(self, footprint) -> None:
        try:
            super().on_sample(footprint)
        finally:
            self.handled.release()


def _sample(t, clock, exp, seconds: float) -> None:
    clock.advance(seconds)
    t.sample_now()
    assert exp.handled.acquire(timeout=30), "the exporter's worker never handled the sample"


def _energy_by_component(text: str) -> dict:
    return {s.labels["component"]: s.value for s in samples_of(text, "wattprint_energy_joules_total")}


def test_live_endpoint_is_scraped_and_energy_rises():
    exp = ObservedExporter(port=0, rank=3, linger_s=30.0)
    t, clock = replay_tracker([exp], project="scrape-me", run_id="live-1", save=False, total_steps=10)
    t.start()
    try:
        t.step(2, tokens=64)
        _sample(t, clock, exp, 2.0)
        first = scrape(exp.url)
        t.step(3, tokens=96)
        _sample(t, clock, exp, 3.0)
        second = scrape(exp.url)
    finally:
        t.stop()
    e1, e2 = _energy_by_component(first), _energy_by_component(second)
    assert e1 == pytest.approx({"gpu:0": 200.0, "cpu:package-0": 50.0})
    assert e2 == pytest.approx({"gpu:0": 500.0, "cpu:package-0": 125.0})
    assert all(e2[c] > e1[c] for c in e1)

    (gpu,) = [s for s in samples_of(second, "wattprint_energy_joules_total") if s.labels["component"] == "gpu:0"]
    assert gpu.labels == {
        "run_id": "live-1",
        "project": "scrape-me",
        "component": "gpu:0",
        "kind": "gpu",
        "source": "replay.counter",
        "measured": "true",
        "host": socket.gethostname(),
        "rank": "3",
    }
    power = {s.labels["component"]: s.value for s in samples_of(second, "wattprint_power_watts")}
    assert power == pytest.approx({"gpu:0": 100.0, "cpu:package-0": 25.0})
    assert samples_of(second, "wattprint_steps_total")[0].value == 5
    assert samples_of(second, "wattprint_tokens_total")[0].value == 160
    assert samples_of(second, "wattprint_run_duration_seconds")[0].value == pytest.approx(5.0)
    assert samples_of(second, "wattprint_progress_ratio")[0].value == pytest.approx(0.5)
    assert samples_of(second, "wattprint_forecast_energy_joules")[0].value == pytest.approx(1250.0)
    (info,) = samples_of(second, "wattprint_run_info")
    assert info.labels["status"] == "running" and info.value == 1

    # carbon and water in base units, and consistent with the footprint's own figures
    fp = t.footprint
    live = {s.labels["scope"]: s.value for s in samples_of(second, "wattprint_carbon_grams_total")}
    assert live["operational"] == pytest.approx(625.0 / 3.6e6 * fp.get("factors.pue.value") * fp.get("factors.carbon_intensity_g_per_kwh.value"))
    water = {s.labels["scope"]: s.value for s in samples_of(second, "wattprint_water_cubic_meters_total")}
    assert water["onsite"] == pytest.approx(625.0 / 3.6e6 * fp.get("factors.wue_l_per_kwh.value") / 1000.0)
    fac = samples_of(second, "wattprint_facility_energy_joules_total")[0].value
    assert fac == pytest.approx(625.0 * fp.get("factors.pue.value"))

    # after the run the endpoint lingers with the final values (status completed, no live power),
    # and goes down once a scrape has seen them
    final = scrape(exp.url)
    (info,) = samples_of(final, "wattprint_run_info")
    assert info.labels["status"] == "completed"
    assert samples_of(final, "wattprint_power_watts") == [] and samples_of(final, "wattprint_forecast_energy_joules") == []
    assert {s.labels["component"]: s.value for s in samples_of(final, "wattprint_energy_joules_total")} == pytest.approx(
        {c["id"]: c["energy_j"] for c in fp.get("components")}
    )
    assert exp.wait_closed(60.0)  # a cap only: it closes right after the scrape that saw the final values
    with pytest.raises(OSError):
        scrape(exp.url)


def test_exposition_passes_promtool_and_matches_the_documented_table():
    exp = ObservedExporter(port=0)
    t, clock = replay_tracker([exp], save=False, total_steps=4)
    t.start()
    try:
        t.step(1, samples=8, tokens=32)
        _sample(t, clock, exp, 1.5)
        text = scrape(exp.url)
    finally:
        t.stop()
    from prometheus_client.parser import text_string_to_metric_families

    exposed = {s.name for fam in text_string_to_metric_families(text) for s in fam.samples}
    documented = {m["name"] for m in METRICS}
    assert exposed == documented
    with open(DOCS, encoding="utf-8") as fh:
        docs = fh.read()
    for name in documented:
        assert f"`{name}`" in docs, f"{name} is missing from docs/exporters.md"

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    res = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and not (res.stdout + res.stderr).strip(), res.stdout + res.stderr


def test_nothing_exposed_before_the_first_sample_and_only_own_registry():
    exp = PrometheusExporter(port=0)
    try:
        text = scrape(exp.url)
        assert "wattprint_" not in text
        assert "python_gc" not in text and "process_cpu" not in text  # not the global registry
    finally:
        exp.close()
        exp.close()  # idempotent


def test_binds_loopback_by_default():
    exp = PrometheusExporter(port=0)
    try:
        assert exp.addr == "127.0.0.1"
        assert exp._server._server.server_address[0] == "127.0.0.1"
        assert exp.url == f"http://127.0.0.1:{exp.port}/metrics"
    finally:
        exp.close()


def test_port_in_use_is_a_config_error_naming_the_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        with pytest.raises(ConfigError, match="port"):
            PrometheusExporter(port=port)


@pytest.mark.parametrize("kwargs", [{"port": -1}, {"port": "9100"}, {}, {"port": 0, "push_interval_s": -1}, {"port": 0, "final_push_attempts": 0}])
def test_bad_settings_fail_at_construction(kwargs):
    with pytest.raises(ConfigError):
        PrometheusExporter(**kwargs)


def _gateway_samples(addr: str, name: str, run_id: str) -> list:
    return [s for s in samples_of(scrape(f"http://{addr}/metrics"), name) if s.labels.get("run_id") == run_id]


def test_batch_job_final_figures_land_in_the_pushgateway(pushgateway):  # noqa: F811
    exp = PrometheusExporter(pushgateway=pushgateway, push_interval_s=float("inf"), rank=1)
    t, clock = replay_tracker([exp], run_id="batch-1", project="nightly", save=False)
    t.start()
    clock.advance(4.0)
    fp = t.stop()
    assert exp.pushes == 1 and exp.push_errors == 0
    energy = {s.labels["component"]: s for s in _gateway_samples(pushgateway, "wattprint_energy_joules_total", "batch-1")}
    assert energy["gpu:0"].value == pytest.approx(400.0)
    assert energy["gpu:0"].labels["job"] == "wattprint"
    assert energy["gpu:0"].labels["rank"] == "1"
    assert energy["gpu:0"].labels["project"] == "nightly"
    carbon = {s.labels["scope"]: s.value for s in _gateway_samples(pushgateway, "wattprint_carbon_grams_total", "batch-1")}
    assert carbon["operational"] == pytest.approx(fp.get("carbon.operational_kg") * 1000.0)
    (info,) = _gateway_samples(pushgateway, "wattprint_run_info", "batch-1")
    assert info.labels["status"] == "completed"


def test_periodic_push_during_the_run(pushgateway):  # noqa: F811
    exp = ObservedExporter(pushgateway=pushgateway, push_interval_s=0.0)
    t, clock = replay_tracker([exp], run_id="periodic-1", save=False)
    t.start()
    try:
        _sample(t, clock, exp, 2.0)
        live = {s.labels["component"]: s.value for s in _gateway_samples(pushgateway, "wattprint_energy_joules_total", "periodic-1")}
        assert live["gpu:0"] == pytest.approx(200.0)
        (info,) = _gateway_samples(pushgateway, "wattprint_run_info", "periodic-1")
        assert info.labels["status"] == "running"
        assert _gateway_samples(pushgateway, "wattprint_power_watts", "periodic-1")
    finally:
        t.stop()
    final = {s.labels["component"]: s.value for s in _gateway_samples(pushgateway, "wattprint_energy_joules_total", "periodic-1")}
    assert final["gpu:0"] == pytest.approx(200.0)
    assert exp.pushes == 2
    # the final push replaced the group: counters and the final status stay, the live gauges are gone
    (info,) = _gateway_samples(pushgateway, "wattprint_run_info", "periodic-1")
    assert info.labels["status"] == "completed"
    assert _gateway_samples(pushgateway, "wattprint_power_watts", "periodic-1") == []


def test_delete_on_close_waits_for_a_scrape_then_removes_the_group(pushgateway):  # noqa: F811
    class SeenAtClose(PrometheusExporter):
        def close(self) -> None:  # the gateway as it is when the deletion gets scheduled (not some time later)
            self.at_close = _gateway_samples(pushgateway, "wattprint_energy_joules_total", "gone-1")
            super().close()

    exp = SeenAtClose(pushgateway=pushgateway, push_interval_s=float("inf"), delete_on_close=True, scrape_interval_s=0.25)
    t, clock = replay_tracker([exp], run_id="gone-1", save=False, export_timeout_s=60)
    t.start()
    clock.advance(1.0)
    t.stop()
    assert exp.pushes == 1
    # the final push is on the gateway at close, and its deletion waits two scrape intervals, so a scrape sees it
    # first (checked at close: a check after stop() returns would race the 0.5 s timer on a loaded machine)
    assert exp.at_close
    assert exp.retention_s == pytest.approx(0.5) and exp._pusher._timer.interval == pytest.approx(0.5)
    deadline = time.monotonic() + 60.0  # a cap only: the loop ends when the group is gone
    while _gateway_samples(pushgateway, "wattprint_energy_joules_total", "gone-1") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gateway_samples(pushgateway, "wattprint_energy_joules_total", "gone-1") == []


def test_retention_sweep_deletes_old_groups_of_ended_runs(pushgateway):  # noqa: F811
    old = PrometheusExporter(pushgateway=pushgateway, push_interval_s=float("inf"))
    t, clock = replay_tracker([old], run_id="old-1", save=False)
    t.start()
    clock.advance(1.0)
    t.stop()
    assert _gateway_samples(pushgateway, "wattprint_run_info", "old-1")
    time.sleep(0.3)
    new = PrometheusExporter(pushgateway=pushgateway, push_interval_s=float("inf"), retention_s=0.2)
    t, clock = replay_tracker([new], run_id="new-1", save=False)
    t.start()
    clock.advance(1.0)
    t.stop()
    assert {"run_id": "old-1", "rank": "0"} in new._pusher.swept
    assert _gateway_samples(pushgateway, "wattprint_run_info", "old-1") == []


def test_dead_pushgateway_never_breaks_the_run_or_the_pull_endpoint(tmp_path, caplog):
    exp = ObservedExporter(
        port=0,
        pushgateway=f"127.0.0.1:{dead_port()}",
        push_interval_s=0.0,
        push_timeout_s=1.0,
        retry_backoff_s=0.0,
        final_push_attempts=2,
    )
    t, clock = replay_tracker([exp], run_id="dead-gw", output_dir=str(tmp_path), export_timeout_s=30)
    caplog.set_level(logging.WARNING, logger="wattprint")
    t.start()
    for _ in range(3):
        # the backoff after a failure is at least 1 ms (real time) even with retry_backoff_s=0, so every periodic
        # push is tried only if the samples are that far apart; the sleep makes sure they are (a lower bound)
        time.sleep(0.01)
        _sample(t, clock, exp, 1.0)
        assert _energy_by_component(scrape(exp.url))["gpu:0"] > 0  # pull still serves
    fp = t.stop()
    assert fp.status == "completed"
    with open(tmp_path / "dead-gw.json", encoding="utf-8") as fh:
        assert json.load(fh)["energy"]["it_j"] == pytest.approx(375.0)
    assert exp.pushes == 0 and exp.push_errors == 5  # 3 periodic + 2 final attempts
    push_warnings = [r for r in caplog.records if "retrying with backoff" in r.getMessage()]
    assert len(push_warnings) == 1, "a dead gateway is logged once, not at every push"
    final = [r for r in caplog.records if "failed in export" in r.getMessage()]
    assert len(final) == 1 and "Pushgateway" in str(final[0].exc_info[1])  # logged once, with the traceback


def test_periodic_push_backs_off_after_a_failure():
    exp = PrometheusExporter(pushgateway=f"127.0.0.1:{dead_port()}", push_interval_s=0.0, retry_backoff_s=3600.0)
    t, clock = replay_tracker([], save=False)
    t.start()
    try:
        clock.advance(1.0)
        fp = t.snapshot()
        exp.on_sample(fp)
        exp.on_sample(fp)  # within the backoff: not tried again
        exp.on_sample(fp)
    finally:
        t.stop()
        exp.close()
    assert exp.push_errors == 1


@pytest.mark.slow
def test_cli_prometheus_port_serves_a_live_run(tmp_path):
    """`wattprint run --prometheus-port P` : the child itself scrapes the parent's endpoint until energy rises."""
    port = free_port()
    out = tmp_path / "scraped.json"
    child = f"""
import json, time, urllib.request
from prometheus_client.parser import text_string_to_metric_families
seen = []
deadline = time.monotonic() + 60
while time.monotonic() < deadline and (len(seen) < 2 or seen[-1] <= seen[0]):
    try:
        text = urllib.request.urlopen("http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        text = ""
    total = sum(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == "wattprint_energy_joules_total")
    if total > 0 and (not seen or total != seen[-1]):
        seen.append(total)
    time.sleep(0.2)
json.dump(seen, open({str(out)!r}, "w"))
"""
    res = subprocess.run(
        [sys.executable, "-m", "wattprint", "run", "--quiet", "--interval", "0.5", "--output-dir", str(tmp_path / "runs"),
         "--prometheus-port", str(port), "--", sys.executable, "-c", child],
        capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 0, res.stderr
    seen = json.loads(out.read_text())
    assert len(seen) >= 2 and seen[-1] > seen[0], seen


def test_wattprint_run_pushgateway_flag_delivers_the_final_figures(pushgateway, tmp_path, capsys):  # noqa: F811
    from wattprint.cli.app import main

    rc = main(["run", "--pushgateway", pushgateway, "--run-id", "cli-push-1", "--output-dir", str(tmp_path), "--quiet",
               "--", sys.executable, "-c", "pass"])
    assert rc == 0
    (info,) = _gateway_samples(pushgateway, "wattprint_run_info", "cli-push-1")
    assert info.labels["status"] == "completed"
    doc = json.loads((tmp_path / "cli-push-1.json").read_text())
    pushed = sum(s.value for s in _gateway_samples(pushgateway, "wattprint_energy_joules_total", "cli-push-1"))
    assert pushed == pytest.approx(doc["energy"]["it_j"])


def test_wattprint_pushgateway_environment_variable(pushgateway, tmp_path, monkeypatch):  # noqa: F811
    from wattprint.cli.app import main

    monkeypatch.setenv("WATTPRINT_PUSHGATEWAY", pushgateway)
    assert main(["run", "--run-id", "cli-env-1", "--output-dir", str(tmp_path), "--quiet", "--", sys.executable, "-c", "pass"]) == 0
    (info,) = _gateway_samples(pushgateway, "wattprint_run_info", "cli-env-1")
    assert info.labels["status"] == "completed"


def test_wattprint_run_waits_for_the_linger_and_a_bad_linger_names_the_flag(tmp_path, capsys, monkeypatch):
    from wattprint.cli.app import main

    from wattprint.exporters import _prom_cli

    assert main(["run", "--prometheus-port", "0", "--prometheus-linger", "-1", "--", sys.executable, "-c", "pass"]) == 2
    assert "--prometheus-linger" in capsys.readouterr().err
    made = []
    build = _prom_cli.exporter_from_cli

    def recording(*args, **kwargs):
        made.append(build(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(_prom_cli, "exporter_from_cli", recording)
    assert main(["run", "--prometheus-port", "0", "--prometheus-linger", "0.3", "--output-dir", str(tmp_path), "--quiet",
                 "--", sys.executable, "-c", "pass"]) == 0
    (exp,) = made
    assert exp.linger_s == pytest.approx(0.3)  # the flag is the linger (not the default two scrape intervals)
    assert exp.wait_closed(60.0)  # and it ended: nothing scraped the final values (no wall-clock bound asserted)


def test_linger_ends_at_the_first_scrape_of_the_final_values():
    exp = PrometheusExporter(port=0, linger_s=60.0)
    t, clock = replay_tracker([exp], run_id="linger-1", save=False)
    t.start()
    clock.advance(2.0)
    t.stop()
    assert not exp.wait_closed(0.2)  # still serving: nobody has scraped the final values
    (info,) = samples_of(scrape(exp.url), "wattprint_run_info")
    assert info.labels["status"] == "completed"
    assert exp.wait_closed(60.0)


def test_no_linger_when_nobody_scraped_a_run_longer_than_the_linger():
    exp = PrometheusExporter(port=0, linger_s=0.05)
    t, clock = replay_tracker([exp], run_id="linger-2", save=False)
    t.start()
    time.sleep(0.1)  # the run is longer than the linger (a lower bound: the sleep only makes it longer)
    t.stop()
    assert exp.wait_closed(60.0)


def test_collector_sample_cost_does_not_grow_with_windows_or_timeline():
    """The snapshot reads the components and the figure table's few figures; a footprint with 100,000
    windows and timeline points costs what a small one does (and the collector keeps no reference to it).
    Cost is counted, not timed: the Python lines one update executes (a timing on a loaded machine is noise)."""
    import gc
    import weakref

    from wattprint.exporters._prom_collector import FootprintCollector
    from wattprint.footprint.model import Footprint

    t, clock = replay_tracker([], run_id="cost-1", save=False)
    t.start()
    clock.advance(5.0)
    base = t.stop().to_dict()

    def footprint(n: int) -> Footprint:
        doc = dict(base, windows=[{"name": f"w{i}", "energy_j": 1.0, "duration_s": 1.0} for i in range(n)],
                   window_totals={f"w{i}": {"energy_j": 1.0} for i in range(n)})
        timeline = {"t_s": list(range(n)), "power_w": {"gpu:0": [100.0] * n}, "energy_j": {"gpu:0": [float(i) for i in range(n)]}}
        return Footprint(doc, timeline)

    def lines_run(fp: Footprint) -> int:
        col = FootprintCollector()
        col.update(fp)  # first use: imports and caches out of the count
        count = [0]

        def trace(frame, event, arg):
            if event == "line":
                count[0] += 1
            return trace

        previous = sys.gettrace()
        sys.settrace(trace)
        try:
            col.update(fp)
        finally:
            sys.settrace(previous)
        return count[0]

    small, large = footprint(10), footprint(100_000)
    assert lines_run(large) == lines_run(small) > 0  # no Python loop over the windows or the timeline
    col = FootprintCollector()
    col.update(large)
    ref = weakref.ref(large)
    del large
    gc.collect()
    assert ref() is None
    assert any(f.name == "wattprint_energy_joules" for f in col.collect())


def test_scheduler_context_is_a_bounded_label_of_run_info():
    from wattprint.exporters._prom_collector import FootprintCollector
    from wattprint.footprint.model import Footprint

    t, clock = replay_tracker([], run_id="job-1", save=False)
    t.start()
    clock.advance(2.0)
    doc = t.stop().to_dict()
    doc["job"] = {"job_id": "slurm-4242", "rank": 7, "node": "gpu-node-03" + "x" * 500, "slurm_job_id": "4242",
                  "slurm_step_id": "0", "k8s_pod": "3f2b1c4d-5e6f", "k8s_container": "a" * 64}  # fmt: skip
    col = FootprintCollector()
    col.update(Footprint(doc), final=True)
    fams = {f.name: f for f in col.collect()}
    (info,) = fams["wattprint_run_info"].samples
    assert info.labels["job_id"] == "slurm-4242" and info.labels["node"].startswith("gpu-node-03") and len(info.labels["node"]) <= 128
    assert info.labels["rank"] == "7" and info.labels["status"] == "completed"
    assert (info.labels["slurm_job_id"], info.labels["slurm_step_id"]) == ("4242", "0")
    assert info.labels["k8s_pod"] == "3f2b1c4d-5e6f" and info.labels["k8s_container"] == "a" * 64
    assert all("slurm_job_id" not in s.labels for s in fams["wattprint_energy_joules"].samples)  # info series only: bounded
    assert {s.labels["rank"] for s in fams["wattprint_energy_joules"].samples} == {"7"}
    assert "wattprint_power_watts" not in fams  # final: no live gauges


def test_the_docs_name_table_matches_the_figure_table():
    from wattprint.exporters._names import LOG_NAMES, log_name

    with open(DOCS, encoding="utf-8") as fh:
        docs = fh.read()
    for key in ("energy.it_kwh", "carbon.total_kg"):
        assert f"`{log_name(key)}`" in docs and f"`{key}`" in docs
    assert all(name == "wattprint." + key for key, name in LOG_NAMES.items())
    with pytest.raises(KeyError):
        log_name("energy_kwh")
