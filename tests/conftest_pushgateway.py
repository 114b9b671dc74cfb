"""Helpers for the exporter tests: a real Pushgateway on loopback, and a replayed run.

``pushgateway`` starts Debian's ``prometheus-pushgateway`` (or the one named by
``WATTPRINT_TEST_PUSHGATEWAY``) on a free loopback port with its own
``--persistence.file`` in a tmp folder (:mod:`servers.pushgateway`), and skips
the test when the binary is absent. Import the fixture into a test module to use it.
"""

from __future__ import annotations

import urllib.request
from typing import Any, Iterator, List

import pytest
import wattprint as wp
from wattprint import testing
from wattprint.testing import ManualClock

from servers._proc import free_port  # noqa: E402
from servers.pushgateway import CANDIDATES as PUSHGATEWAY_CANDIDATES  # noqa: E402,F401
from servers.pushgateway import start_pushgateway  # noqa: E402


def dead_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    return free_port()


@pytest.fixture(scope="module")
def pushgateway(tmp_path_factory: Any) -> Iterator[str]:
    """``127.0.0.1:<port>`` of a Pushgateway started for the test module, with its own persistence file."""
    gw = start_pushgateway(str(tmp_path_factory.mktemp("pushgateway")))
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
    with urllib.request.urlopen(url, timeout=30.0) as r:  # a cap for a loaded machine; answers in ms
        assert r.status == 200
        return r.read().decode("utf-8")


def samples_of(text: str, name: str) -> list:
    """Every sample called ``name`` in a Prometheus text exposition, parsed by prometheus_client."""
    from prometheus_client.parser import text_string_to_metric_families

    return [s for fam in text_string_to_metric_families(text) for s in fam.samples if s.name == name]
