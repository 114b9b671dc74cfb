"""``wattprint run --when-greener``: dry run, no forecast reachable, a tracked run priced; the report."""

from __future__ import annotations

import datetime as dt
import glob
import io
import json
import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import wattprint as wp
from wattprint.cli.app import main
from wattprint.report.render import render
from wattprint.run.forecast import FileProvider, base
from wattprint.run.carbon_aware import wait_for_greener
from wattprint.testing import ManualClock
from wattprint.units import parse_utc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures", "forecasts")
RECORDED = json.load(open(os.path.join(FIX, "ukci_national_history.json")))["data"]


def _shifted(start_text, flat):
    """The recorded 48 h (forecast and actual), moved to start at the half hour of ``start_text``."""
    t = parse_utc(start_text.replace("Z", ":00Z") if len(start_text) == 17 else start_text)
    t = t.replace(minute=0 if t.minute < 30 else 30, second=0, microsecond=0)
    out = []
    for i, row in enumerate(RECORDED):
        a = t + dt.timedelta(minutes=30 * i)
        f = 200 if flat else row["intensity"]["forecast"]
        out.append({"from": a.strftime("%Y-%m-%dT%H:%MZ"), "to": (a + dt.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%MZ"),
                    "intensity": {"forecast": f, "actual": f + 3, "index": "moderate"}})  # fmt: skip
    return {"data": out}


class _UK(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        parts = self.path.split("?")[0].strip("/").split("/")  # [flat|uk, intensity, from, fw48h|to]
        body = json.dumps(_shifted(parts[2], parts[0] == "flat")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def uk():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _UK)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    base.clear_cache()
    for k in ("WATTPRINT_FORECAST", "WATTPRINT_FORECAST_PROVIDER", "WATTPRINT_FORECAST_ZONE", "WATTPRINT_FORECAST_URL"):
        monkeypatch.delenv(k, raising=False)
    yield


def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _footprint(out):
    (path,) = [p for p in glob.glob(os.path.join(out, "*.json"))]
    return json.load(open(path))


def test_dry_run_prints_the_plan_and_runs_nothing(uk, tmp_path, capsys):
    marker = tmp_path / "ran"
    rc = main(["run", "--output-dir", str(tmp_path / "o"), "--when-greener", "--within", "12h", "--expect", "3h", "--forecast-provider", "ukci",
               "--forecast-url", uk + "/uk", "--dry-run", "--", sys.executable, "-c", f"open({str(marker)!r}, 'w')"])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 0 and not marker.exists() and not (tmp_path / "o").exists()
    assert "wattprint: start" in err and "gCO2e/kWh (average)" in err and "%" in err


def test_no_forecast_reachable_starts_at_once_and_the_footprint_says_why(tmp_path, capsys):
    url = f"http://127.0.0.1:{_closed_port()}"
    rc = main(["run", "--quiet", "--output-dir", str(tmp_path), "--when-greener", "--within", "12h", "--expect", "1h",
               "--forecast-provider", "ukci", "--forecast-url", url, "--", sys.executable, "-c", "pass"])  # fmt: skip
    assert rc == 0
    ca = _footprint(str(tmp_path))["carbon_aware"]
    assert ca["decision"] == "run_now" and ca["waited_s"] == 0
    assert ca["reason"].startswith("no forecast: ConnectionError on GET") and ca["expected"] is None
    assert "starting now (no forecast" in capsys.readouterr().err


def test_a_run_that_starts_now_is_priced_with_observed_intensity(uk, tmp_path):
    rc = main(["run", "--quiet", "--output-dir", str(tmp_path), "--when-greener", "--within", "6h", "--expect", "1h",
               "--forecast-provider", "ukci", "--forecast-url", uk + "/flat", "--", sys.executable, "-c", "pass"])  # fmt: skip
    assert rc == 0
    doc = _footprint(str(tmp_path))
    ca = doc["carbon_aware"]
    assert ca["decision"] == "run_now" and "already the greenest" in ca["reason"]
    assert ca["expected"]["saving_g"] == 0 and ca["expected"]["energy_basis"] == "measured" and ca["expected"]["signal"] == "average"
    assert ca["realised"]["basis"] == "observed" and ca["realised"]["signal"] == "average" and ca["realised"]["intensity_g_per_kwh"] == pytest.approx(203)


@pytest.mark.parametrize("argv, flag", [(["--dry-run"], "--dry-run"), (["--when-greener", "--within", "3x"], "--within"),
                                        (["--when-greener", "--forecast-provider", "nope"], "--forecast-provider")])  # fmt: skip
def test_bad_flags_exit_2_naming_the_flag(tmp_path, capsys, argv, flag):
    assert main(["run", "--output-dir", str(tmp_path), *argv, "--", sys.executable, "-c", "pass"]) == 2
    assert f"wattprint run: {flag}:" in capsys.readouterr().err
    assert not os.listdir(tmp_path)


def test_the_report_shows_the_carbon_aware_section(tmp_path):
    t0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.timezone.utc)
    clock = ManualClock(utc=t0)
    plan = wait_for_greener("12h", "3h", provider=FileProvider(os.path.join(ROOT, "examples", "data", "uk_forecast_48h.json")),
                            clock=clock, sleep=clock.advance, stream=io.StringIO())  # fmt: skip
    t, _ = wp.testing.replay_tracker(500.0, clock=clock, interval_s=float("inf"), handle_signals=False)
    t.start()
    clock.advance(3 * 3600)
    plan.finish(t)
    text = render([t.stop()], "table")
    assert "Carbon-aware" in text and "expected saving (average)" in text and "realised saving (average)" in text and "observed" in text
    assert "| decision | delay:" in render([t.footprint], "md")


def test_the_cli_opens_no_socket_without_a_provider(tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert main(["run", "--quiet", "--output-dir", str(tmp_path), "--when-greener", "--expect", "1h", "--", sys.executable, "-c", "pass"]) == 0
    assert _footprint(str(tmp_path))["carbon_aware"]["reason"] == "no forecast provider configured"


def test_ctrl_c_while_waiting_runs_nothing(tmp_path, capsys):
    import argparse

    from wattprint.cli import greener

    def interrupt(_s):
        raise KeyboardInterrupt

    args = argparse.Namespace(when_greener=True, within="12h", expect="3h", dry_run=False, forecast_provider="file",
                              forecast_zone=None, forecast_url=None, forecast_file=os.path.join(FIX, "ukci_national_fw48h.json"))  # fmt: skip
    tracker = argparse.Namespace(project="p", output_dir=str(tmp_path))
    clock = ManualClock(utc=dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.timezone.utc))
    with pytest.raises(SystemExit) as exit_:
        greener.plan_for(args, tracker, clock=clock, sleep=interrupt)
    assert exit_.value.code == 130 and "nothing was run" in capsys.readouterr().err
