"""OtlpExporter against a real OTLP/HTTP endpoint on 127.0.0.1 (decoded with opentelemetry-proto)."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

pytest.importorskip("opentelemetry.sdk.metrics")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http.metric_exporter")
pytest.importorskip("opentelemetry.proto.collector.metrics.v1.metrics_service_pb2")

from conftest_pushgateway import dead_port, replay_tracker  # noqa: E402
from servers.otlp import requests_of, start_otlp  # noqa: E402
from wattprint.errors import ConfigError  # noqa: E402
from wattprint.exporters import OtlpExporter  # noqa: E402


@pytest.fixture(scope="module")
def otlp(tmp_path_factory: Any):
    server = start_otlp(str(tmp_path_factory.mktemp("otlp")))
    try:
        yield server
    finally:
        server.stop()


def _attrs(point: Dict[str, Any]) -> Dict[str, Any]:
    return {a["key"]: next(iter(a["value"].values())) for a in point.get("attributes", [])}


def _metrics(request: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    out: Dict[str, Dict[str, Any]] = {}
    for rm in request["resourceMetrics"]:
        for sm in rm["scopeMetrics"]:
            for m in sm["metrics"]:
                out[m["name"]] = m
    return out


def _points(metric: Dict[str, Any]) -> List[Dict[str, Any]]:
    body = metric.get("sum") or metric.get("gauge") or {}
    return body.get("dataPoints", [])


def _value(point: Dict[str, Any]) -> float:
    return float(point.get("asDouble", point.get("asInt", 0)))


def test_endpoint_receives_hw_energy_per_component_and_carbon_water(otlp, tmp_path):
    before = len(requests_of(otlp.out))
    exp = OtlpExporter(endpoint=otlp.url + "/v1/metrics", job="job-7", timeout_s=5.0)
    tracker, clock = replay_tracker([exp], power_w=200.0, run_id="otlp-run", region="IE", output_dir=str(tmp_path),
                                    accounting_options={"water_source": "recycled"}, export_timeout_s=60.0)  # a cap
    tracker.start()
    for _ in range(5):
        clock.advance(2.0)
        tracker.step(tokens=100)
    fp = tracker.stop()
    assert fp is not None and not tracker.export_errors
    reqs = requests_of(otlp.out)[before:]
    assert reqs, "the endpoint received no request"
    last = reqs[-1]
    resource = {a["key"]: a["value"]["stringValue"] for a in last["resourceMetrics"][0]["resource"]["attributes"]}
    assert resource["wattprint.run_id"] == "otlp-run" and resource["wattprint.job"] == "job-7"
    assert resource["host.name"] == fp.get("host.hostname") and resource["service.name"] == "wattprint"
    metrics = _metrics(last)
    energy = metrics["hw.energy"]
    assert energy["unit"] == "J" and energy["sum"]["isMonotonic"]
    by_id = {_attrs(p)["hw.id"]: (_attrs(p), _value(p)) for p in _points(energy)}
    components = {c["id"]: c for c in fp["components"]}
    assert set(by_id) == set(components)  # hw.energy for every component
    for cid, (attrs, joules) in by_id.items():
        assert joules == pytest.approx(components[cid]["energy_j"])
        assert attrs["hw.type"] in ("gpu", "cpu")
    power = {_attrs(p)["hw.id"]: _value(p) for p in _points(metrics["hw.power"])}
    assert metrics["hw.power"]["unit"] == "W" and power["gpu:0"] == pytest.approx(200.0)
    (host_energy,) = _points(metrics["hw.host.energy"])
    assert _value(host_energy) == pytest.approx(fp.energy_j)  # the host total is its own metric: nothing summed twice
    (host_power,) = _points(metrics["hw.host.power"])
    assert _value(host_power) == pytest.approx(250.0)
    carbon = {_attrs(p)["wattprint.carbon.scope"]: _value(p) for p in _points(metrics["wattprint.carbon"])}
    assert carbon["operational"] == pytest.approx(fp.get("carbon.operational_kg") * 1000.0)
    water = {_attrs(p)["wattprint.water.scope"]: (_attrs(p), _value(p)) for p in _points(metrics["wattprint.water"])}
    assert water["onsite"][1] == pytest.approx(fp.get("water.onsite_l"))
    assert water["offsite"][1] == pytest.approx(fp.get("water.offsite_l"))
    assert water["onsite"][0]["wattprint.water.source"] == "recycled"
    assert metrics["wattprint.carbon"]["unit"] == "g" and metrics["wattprint.water"]["unit"] == "L"
    assert _value(_points(metrics["wattprint.energy.facility"])[0]) == pytest.approx(fp.get("energy.facility_kwh") * 3.6e6)


def test_dead_endpoint_is_isolated_and_noted(tmp_path):
    exp = OtlpExporter(endpoint=f"http://127.0.0.1:{dead_port()}/v1/metrics", timeout_s=1.0)
    tracker, clock = replay_tracker([exp], run_id="otlp-dead", output_dir=str(tmp_path), export_timeout_s=60.0)  # a cap: ~1 s of retries
    tracker.start()
    clock.advance(1.0)
    fp = tracker.stop()
    assert fp is not None and fp.energy_j > 0  # the footprint is kept
    assert tracker.export_errors and "OTLP export" in tracker.export_errors[0]
    assert any("OtlpExporter" in n for n in fp.get("notes"))
    assert (tmp_path / "otlp-dead.json").exists()


def test_rejecting_endpoint_is_an_export_error(tmp_path):
    server = start_otlp(str(tmp_path), status=400)
    try:
        exp = OtlpExporter(endpoint=server.url + "/v1/metrics", timeout_s=2.0)
        tracker, clock = replay_tracker([exp], run_id="otlp-400", output_dir=str(tmp_path), export_timeout_s=60.0)
        tracker.start()
        clock.advance(1.0)
        tracker.stop()
        assert tracker.export_errors and "failed" in tracker.export_errors[0]
    finally:
        server.stop()


def test_settings_are_checked_at_construction():
    with pytest.raises(ConfigError, match="timeout_s"):
        OtlpExporter(timeout_s=0)
    with pytest.raises(ConfigError, match="endpoint"):
        OtlpExporter(endpoint="127.0.0.1:4318")


def test_live_samples_are_sent_and_counters_only_grow(otlp, tmp_path):
    from wattprint.footprint.model import Footprint

    exp = OtlpExporter(endpoint=otlp.url + "/v1/metrics", timeout_s=5.0)
    before = len(requests_of(otlp.out))
    base = {"run_id": "live-1", "project": "p", "host": {"hostname": "h"}, "energy": {"it_j": 0.0, "facility_kwh": 0.0},
            "carbon": {"operational_kg": 0.0, "embodied_kg": None}, "water": {"onsite_l": 0.0, "offsite_l": 0.0}}
    for joules in (100.0, 250.0):
        doc = dict(base, components=[{"id": "dram:0", "kind": "dram", "name": "DRAM", "energy_j": joules, "mean_power_w": 5.0,
                                      "measured": True}])
        exp.on_sample(Footprint(doc))
    exp.close()
    reqs = requests_of(otlp.out)[before:]
    assert len(reqs) == 2
    values = [_value(_points(_metrics(r)["hw.energy"])[0]) for r in reqs]
    assert values == [100.0, 250.0]
    (point,) = _points(_metrics(reqs[-1])["hw.energy"])
    assert _attrs(point)["hw.type"] == "memory" and _attrs(point)["hw.id"] == "dram:0"
    assert "embodied" not in {_attrs(p)["wattprint.carbon.scope"] for p in _points(_metrics(reqs[-1])["wattprint.carbon"])}
