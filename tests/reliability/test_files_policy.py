"""Files in a shared output folder (issue 17): runs.csv is never appended through a symlink, and
temp files a killed writer left behind are swept by the next run that writes there."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
from wattprint import _io
from wattprint.testing import replay_tracker

pytestmark = pytest.mark.skipif(os.name != "posix", reason="symlinks and pids as on POSIX")


def _run(out, run_id="r1"):
    t, clock = replay_tracker(100.0, output_dir=str(out), save=True, run_id=run_id)
    t.start()
    clock.advance(2.0)
    return t, t.stop()


def test_runs_csv_replaced_by_a_symlink_is_not_followed(tmp_path, caplog):
    out = tmp_path / "shared"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    os.symlink(victim, out / "runs.csv")
    with caplog.at_level(logging.ERROR, logger="wattprint"):
        t, fp = _run(out)
    assert victim.read_text() == "precious\n"  # untouched
    assert json.load(open(out / "r1.json"))["status"] == "completed"  # the footprint is not lost
    assert any("runs.csv" in r.getMessage() and "refusing" in r.getMessage() for r in caplog.records)


def test_runs_csv_linked_to_a_file_inside_the_folder_is_not_followed_either(tmp_path, caplog):
    out = tmp_path / "shared"
    out.mkdir()
    (out / "keep.csv").write_text("mine\n")
    os.symlink("keep.csv", out / "runs.csv")  # relative, inside output_dir
    with caplog.at_level(logging.ERROR, logger="wattprint"):
        _run(out)
    assert (out / "keep.csv").read_text() == "mine\n"
    assert any("symbolic link" in r.getMessage() for r in caplog.records)


def test_temp_files_of_killed_writers_are_swept(tmp_path):
    out = tmp_path / "runs"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = out / f".wattprint-{dead.pid}-1-deadbeef.tmp"
    stale.write_text("{half a footp")
    alive = out / f".wattprint-{os.getppid()}-1-cafebabe.tmp"  # a live process's write in progress
    alive.write_text("{")
    other = out / "notes.tmp"
    other.write_text("mine")
    _io._swept.discard(str(out))
    _run(out)
    assert not stale.exists() and alive.exists() and other.exists()
    assert sorted(p.name for p in out.iterdir() if p.name.endswith(".json")) == ["r1.json"]
