"""A FIFO planted in ``output_dir`` under one of wattprint's names never hangs the run (issue 17).

``runs.csv`` as a FIFO used to block ``stop()`` forever in a plain ``open()`` (reading the header),
and a FIFO as the timeline journal would block a checkpoint's append. Each case runs in a child
process with a timeout, so a regression fails the test instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")

SCRIPT = textwrap.dedent("""
    import os, sys
    from wattprint.testing import replay_tracker
    out = sys.argv[1]
    t, clock = replay_tracker(100.0, output_dir=out, save=True, run_id="r1", checkpoint_interval_s=1.0)
    t.start()
    clock.advance(2.0)
    t.sample_now()  # a checkpoint: the document, then the journal
    if len(sys.argv) > 2:  # plant a FIFO as the journal once it exists: the next checkpoint appends to it
        os.unlink(os.path.join(out, "r1.timeline.jsonl"))
        os.mkfifo(os.path.join(out, "r1.timeline.jsonl"))
        clock.advance(2.0)
        t.sample_now()
    clock.advance(2.0)
    fp = t.stop()
    print("STOPPED", fp["status"], fp.energy_j)
""")


def _run(tmp_path, *extra):
    return subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), *extra], capture_output=True, text=True, timeout=120)


def test_runs_csv_as_a_fifo_is_refused_and_the_footprint_is_kept(tmp_path):
    os.mkfifo(tmp_path / "runs.csv")
    proc = _run(tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "STOPPED completed" in proc.stdout
    assert "runs.csv is not a regular file" in proc.stderr  # said, with the file's name
    assert stat.S_ISFIFO(os.lstat(tmp_path / "runs.csv").st_mode)  # left alone
    doc = json.load(open(tmp_path / "r1.json"))
    assert doc["status"] == "completed" and doc["energy"]["it_j"] == pytest.approx(400.0)  # 4 s at 100 W


def test_a_fifo_planted_as_the_journal_does_not_block_a_checkpoint(tmp_path):
    proc = _run(tmp_path, "plant")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "STOPPED completed" in proc.stdout
    # refused at open: ENXIO (a FIFO with no reader, opened non-blocking) or "not a regular file" (one with a reader)
    assert "could not write the checkpoint" in proc.stderr and "r1.timeline.jsonl" in proc.stderr
    doc = json.load(open(tmp_path / "r1.json"))
    assert doc["status"] == "completed" and doc["timeline"]  # the final document carries the whole timeline
    rows = open(tmp_path / "runs.csv").read().splitlines()
    assert len(rows) == 2  # header and this run's row
