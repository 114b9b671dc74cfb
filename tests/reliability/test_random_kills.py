"""Randomised SIGTERM and SIGKILL at bounded random moments, inside stop() too (issue 17).

Each trial starts a real process that runs trackers back to back (start, steps, a window, stop,
with checkpoints every 0.05 s), and kills it at a random moment drawn from a seeded generator.
Whatever the moment, every file left must be complete strict JSON with a valid status, every
row of runs.csv whole, and nothing written outside the output folder. The moments are random;
the assertions hold for every one of them, so the test is deterministic in what it checks.
"""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

CHILD = textwrap.dedent(
    """
    import sys, time
    import wattprint as wp
    for i in range(1000):
        t = wp.Tracker(run_id=f"r{i}", sensors=[wp.ReplaySensor([(0, 100.0)], component_id="gpu:0", kind="gpu")],
                       interval_s=0.01, checkpoint_interval_s=0.05)
        t.start()
        for k in range(20):
            t.step(samples=2)
            time.sleep(0.002)
        with t.window("eval"):
            time.sleep(0.005)
        t.stop()
        if i == 0:
            print("ready", flush=True)  # one whole run on disk; the kill lands somewhere in the next ones
    """
)


def strict(text: str):
    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def _trial(tmp_path, rng: random.Random, sig: int) -> None:
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTPRINT_")}
    env["WATTPRINT_OUTPUT_DIR"] = str(out)
    proc = subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(tmp_path))
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(rng.uniform(0.0, 0.5))  # a random moment: inside start, a step, a window, a checkpoint or stop()
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert sorted(os.listdir(tmp_path)) == ["out"]  # nothing written beside the output folder
    files = sorted(os.listdir(out))
    for name in files:
        path = out / name
        if name.endswith(".json"):
            doc = strict(path.read_text())
            assert doc["status"] in ("completed", "partial", "failed"), name
            assert doc["energy"]["it_j"] >= 0 and doc["run_id"] == name[: -len(".json")]
        elif name.endswith(".jsonl"):  # a checkpoint's timeline journal: whole lines, except perhaps a torn last one
            lines = path.read_text().splitlines()
            for line in lines[:-1]:
                strict(line)
        elif name == "runs.csv":
            rows = list(csv.reader(open(path, newline="")))
            assert all(len(r) == len(rows[0]) for r in rows[1:]), "a torn runs.csv row"
        else:
            assert not name.endswith(".tmp") or name.startswith(".wattprint-"), name
    completed = [n for n in files if n.endswith(".json")]
    assert completed, "a trial that ran must leave at least a checkpoint"


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(8))
def test_random_kill_leaves_only_whole_files(tmp_path, trial):
    rng = random.Random(20261201 + trial)
    _trial(tmp_path, rng, signal.SIGTERM if trial % 2 == 0 else signal.SIGKILL)
