"""Issue 19, the first hour of a new user: missing extras, flag names in errors, region hints,
what-if against the run's own PUE, the source report named (all in-process, no subprocess)."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import wattprint as wp
from wattprint import report
from wattprint.cli import app as cli
from wattprint.errors import ConfigError
from wattprint.footprint.regions import resolve_region
from wattprint.testing import ManualClock


def run_main(argv, capsys):
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def no_child(monkeypatch):
    """Fail the test if the CLI starts a child process."""
    started = []

    def popen(*a, **kw):  # pragma: no cover - only on failure
        started.append(a)
        raise AssertionError("the command must not be run")

    monkeypatch.setattr(subprocess, "Popen", popen)
    return started


# -- 1. a missing optional extra: one line, exit 2, the command not run -----------------------


def test_run_prometheus_port_without_prometheus_client_names_the_extra(tmp_path, monkeypatch, capsys, no_child):
    monkeypatch.setenv("WATTPRINT_OUTPUT_DIR", str(tmp_path / "out"))
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    rc, out, err = run_main(["run", "--prometheus-port", "9999", "--", "true"], capsys)
    assert rc == 2
    assert err.count("\n") == 1 and 'pip install "wattprint[prometheus]"' in err
    assert "--prometheus-port" in err and "Traceback" not in err
    assert not no_child and not (tmp_path / "out").exists()


# -- 2. errors name the flag the user typed ------------------------------------------------


def test_run_bad_interval_names_the_flag(tmp_path, monkeypatch, capsys, no_child):
    monkeypatch.setenv("WATTPRINT_OUTPUT_DIR", str(tmp_path / "out"))
    rc, _, err = run_main(["run", "--interval", "0", "--", "true"], capsys)
    assert rc == 2 and "--interval" in err and "interval_s" not in err


def test_estimate_without_options_names_the_flags(capsys):
    rc, _, err = run_main(["estimate"], capsys)
    assert rc == 2 and "--energy-kwh" in err and "energy_kwh" not in err


def test_estimate_power_without_gpu_mentions_power_w(capsys):
    rc, _, err = run_main(["estimate", "--power-w", "450", "--hours", "10"], capsys)
    assert rc == 2 and "--power-w" in err and "--gpu" in err


def test_misspelt_flag_after_run_prints_runs_usage(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "--regoin", "IE", "--", "true"])
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert err.startswith("usage: wattprint run") and "--regoin" in err


def test_run_bad_region_names_the_flag(tmp_path, monkeypatch, capsys, no_child):
    monkeypatch.setenv("WATTPRINT_OUTPUT_DIR", str(tmp_path / "out"))
    rc, _, err = run_main(["run", "--region", "UK", "--", "true"], capsys)
    assert rc == 2 and err.startswith("wattprint run: --region: ")


# -- 3. region hints -------------------------------------------------------------------------


def _hint(code):
    with pytest.raises(ConfigError) as exc:
        resolve_region(code)
    return str(exc.value)


def test_uk_suggests_gb():
    assert "did you mean GB" in _hint("UK")


def test_el_suggests_gr():
    assert "did you mean GR" in _hint("EL")


def test_cloud_region_without_provider_suggests_the_prefixed_code():
    assert "did you mean aws:us-east-1" in _hint("us-east-1")


def test_alpha3_suggests_the_country_not_lookalikes():
    msg = _hint("IRL")
    assert "did you mean IE" in msg
    assert "IR," not in msg and "IL" not in msg.split("Codes")[0]


def test_unknown_region_message_is_punctuated():
    msg = _hint("UK")
    assert "? Codes:" in msg
    msg = _hint("QQQQQQQ")
    assert "'QQQQQQQ'. Codes:" in msg


def test_regions_query_that_is_an_alias_lists_the_code_first(capsys):
    rc, out, err = run_main(["regions", "UK"], capsys)
    assert rc == 0 and "did you mean GB?" in err
    assert out.splitlines()[1].startswith("GB ")


def test_regions_unknown_query_names_no_python_setting(capsys):
    rc, _, err = run_main(["regions", "QQQQQQQ"], capsys)
    assert rc == 2 and err.startswith("wattprint regions: unknown region 'QQQQQQQ'.")


# -- 4. what-if keeps the run's own PUE ---------------------------------------------------------


def _tracked(out, **kw):
    clock = ManualClock()
    sensors = [wp.ReplaySensor([(0, 200.0)], component_id="gpu:0", kind="gpu", name="Replay GPU")]
    t = wp.Tracker("demo", run_id="r1", output_dir=str(out), interval_s=math.inf, clock=clock, handle_signals=False, sensors=sensors, **kw)
    t.start()
    for _ in range(10):
        clock.advance(1.0)
        t.sample_now()
    return t.stop()


def test_what_if_keeps_the_runs_own_pue(tmp_path):
    fp = _tracked(tmp_path, region="IE", pue=1.1)
    base, ie = report.what_if(fp, ["IE"])
    assert ie["pue"] == pytest.approx(1.1)
    assert ie["carbon_vs_recorded_rel"] == pytest.approx(0.0, abs=1e-9)
    assert ie["water_vs_recorded_rel"] == pytest.approx(0.0, abs=1e-9)
    _, given = report.what_if(fp, ["IE"], pue=1.5)
    assert given["pue"] == pytest.approx(1.5)


def test_report_what_if_unknown_region_names_the_flag_and_hints(tmp_path, capsys):
    _tracked(tmp_path / "runs")
    rc, _, err = run_main(["report", str(tmp_path / "runs"), "--what-if", "UK"], capsys)
    assert rc == 2 and "--what-if: unknown region 'UK'; did you mean GB?" in err


# -- 5. the source report by name, providers spelt as they spell themselves ---------------------


def test_regions_names_the_source_report(capsys):
    rc, out, _ = run_main(["regions", "report:ireland-demand"], capsys)
    assert rc == 0
    assert "seed/000" not in out and "Milieu-impact van Kunstmatige Intelligentie" in out


def test_regions_prints_azure_not_upper_case(capsys):
    rc, out, _ = run_main(["regions", "azure:"], capsys)
    assert rc == 0 and "Azure " in out and "AZURE" not in out
