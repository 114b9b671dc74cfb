"""The integration examples run on CPU and leave their footprints (smoke tests)."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest
from torchrun_helper import run_torchrun

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples")


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTPRINT_")}
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.mark.slow
def test_torch_loop_example(tmp_path):
    proc = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, "torch_loop.py"), "--steps", "20", "--output-dir", str(tmp_path)],
        env=_env(), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("20 steps")
    (path,) = glob.glob(str(tmp_path / "*.json"))
    assert json.load(open(path))["work"]["steps"] == 20


@pytest.mark.slow
def test_distributed_torchrun_example(tmp_path):
    proc = run_torchrun(
        [os.path.join(EXAMPLES, "distributed_torchrun.py"), "--steps", "10", "--output-dir", str(tmp_path)], env=_env(), timeout=180
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (job_path,) = glob.glob(str(tmp_path / "*.job.json"))
    job = json.load(open(job_path))
    assert job["work"]["steps"] == 10 and job["distributed"]["world_size"] == 2
    ranks = [json.load(open(p)) for p in sorted(glob.glob(str(tmp_path / "*-rank*.json")))]
    assert len(ranks) == 2
    assert all(c["kind"] == "gpu" for c in ranks[1]["components"])  # the node is measured by local rank 0
    assert job["energy"]["it_j"] == pytest.approx(sum(r["energy"]["it_j"] for r in ranks))
    assert "world size 2" in proc.stdout
