"""Helpers for the exporter tests: a real Pushgateway on loopback, and a replayed run.

``pushgateway`` starts Debian's ``prometheus-pushgateway`` (or the one named by
``WATTPRINT_TEST_PUSHGATEWAY``) on a free loopback port and skips the test when
the binary is absent. Import the fixture into a test module to use it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from typing import Any, Iterator, List

import pytest
import wattprint as wp
from wattprint import testing
from wattprint.testing import ManualClock

PUSHGATEWAY_CANDIDATES = ["/usr/bin/prometheus-pushgateway", "prometheus-pushgateway", "pushgateway"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dead_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    return free_port()


def find_pushgateway() -> str | None:
    for name in [os.environ.get("WATTPRINT_TEST_PUSHGATEWAY", "")] + PUSHGATEWAY_CANDIDATES:
        if name and (os.path.isfile(name) and os.access(name, os.X_OK) or shutil.which(name)):
            return shutil.which(name) or name
    return None


class Pushgateway:
    """A ``prometheus-pushgateway`` process on a free loopback port (``addr``)."""

    def __init__(self, binary: str) -> None:
        self.addr = f"127.0.0.1:{free_port()}"
        self.proc = subprocess.Popen([binary, f"--web.listen-address={self.addr}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20.0
        while True:  # waiting for an external process to listen: poll its readiness endpoint
            try:
                with urllib.request.urlopen(f"http://{self.addr}/-/ready", timeout=1.0) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                pytest.skip(f"prometheus-pushgateway exited at start: {err[-500:]}")
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail("prometheus-pushgateway did not become ready within 20 s")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def start_pushgateway() -> Pushgateway:
    """Start a Pushgateway, or skip the test when the binary is absent."""
    binary = find_pushgateway()
    if binary is None:
        pytest.skip("prometheus-pushgateway is not installed (Debian package prometheus-pushgateway)")
    return Pushgateway(binary)


@pytest.fixture(scope="module")
def pushgateway() -> Iterator[str]:
    """``127.0.0.1:<port>`` of a Pushgateway started for the test module."""
    gw = start_pushgateway()
    try:
        yield gw.addr
    finally:
        gw.stop()


def replay_tracker(exporters: List[Any], *, power_w: float = 100.0, **kwargs: Any) -> tuple[wp.Tracker, ManualClock]:
    """A tracker over a replayed GPU at ``power_w`` watts and CPU at a quarter of it, driven by hand."""
    kwargs.setdefault("region", None)
    kwargs.setdefault("save", None)  # the Tracker's default (saves under WATTPRINT_OUTPUT_DIR)
    return testing.replay_tracker(watts=power_w, cpu_watts=power_w / 4, exporters=exporters, **kwargs)


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5.0) as r:
        assert r.status == 200
        return r.read().decode("utf-8")


def samples_of(text: str, name: str) -> list:
    """Every sample called ``name`` in a Prometheus text exposition, parsed by prometheus_client."""
    from prometheus_client.parser import text_string_to_metric_families

    return [s for fam in text_string_to_metric_families(text) for s in fam.samples if s.name == name]
