"""Per-request Prometheus families: values, bounded labels, and `promtool check metrics` (issue 13)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

pytest.importorskip("prometheus_client")

from wattprint.exporters.prometheus_requests import MAX_LABEL_VALUES, RequestMetrics  # noqa: E402
from wattprint.testing import replay_tracker  # noqa: E402


def _run(metrics):
    t, clock = replay_tracker(300.0, exporters=[metrics])
    t.start()
    t0 = clock.monotonic()
    clock.advance(2.0)
    t.sample_now()
    t.record_request(10, 20, t0, t0 + 1.0, model="tiny", endpoint="/v1/completions")
    t.record_request(10, 20, t0, t0 + 1.0, model="tiny", endpoint="/v1/completions")
    t.record_request(5, 0, t0 + 1.0, t0 + 1.5, model="tiny", endpoint="/v1/embeddings")
    clock.advance(1.0)
    return t.stop()


def test_request_histograms_and_counters():
    metrics = RequestMetrics()
    fp = _run(metrics)
    text = metrics.scrape()
    assert 'wattprint_requests_total{endpoint="/v1/completions",model="tiny"} 2.0' in text
    assert 'wattprint_request_tokens_total{direction="out",endpoint="/v1/completions",model="tiny"} 40.0' in text
    assert 'wattprint_request_energy_joules_count{endpoint="/v1/completions",model="tiny"} 2.0' in text
    assert 'wattprint_request_energy_per_token_joules_count{endpoint="/v1/embeddings",model="tiny"}' not in text
    assert "wattprint_request_energy_joules_sum" in text
    idle = fp.to_dict()["inference"]["idle_energy_j"]
    assert f"wattprint_request_idle_energy_joules_total {idle}" in text


def test_labels_are_bounded():
    metrics = RequestMetrics()
    for i in range(MAX_LABEL_VALUES + 5):
        metrics.on_request({"energy_j": 1.0, "tokens_out": 1, "model": f"m{i}", "endpoint": "/e"})
    text = metrics.scrape()
    assert 'model="other"' in text
    assert len({line.split('model="')[1].split('"')[0] for line in text.splitlines() if line.startswith("wattprint_requests_total")}) == MAX_LABEL_VALUES + 1


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_check_metrics():
    metrics = RequestMetrics()
    _run(metrics)
    out = subprocess.run(["promtool", "check", "metrics"], input=metrics.scrape(), capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip() == "" and out.stderr.strip() == "", out.stdout + out.stderr
