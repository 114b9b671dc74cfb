"""Debian's ``prometheus`` with a generated config scraping 127.0.0.1 targets, and its HTTP query API.

Scrape interval 1 s (``SCRAPE_INTERVAL_S``) keeps the tests short. Pull targets
go in job ``wattprint``; a Pushgateway in job ``pushgateway`` with
``honor_labels: true`` (as its docs ask), so pushed series keep their own
``job`` and an empty ``instance``.
"""

from __future__ import annotations

import json
import os
import time
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Optional, Sequence

import pytest

from servers._proc import Server, find_binary, free_port

SCRAPE_INTERVAL_S = 0.5
CANDIDATES = [os.environ.get("WATTPRINT_TEST_PROMETHEUS", ""), "/usr/bin/prometheus", "prometheus"]


def config_text(targets: Sequence[str], pushgateway: Optional[str]) -> str:
    ms = int(SCRAPE_INTERVAL_S * 1000)
    lines = ["global:", f"  scrape_interval: {ms}ms", f"  scrape_timeout: {int(ms * 0.8)}ms", "scrape_configs:"]
    if targets:
        lines += ["  - job_name: wattprint", "    static_configs:", "      - targets: [" + ", ".join(f"'{t}'" for t in targets) + "]"]
    if pushgateway:
        lines += ["  - job_name: pushgateway", "    honor_labels: true", "    static_configs:", f"      - targets: ['{pushgateway}']"]
    return "\n".join(lines) + "\n"


class Prometheus:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.url = server.url

    def _get(self, path: str, params: Dict[str, Any]) -> Any:
        url = f"{self.url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                doc = json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as err:
            doc = json.loads(err.read().decode("utf-8"))
        return doc

    def query(self, expr: str, at: Optional[float] = None) -> List[Dict[str, Any]]:
        """Instant query; the result vector (raises AssertionError on a query error)."""
        params: Dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        doc = self._get("/api/v1/query", params)
        assert doc.get("status") == "success", f"{expr}: {doc.get('error')}"
        res = doc["data"]["result"]
        return res if isinstance(res, list) else [res]

    def query_range(self, expr: str, start: float, end: float, step_s: float) -> List[Dict[str, Any]]:
        doc = self._get("/api/v1/query_range", {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step_s:g}"})
        assert doc.get("status") == "success", f"{expr}: {doc.get('error')}"
        return doc["data"]["result"]

    def value(self, expr: str, at: Optional[float] = None) -> Optional[float]:
        res = self.query(expr, at)
        assert len(res) <= 1, f"{expr}: {len(res)} series"
        return float(res[0]["value"][1]) if res else None

    def wait_until(self, expr: str, check: Any, timeout_s: float = 20.0) -> List[Dict[str, Any]]:
        """Poll an instant query until ``check(result)`` holds (bounded)."""
        deadline = time.monotonic() + timeout_s
        while True:
            res = self.query(expr)
            if check(res):
                return res
            if time.monotonic() > deadline:
                raise AssertionError(f"{expr}: condition not met within {timeout_s:g} s, last {res}")
            time.sleep(0.2)


def start_prometheus(tmp_dir: str, targets: Sequence[str], pushgateway: Optional[str] = None) -> Prometheus:
    binary = find_binary(CANDIDATES)
    if binary is None:
        pytest.skip("prometheus is not installed (Debian package prometheus)")
    cfg = os.path.join(tmp_dir, "prometheus.yml")
    with open(cfg, "w", encoding="utf-8") as fh:
        fh.write(config_text(targets, pushgateway))
    port = free_port()
    argv = [binary, f"--config.file={cfg}", f"--storage.tsdb.path={os.path.join(tmp_dir, 'tsdb')}",
            f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h", "--log.level=warn"]
    return Prometheus(Server("prometheus", argv, port, "/-/ready", log_path=os.path.join(tmp_dir, "prometheus.log"), ready_timeout_s=60.0))
