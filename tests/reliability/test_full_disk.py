"""A full disk under output_dir (issue 17): training never crashes, stop() returns the whole
footprint, the failure is logged naming the file, no torn runs.csv row, no .tmp litter, every
checkpoint file left is whole, and once space returns the next run writes a whole row.

Two ways: a real tmpfs of 64 KiB filled to the last byte (needs root and mount; skipped, saying
why, where that is refused), and :class:`Disk`, a full disk at the boundary wattprint writes through
(``os.write``, ``os.fsync`` in ``wattprint._io``'s namespace, i.e. the os module), which runs
everywhere and can fill in the middle of a write."""

from __future__ import annotations

import csv
import errno
import json
import logging
import os
import shutil
import subprocess
import sys
import uuid

import pytest
from wattprint import _io
from wattprint.report import load_footprint
from wattprint.testing import replay_tracker

ENOSPC = OSError(errno.ENOSPC, "No space left on device")


class Disk:
    """The disk boundary: ``free`` bytes left (``None``: unlimited). A write that does not fit is
    cut short as the kernel does (a short count, then ``ENOSPC``); ``fsync`` of a full disk fails."""

    def __init__(self, monkeypatch):
        self.free = None
        self._write, self._fsync = os.write, os.fsync
        monkeypatch.setattr(_io.os, "write", self.write)
        monkeypatch.setattr(_io.os, "fsync", self.fsync)

    def write(self, fd, data):
        if self.free is None:
            return self._write(fd, data)
        if self.free <= 0 or not data:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = self._write(fd, bytes(data[: self.free]))
        self.free -= n
        return n

    def fsync(self, fd):
        if self.free is not None and self.free <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self._fsync(fd)


def _run(out, run_id, seconds=3, *, during=None, checkpoint_interval_s=1.0):
    """A real tracked run (replayed 100 W GPU, manual clock, checkpoints every second); ``during(i)``
    is called before each second's sample. Returns the footprint stop() returned."""
    t, clock = replay_tracker(100.0, run_id=run_id, output_dir=str(out), save=True, checkpoint_interval_s=checkpoint_interval_s)
    t.start()
    for i in range(seconds):
        if during is not None:
            during(i)
        clock.advance(1.0)
        t.step()
        t.sample_now()
    return t.stop()


