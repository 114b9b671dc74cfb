"""Forecast providers against a local HTTP server on 127.0.0.1 serving their recorded response shapes.

The fixtures (tests/fixtures/forecasts/) follow each provider's documented JSON shape; the values
are made up. Errors, a refused token, a slow server (bounded by the client's timeout) and
malformed bodies all become a reason, never an exception; the token never appears in it.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

import pytest
from servers.loopback import serve
import wattprint as wp
from wattprint.errors import ConfigError
from wattprint.run.forecast import _http, base
from wattprint.run.forecast.registry import make_provider

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "forecasts")
T0 = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.timezone.utc)
EM_TOKEN = "em-forecast-secret-4711"
WT_USER, WT_PASS = "bob", "wt-pass-secret-0815"
SLOW_S = 60.0  # the slow route holds its answer until the test releases it (this is only a cap); clients time out at 0.2 s
RELEASE = threading.Event()
ANSWERED = threading.Event()  # set once the slow route has answered


def _fixture(name):
    with open(os.path.join(FIX, name), "rb") as f:
        return f.read()


class _Handler(BaseHTTPRequestHandler):
    hits: list = []

    def log_message(self, *args):
        pass

    def _send(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:  # the client gave up (the slow route)
            pass

    def do_GET(self):  # noqa: C901 - one route table
        url = urlparse(self.path)
        q = parse_qs(url.query)
        p = url.path
        type(self).hits.append((p, q))
        if p.startswith("/slow"):
            RELEASE.wait(SLOW_S)
            ANSWERED.set()
            return self._send(200, b"{}")
        if p.startswith("/broken"):
            return self._send(500, b'{"error": "down"}')
        if p.startswith("/garbage"):
            return self._send(200, b"<html>maintenance</html>", "text/html")
        if p.startswith("/shape"):
            return self._send(200, json.dumps({"data": [{"from": "x", "intensity": 5}], "records": [{"Minutes5UTC": None}]}).encode())
        if p.startswith("/uk/intensity/") and p.endswith("/fw48h"):
            return self._send(200, _fixture("ukci_national_fw48h.json"))
        if p.startswith("/uk/regional/intensity/") and "/fw48h/regionid/13" in p:
            return self._send(200, _fixture("ukci_regional_fw48h_regionid_13.json"))
        if p.startswith("/uk/regional/intensity/") and "/fw48h/postcode/RG10" in p:
            return self._send(200, _fixture("ukci_regional_fw48h_postcode_RG10.json"))
        if p.startswith("/uk/intensity/"):
            return self._send(200, _fixture("ukci_national_history.json"))
        if p.startswith("/em/"):
            if self.headers.get("auth-token") != EM_TOKEN:
                return self._send(401, b'{"error": "invalid token"}')
            name = {"/em/carbon-intensity/forecast": "electricitymaps_forecast.json", "/em/carbon-intensity/history": "electricitymaps_history.json"}
            return self._send(200, _fixture(name[p])) if p in name else self._send(404, b"{}")
        if p == "/wt/login":
            if self.headers.get("Authorization") != "Basic " + base64.b64encode(f"{WT_USER}:{WT_PASS}".encode()).decode():
                return self._send(401, b'{"error": "bad login"}')
            return self._send(200, _fixture("watttime_login.json"))
        if p in ("/wt/v3/forecast", "/wt/v3/historical"):
            token = json.loads(_fixture("watttime_login.json"))["token"]
            if self.headers.get("Authorization") != f"Bearer {token}" or q.get("signal_type") != ["co2_moer"]:
                return self._send(403, b"{}")
            return self._send(200, _fixture("watttime_forecast.json" if p.endswith("forecast") else "watttime_historical.json"))
        if p in ("/dk/dataset/CO2EmisProg", "/dk/dataset/CO2Emis"):
            if json.loads(q["filter"][0]) != {"PriceArea": ["DK1"]}:
                return self._send(400, b'{"error": "bad filter"}')
            return self._send(200, _fixture("energinet_co2emisprog.json" if p.endswith("Prog") else "energinet_co2emis.json"))
        return self._send(404, b'{"error": "not found"}')


@pytest.fixture(scope="module")
def server():
    yield from serve(_Handler)  # tests/servers/loopback.py


@pytest.fixture(autouse=True)
def _fresh():
    base.clear_cache()
    _http._WATTTIME_TOKENS.clear()
    _Handler.hits.clear()
    yield
    base.clear_cache()


def _provider(name, url, **kw):
    return make_provider(name, url=url, env={}, timeout_s=kw.pop("timeout_s", 30.0), **kw)  # the server answers in ms


def test_ukci_national_48h_half_hourly(server):
    fc = _provider("ukci", server + "/uk").get(T0)
    assert fc is not None and fc.signal == "average" and len(fc.periods) == 96
    assert {(e - s).total_seconds() for s, e, _ in fc.periods} == {1800.0}
    assert fc.periods[0][0] == T0 and fc.end == T0 + dt.timedelta(hours=48)
    assert _Handler.hits[0][0] == "/uk/intensity/2026-03-02T12:00Z/fw48h"


@pytest.mark.parametrize("zone, path", [("regionid:13", "/fw48h/regionid/13"), ("postcode:RG10", "/fw48h/postcode/RG10")])
def test_ukci_regional_and_postcode(server, zone, path):
    p = _provider("ukci", server + "/uk", zone=zone)
    fc = p.get(T0)
    assert fc is not None and len(fc.periods) == 96 and _Handler.hits[0][0].endswith(path)
    assert not p.has_history and p.history(T0, T0 + dt.timedelta(hours=1)) is None and "no observed history" in p.reason


def test_ukci_national_history_uses_actuals(server):
    hist = _provider("ukci", server + "/uk").history(T0, T0 + dt.timedelta(hours=48))
    raw = json.loads(_fixture("ukci_national_history.json"))["data"]
    assert hist is not None and [v for _, _, v in hist.periods] == [r["intensity"]["actual"] for r in raw]
    assert "actual" in hist.source


def test_electricitymaps_forecast_and_history(server):
    p = _provider("electricitymaps", server + "/em", zone="DE", token=EM_TOKEN)
    fc = p.get(T0)
    assert fc is not None and len(fc.periods) == 72 and fc.periods[0][2] == 300.0 and fc.signal == "average"
    assert _Handler.hits[0][1]["zone"] == ["DE"]
    assert p.history(T0 - dt.timedelta(hours=12), T0) is not None


def test_electricitymaps_refused_token_is_a_reason_without_the_token(server, caplog):
    p = _provider("electricitymaps", server + "/em", zone="DE", token="wrong-token-12345")
    with caplog.at_level(logging.WARNING, logger="wattprint"):
        assert p.get(T0) is None
    assert "HTTP 401" in p.reason and "refused" in p.reason
    assert "wrong-token-12345" not in caplog.text + p.reason + repr(p)


def test_watttime_forecast_is_marginal_and_converted(server):
    p = _provider("watttime", server + "/wt", zone="CAISO_NORTH", token=f"{WT_USER}:{WT_PASS}")
    fc = p.get(T0)
    raw = json.loads(_fixture("watttime_forecast.json"))["data"]
    assert fc is not None and fc.signal == "marginal" and len(fc.periods) == 288
    assert fc.periods[0][2] == pytest.approx(raw[0]["value"] * 0.45359237)
    assert {(e - s).total_seconds() for s, e, _ in fc.periods} == {300.0}
    hist = p.history(T0, T0 + dt.timedelta(hours=1))
    assert hist is not None and hist.signal == "marginal" and "historical" in hist.source
    assert [h[0] for h in _Handler.hits].count("/wt/login") == 1  # the bearer token is reused


def test_watttime_bad_password_never_leaks(server, caplog):
    p = _provider("watttime", server + "/wt", zone="CAISO_NORTH", token=f"{WT_USER}:not-the-password")
    with caplog.at_level(logging.WARNING, logger="wattprint"):
        assert p.get(T0) is None
    assert "401" in p.reason and "not-the-password" not in caplog.text + p.reason


def test_energinet_dk1_prognosis_and_history(server):
    p = _provider("energinet", server + "/dk", zone="dk1")
    fc = p.get(T0)
    assert fc is not None and len(fc.periods) == 576 and fc.periods[0][0] == T0 and fc.signal == "average"
    q = _Handler.hits[0][1]
    assert q["sort"] == ["Minutes5UTC ASC"] and json.loads(q["filter"][0]) == {"PriceArea": ["DK1"]}
    assert p.history(T0, T0 + dt.timedelta(hours=1)) is not None


@pytest.mark.parametrize("route, needle", [("/broken", "HTTP 500"), ("/garbage", "not JSON"), ("/shape", "")])
@pytest.mark.parametrize("name, kw", [("ukci", {}), ("energinet", {"zone": "DK2"}), ("electricitymaps", {"zone": "DE", "token": EM_TOKEN})])
def test_errors_and_malformed_bodies_fall_back_with_a_reason(server, route, needle, name, kw):
    p = _provider(name, server + route, **kw)
    assert p.get(T0) is None
    assert p.reason and needle in p.reason


def test_a_slow_server_is_bounded_by_the_timeout(server):
    p = _provider("ukci", server + "/slow", timeout_s=0.2)
    RELEASE.clear()
    ANSWERED.clear()
    try:
        assert p.get(T0) is None
        # the client gave up while the server still held its answer: the timeout bounded it (no wall-clock bound)
        assert not ANSWERED.is_set() and "Timeout" in p.reason
    finally:
        RELEASE.set()


def test_results_are_cached(server):
    p = _provider("ukci", server + "/uk")
    assert p.get(T0) is not None and p.get(T0) is not None
    assert len(_Handler.hits) == 1


def test_prefetch_fetches_off_the_calling_thread(server):
    p = _provider("ukci", server + "/uk")
    stop = threading.Event()
    p.prefetch(event=stop)
    assert p.ready.wait(60.0)  # a cap only
    stop.set()
    assert p.latest() is not None and p._thread.name == "wattprint-forecast" and p._thread is not threading.current_thread()


def test_user_csv_and_json_files():
    csv_p = make_provider("file", path=os.path.join(FIX, "user_forecast.csv"), env={})
    fc = csv_p.get(T0)
    assert fc is not None and len(fc.periods) == 24 and fc.signal == "average"
    assert csv_p.has_history and csv_p.history(T0, T0 + dt.timedelta(hours=1)).periods[0][2] == pytest.approx(305.0)
    js = make_provider("file", path=os.path.join(FIX, "user_forecast.json"), env={}).get(T0)
    assert js is not None and js.signal == "marginal" and js.zone == "NL" and js.periods[-1][2] == 423.0


def test_a_bad_user_file_is_a_reason(tmp_path):
    bad = tmp_path / "f.json"
    bad.write_text('[{"start": "2026-01-01T00:00Z", "intensity": "lots"}]')
    p = make_provider("file", path=str(bad), env={})
    assert p.get(T0) is None and "no intensity number" in p.reason
    mixed = tmp_path / "m.csv"
    mixed.write_text("start,intensity,signal\n2026-01-01T00:00Z,1,average\n2026-01-01T01:00Z,2,marginal\n")
    q = make_provider("file", path=str(mixed), env={})
    assert q.get(T0) is None and "mixed" in q.reason


@pytest.mark.parametrize(
    "kw, setting",
    [
        ({"name": "nope"}, "forecast_provider"),
        ({"name": "electricitymaps", "zone": "DE"}, "forecast_token"),
        ({"name": "watttime", "zone": "CAISO_NORTH", "token": "no-colon"}, "forecast_token"),
        ({"name": "energinet", "zone": "SE3"}, "forecast_zone"),
        ({"name": "ukci", "zone": "london"}, "forecast_zone"),
        ({"name": "ukci", "url": "ftp://x"}, "forecast_url"),
        ({"name": "file", "path": "/no/such/file.csv"}, "forecast_file"),
    ],
)
def test_bad_settings_name_the_setting(kw, setting):
    with pytest.raises(ConfigError) as err:
        make_provider(kw.pop("name"), env={}, **kw)
    assert err.value.setting == setting


def test_nothing_configured_is_no_provider_and_env_configures_one():
    assert make_provider(None, env={}) is None
    p = wp.forecast_provider(None, env={"WATTPRINT_FORECAST": "ukci", "WATTPRINT_FORECAST_ZONE": "regionid:13"})
    assert p is not None and p.name == "ukci" and p.zone == "regionid:13"
