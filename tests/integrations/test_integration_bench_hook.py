"""The hook overhead benchmark runs and writes its JSON (a smoke test; the figures come from a full run)."""

from __future__ import annotations

import json
import os
import sys

import pytest

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks")


@pytest.mark.slow
def test_bench_hook_quick_writes_its_summary(tmp_path):
    sys.path.insert(0, os.path.abspath(BENCH))
    try:
        import bench_hook
    finally:
        sys.path.pop(0)
    out = tmp_path / "hook.json"
    summary = bench_hook.main(["--quick", "--out", str(out), "--target-ms", "1"])
    doc = json.load(open(out))
    assert doc == json.loads(json.dumps(summary))
    assert set(doc["overhead_pct"]) == {"hook", "hook_read100"}
    assert doc["hook_call_us"] > 0
    # the hook itself (a lock and a few additions) is far below 1 % of a millisecond step
    assert doc["direct_overhead_pct"] < 1.0 and doc["meets_target"]