def _rows(out):
    with open(out / "runs.csv", newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _refuse(token):
    raise ValueError(f"non-standard JSON token {token}")


def _assert_folder_whole(out):
    """No temp litter; every JSON strict and whole; every journal line whole; runs.csv rectangular,
    ending in a newline. Returns the run ids of the CSV rows."""
    names = sorted(os.listdir(out))
    assert not [n for n in names if n.endswith(".tmp")], names
    for n in names:
        if n.endswith(".json"):
            json.loads((out / n).read_text(), parse_constant=_refuse)  # strict: no NaN or Infinity
        if n.endswith(".timeline.jsonl"):
            text = (out / n).read_text()
            assert text.endswith("\n") and all(json.loads(ln) is not None for ln in text.splitlines()), text[-200:]
    if "runs.csv" not in names or (out / "runs.csv").stat().st_size == 0:
        return []
    assert (out / "runs.csv").read_bytes().endswith(b"\n")
    rows = _rows(out)
    assert len({len(r) for r in rows}) == 1 and rows[0][1] == "run_id", rows
    return [r[1] for r in rows[1:]]


def test_a_disk_that_fills_mid_run_loses_neither_the_training_nor_the_footprint(tmp_path, monkeypatch, caplog):
    disk = Disk(monkeypatch)
    out = tmp_path / "out"
    _run(out, "before")
    csv_before = (out / "runs.csv").read_bytes()

    def fill(i):
        if i == 4:
            disk.free = 37  # the disk fills inside the next checkpoint's journal append

    with caplog.at_level(logging.INFO, logger="wattprint"):
        fp = _run(out, "during", seconds=10, during=fill)
    assert fp.status == "completed" and fp.energy_j == pytest.approx(1000.0) and fp.get("work.steps") == 10
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("during.json" in m and "No space left" in m for m in errors), errors  # logged, naming the file
    assert any("runs.csv" in m and "No space left" in m for m in errors), errors
    assert len([m for m in errors if "checkpoint" in m]) == 1, errors  # once, not at every checkpoint of a full disk
    assert _assert_folder_whole(out) == ["before"] and (out / "runs.csv").read_bytes() == csv_before  # no torn row
    left = load_footprint(str(out / "during.json"))  # the last checkpoint that fitted, whole
    assert left.status == "partial" and 0 < left.energy_j < 1000.0

    disk.free = None  # space returns
    _run(out, "after")
    assert _assert_folder_whole(out) == ["before", "after"]
    fp.save(str(out / "during.json"))  # the footprint stop() returned is whole: it can be saved now
    assert load_footprint(str(out / "during.json")).to_dict() == fp.to_dict()


def test_a_journal_append_cut_short_by_a_full_disk_keeps_every_point_for_a_killed_run(tmp_path, monkeypatch):
    disk = Disk(monkeypatch)
    out = tmp_path / "out"

    def full_for_two_checkpoints(i):
        disk.free = {3: 5, 4: 0}.get(i)  # one append torn after 5 bytes, the next refused

    t, clock = replay_tracker(100.0, run_id="killed", output_dir=str(out), save=True, checkpoint_interval_s=1.0)
    t.start()
    for i in range(8):
        full_for_two_checkpoints(i)
        clock.advance(1.0)
        t.step()
        t.sample_now()
    # killed here (SIGKILL): what is on disk is the last checkpoint and its journal
    _assert_folder_whole(out)
    left = load_footprint(str(out / "killed.json"))
    t_s = left.timeline["t_s"]
    assert t_s == sorted(t_s) and t_s[0] == 0.0 and t_s[-1] == pytest.approx(8.0) and len(t_s) >= 8, t_s  # no point lost to the full disk
    t.stop()


def test_a_row_that_does_not_fit_is_cut_back_and_the_next_run_writes_a_whole_row(tmp_path, monkeypatch, caplog):
    disk = Disk(monkeypatch)
    out = tmp_path / "out"
    _run(out, "before")
    for free in (0, 1, 120):  # nothing, one byte, part of the row
        disk.free = free
        fp = _run(out, f"full-{free}", checkpoint_interval_s=float("inf"))
        assert fp.status == "completed" and fp.energy_j == pytest.approx(300.0)
        assert _assert_folder_whole(out) == ["before"]
    disk.free = None
    _run(out, "after")
    assert _assert_folder_whole(out) == ["before", "after"]


# -- a real full tmpfs ------------------------------------------------------------------------


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 64 KiB tmpfs mounted in tmp_path (root and mount(8) needed; skipped, saying why, if refused)."""
    if not sys.platform.startswith("linux") or shutil.which("mount") is None:
        pytest.skip("a tmpfs needs Linux and mount(8)")
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CAP_SYS_ADMIN); the Disk tests above cover the behaviour")
    where = tmp_path / f"fs-{uuid.uuid4().hex[:6]}"
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(where)], capture_output=True, text=True, timeout=20)
    if done.returncode != 0:
        pytest.skip(f"mount refused here ({done.stderr.strip() or done.returncode}); the Disk tests above cover the behaviour")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=20)


def _fill(folder):
    """Write a file until the file system refuses another byte; return its path."""
    path = folder / "filler"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 1):
            while True:
                try:
                    if os.write(fd, b"\0" * size) < size:
                        break
                except OSError as err:
                    assert err.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)
    return path


def test_a_run_on_a_full_tmpfs(tiny_tmpfs, caplog):
    out = tiny_tmpfs / "out"
    out.mkdir()
    filler = _fill(tiny_tmpfs)
    with caplog.at_level(logging.ERROR, logger="wattprint"):
        fp = _run(out, "during", seconds=5)  # checkpoints, the final JSON and the row all meet a full disk
    assert fp.status == "completed" and fp.energy_j == pytest.approx(500.0)
    assert any("during.json" in r.getMessage() and "No space left" in r.getMessage() for r in caplog.records)
    assert _assert_folder_whole(out) == []  # nothing torn, no litter, no row

    filler.unlink()  # space returns
    _run(out, "after")
    assert _assert_folder_whole(out) == ["after"]
    fp.save(str(out / "during.json"))
    assert load_footprint(str(out / "during.json")).energy_j == pytest.approx(500.0)

    _fill(tiny_tmpfs)  # full again, with runs.csv holding rows: the next row fits in its page or is cut back whole
    _run(out, "again", seconds=2)
    assert _assert_folder_whole(out) in (["after"], ["after", "again"])
