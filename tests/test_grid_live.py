"""Live grid intensity against a local HTTP server on 127.0.0.1; no network without configuration."""

from __future__ import annotations

import base64
import json
import logging
import math
import socket
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

import jsonschema
import pytest
from servers.loopback import serve
import wattprint as wp
from wattprint.cli.app import main
from wattprint.errors import ConfigError
from wattprint.footprint.accounting import footprint_schema
from wattprint.footprint.factors import resolve_factors
from wattprint.footprint.planning import estimate
from wattprint.run import grid_live
from wattprint.run.grid_live import resolve_run_factors
from wattprint.testing import ManualClock

TOKEN = "em-secret-token-4711"
WT_USER, WT_PASS = "alice", "wt-password-0815"


class _Handler(BaseHTTPRequestHandler):
    hits: list = []

    def log_message(self, *args):  # keep test output quiet
        pass

    def _json(self, code, doc):
        body = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlparse(self.path)
        q = parse_qs(url.query)
        type(self).hits.append(url.path)
        if url.path == "/em/carbon-intensity/latest":
            if self.headers.get("auth-token") != TOKEN:
                return self._json(401, {"error": "bad token"})
            return self._json(200, {"zone": q["zone"][0], "carbonIntensity": 123.4, "datetime": "2026-01-01T00:00:00.000Z",
                                    "emissionFactorType": "lifecycle", "isEstimated": False})
        if url.path == "/uk/intensity":
            return self._json(200, {"data": [{"from": "2026-01-01T00:00Z", "to": "2026-01-01T00:30Z",
                                              "intensity": {"forecast": 146, "actual": None, "index": "low"}}]})
        if url.path == "/uk/regional/regionid/13":
            return self._json(200, {"data": [{"regionid": 13, "data": [{"from": "2026-01-01T00:00Z",
                                                                        "intensity": {"forecast": 210, "index": "moderate"}}]}]})
        if url.path == "/wt/login":
            expected = "Basic " + base64.b64encode(f"{WT_USER}:{WT_PASS}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                return self._json(401, {"error": "bad login"})
            return self._json(200, {"token": "jwt-abc"})
        if url.path == "/wt/v3/forecast":
            if self.headers.get("Authorization") != "Bearer jwt-abc":
                return self._json(403, {"error": "no"})
            return self._json(200, {"data": [{"point_time": "2026-01-01T00:00:00+00:00", "value": 1000.0}],
                                    "meta": {"region": q["region"][0], "units": "lbs_co2_per_mwh"}})
        if url.path.startswith("/broken"):
            return self._json(500, {"error": "down"})
        return self._json(404, {"error": "not found"})


@pytest.fixture(scope="module")
def server():
    yield from serve(_Handler)  # tests/servers/loopback.py


@pytest.fixture(autouse=True)
def _fresh_cache():
    grid_live.clear_cache()
    grid_live._WATTTIME_TOKENS.clear()
    _Handler.hits.clear()
    yield
    grid_live.clear_cache()


def _fetch(provider, zone, token, url, **kw):
    live = grid_live.LiveGrid(provider, zone, token, base_url=url, timeout_s=30.0, **kw)  # a cap: the server answers in ms
    live.fetch_once()
    return live


def test_electricitymaps_latest(server):
    live = _fetch("electricitymaps", "DE", TOKEN, server + "/em")
    assert [v for _, v in live.readings()] == [123.4]
    assert live.status()["status"] == "live" and live.status()["zone"] == "DE"


def test_electricitymaps_refused_token_is_a_reason_without_the_token(server, caplog):
    with caplog.at_level(logging.WARNING, logger="wattprint"):
        live = _fetch("electricitymaps", "DE", "wrong-token-9999", server + "/em")
    st = live.status()
    assert live.readings() == [] and "HTTP 401" in st["reason"] and "refused" in st["reason"]
    assert "wrong-token-9999" not in caplog.text and "wrong-token-9999" not in json.dumps(st)


def test_ukci_national_uses_forecast_until_actual(server):
    assert [v for _, v in _fetch("ukci", None, None, server + "/uk").readings()] == [146.0]
    assert [v for _, v in _fetch("ukci", "regionid:13", None, server + "/uk").readings()] == [210.0]


def test_watttime_login_then_forecast_in_g_per_kwh(server):
    live = _fetch("watttime", "CAISO_NORTH", f"{WT_USER}:{WT_PASS}", server + "/wt")
    assert [v for _, v in live.readings()] == [pytest.approx(1000 * 0.45359237)]
    assert _Handler.hits == ["/wt/login", "/wt/v3/forecast"]


def test_server_error_and_timeout_fall_back(server):
    live = _fetch("ukci", None, None, server + "/broken")
    assert live.status()["status"] == "fallback" and "HTTP" in live.status()["reason"]
    # a server that accepts connections but never answers: the timeout fires
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(1)
    try:
        live = grid_live.LiveGrid("ukci", None, base_url=f"http://127.0.0.1:{mute.getsockname()[1]}", timeout_s=0.2)
        live.fetch_once()
        assert live.readings() == [] and "Timeout" in live.status()["reason"]
    finally:
        mute.close()


def test_cache_is_shared_within_the_refresh_period(server):
    _fetch("electricitymaps", "FR", TOKEN, server + "/em")
    _fetch("electricitymaps", "FR", TOKEN, server + "/em")
    assert _Handler.hits.count("/em/carbon-intensity/latest") == 1


def test_tracker_with_live_grid_end_to_end(server, tmp_path, caplog):
    clock = ManualClock()
    sensor = wp.ReplaySensor(trace=[(0.0, 360.0), (1e6, 360.0)], component_id="gpu:0", kind="gpu", name="NVIDIA L4")
    opts = {"grid": "electricitymaps", "grid_token": TOKEN, "grid_url": server + "/em", "grid_timeout_s": 30.0}  # a cap
    with caplog.at_level(logging.DEBUG, logger="wattprint"):
        t = wp.Tracker(sensors=[sensor], interval_s=math.inf, clock=clock, output_dir=str(tmp_path), handle_signals=False,
                       env={}, region="DE", accounting_options=opts)
        assert TOKEN not in repr(t.factors)
        t.start()
        assert t.factors.wait_live(60)
        clock.advance(100)
        t.sample_now()
        fp = t.stop()
    doc = fp.to_dict()
    ci = doc["factors"]["carbon_intensity_g_per_kwh"]
    assert ci["value"] == pytest.approx(123.4) and ci["origin"] == "live"
    assert doc["grid"]["status"] == "live" and doc["grid"]["zone"] == "DE"
    assert doc["carbon"]["operational_kg"] == pytest.approx(doc["energy"]["facility_kwh"] * 123.4 / 1000)
    jsonschema.validate(doc, footprint_schema())
    written = (tmp_path / f"{t.run_id}.json").read_text() + (tmp_path / "runs.csv").read_text()
    assert TOKEN not in written and TOKEN not in json.dumps(doc) and TOKEN not in caplog.text


def test_tracker_live_failure_records_the_reason(server):
    clock = ManualClock()
    sensor = wp.ReplaySensor(trace=[(0.0, 100.0), (1e6, 100.0)], component_id="gpu:0", kind="gpu", name="x")
    t = wp.Tracker(sensors=[sensor], interval_s=math.inf, clock=clock, save=False, handle_signals=False, env={},
                   accounting_options={"grid": "ukci", "grid_url": server + "/broken", "grid_timeout_s": 30.0})
    t.start()
    assert t.factors.wait_live(60)
    clock.advance(10)
    doc = t.stop().to_dict()
    assert doc["region"] == "GB"  # the UK API implies Great Britain for the fallback
    assert doc["grid"]["status"] == "fallback" and "HTTP 500" in doc["grid"]["reason"]
    ci = doc["factors"]["carbon_intensity_g_per_kwh"]
    assert ci["origin"] == "region:GB" and "HTTP 500" in ci["note"]


def test_env_configuration_and_errors():
    f = resolve_run_factors(env={"WATTPRINT_GRID": "electricitymaps", "WATTPRINT_GRID_TOKEN": TOKEN, "WATTPRINT_REGION": "FR"})
    assert f.live is not None and f.live.zone == "FR" and TOKEN not in repr(f.live)
    with pytest.raises(ConfigError) as err:
        resolve_run_factors(env={"WATTPRINT_GRID": "electricitymaps", "WATTPRINT_REGION": "FR"})
    assert err.value.setting == "grid_token"
    with pytest.raises(ConfigError) as err:
        resolve_run_factors(region="US-VA", grid="electricitymaps", grid_token=TOKEN, env={})
    assert err.value.setting == "grid_zone"
    with pytest.raises(ConfigError) as err:
        resolve_run_factors(grid="watttime", grid_zone="CAISO_NORTH", grid_token="no-colon", env={})
    assert err.value.setting == "grid_token"
    with pytest.raises(ConfigError) as err:
        resolve_run_factors(grid="ukci", grid_timeout_s=0, env={})
    assert err.value.setting == "grid_timeout_s"
    with pytest.raises(ConfigError) as err:
        resolve_run_factors(env={"WATTPRINT_GRID": "ukci", "WATTPRINT_GRID_URL": "ftp://x"})
    assert err.value.setting == "WATTPRINT_GRID_URL"


@pytest.fixture
def no_network(monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def test_nothing_touches_the_network_without_configuration(no_network, tmp_path, capsys):
    clock = ManualClock()
    sensor = wp.ReplaySensor(trace=[(0.0, 100.0), (1e6, 100.0)], component_id="gpu:0", kind="gpu", name="NVIDIA A100-SXM4-80GB")
    for region in (None, "IE", "aws:us-east-1", "GB"):
        t = wp.Tracker(sensors=[sensor], interval_s=math.inf, clock=clock, output_dir=str(tmp_path), handle_signals=False,
                       env={}, region=region)
        t.start()
        clock.advance(60)
        t.sample_now()
        jsonschema.validate(t.stop().to_dict(), footprint_schema())
    estimate(flops=1e21, gpu="H100", mfu=0.4, region="SG", env={})
    assert main(["regions", "IE"]) == 0
    assert main(["estimate", "--energy-kwh", "1", "--region", "US-AZ"]) == 0
    # a configured provider does not touch the network before start()
    resolve_factors(grid="ukci", env={})
    resolve_run_factors(grid="ukci", env={})
    assert no_network == []
    capsys.readouterr()
