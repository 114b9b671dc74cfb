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


@pytest.mark.slow
def test_serving_example_prints_the_per_request_figures(tmp_path):
    """Issue 13's example: examples/load_gen.py starts serve_tiny.py (a tiny model from a config, a replayed
    300 W device), sends 8 concurrent clients' requests and prints the served figures from the server."""
    proc = subprocess.run(
        [sys.executable, os.path.join(EXAMPLES, "load_gen.py"), "--concurrency", "8", "--requests", "40", "--idle-s", "0.5",
         "--replay-watts", "300", "--output-dir", str(tmp_path)],
        env=_env(), capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = proc.stdout
    assert "requests attributed: 40" in out and "energy: measured" in out
    for label in ("J per output token:", "Wh per 1,000 requests:", "water per request:", "idle share:"):
        (line,) = [ln for ln in out.splitlines() if ln.startswith(label)]
        assert any(ch.isdigit() for ch in line.split(":", 1)[1]), line  # a figure, not "n/a"
    (path,) = glob.glob(str(tmp_path / "*.json"))
    doc = json.load(open(path))
    assert doc["inference"]["requests"] == 40


@pytest.mark.slow
def test_hf_trainer_example_prints_rounded_j_per_token_and_counts_samples(tmp_path):
    """Issue 19: the HF example's J/token is rounded (three significant figures), it says where the
    footprint went, and the footprint counts the samples it trained on (it recorded 0)."""
    import re

    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, "hf_trainer.py"), "--epochs", "1", "--output-dir", str(tmp_path)],
                          env=_env(), capture_output=True, text=True, timeout=240)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    (line,) = [ln for ln in proc.stdout.splitlines() if "J/token" in ln]
    per_token = re.search(r", ([0-9.e+-]+) J/token", line).group(1)
    assert len(per_token.replace(".", "").split("e")[0].lstrip("0")) <= 3, line  # at most three significant figures
    path = proc.stdout.rsplit("footprint written to ", 1)[1].strip()
    doc = json.load(open(path))
    assert os.path.dirname(path) == str(tmp_path) and doc["work"]["samples"] > 0 and doc["work"]["tokens"] > 0
