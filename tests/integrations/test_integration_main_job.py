"""The README's first command's job (examples/train_tiny.py) as a new user runs it: progress, then the footprint."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "train_tiny.py")


@pytest.mark.slow
def test_main_job_prints_progress_then_its_footprint(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTPRINT_") and k != "OMP_NUM_THREADS"}
    proc = subprocess.run(
        [sys.executable, EXAMPLE, "--steps", "40", "--progress-s", "0", "--output-dir", str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    lines = out.splitlines()
    assert lines[0] == "Loading PyTorch..."  # said at once: the import is the slow part on a busy machine
    (training,) = [ln for ln in lines if ln.startswith("training a ")]
    assert training.startswith("training a 85,002-parameter model for 40 steps on CPU (1 thread)")
    assert all(ln.startswith(("  still loading PyTorch (", "training a ")) for ln in lines[1 : lines.index(training) + 1])
    progress = [ln for ln in lines if ln.strip().startswith("step ")]
    assert progress and progress[0].strip().startswith("step 1/40") and "J so far" in progress[0]
    assert "trained 40 steps" in out and "wattprint: run " in out and "(completed)" in out
    assert "NumPy" not in proc.stderr  # torch's missing-NumPy warning is not shown to a new user
    path = out.rsplit("footprint written to ", 1)[1].strip()
    assert os.path.dirname(os.path.abspath(path)) == str(tmp_path)
    doc = json.load(open(path))
    assert doc["status"] == "completed" and doc["work"]["steps"] == 40


@pytest.mark.slow
def test_lightning_example_says_where_the_footprint_went(tmp_path):
    example = os.path.join(os.path.dirname(EXAMPLE), "lightning_train.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTPRINT_")}
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run([sys.executable, example, "--epochs", "1", "--output-dir", str(tmp_path)], cwd=str(tmp_path),
                          env=env, capture_output=True, text=True, timeout=180)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    path = proc.stdout.rsplit("footprint written to ", 1)[1].strip()
    assert os.path.dirname(path) == str(tmp_path) and json.load(open(path))["status"] == "completed"
