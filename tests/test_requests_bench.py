"""Smoke test of benchmarks/bench_requests.py: the figures are computed (no timing asserted) (issue 13)."""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "bench_requests.py")


def test_ledger_and_in_process_middleware_figures():
    pytest.importorskip("starlette")
    spec = importlib.util.spec_from_file_location("_bench_requests", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["_bench_requests"] = mod
    spec.loader.exec_module(mod)
    led = mod.bench_ledger(200)
    assert led["n"] == 200 and all(led[k] >= 0 for k in ("record_request_us", "request_cm_us"))
    asgi = mod.bench_asgi_inprocess(3)
    assert {"json_added_us", "stream_added_us"} <= set(asgi)
