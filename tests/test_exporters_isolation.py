"""Isolation: an exporter that raises or hangs, an unwritable folder, a full disk, a dead or
killed Pushgateway: the run finishes, the JSON footprint is written first, the other
exporters' outputs are intact."""

from __future__ import annotations

import csv
import errno
import json
import logging
import os
import threading

import pytest
from conftest_pushgateway import (
    dead_port,
    replay_tracker,
    samples_of,
    scrape,
    start_pushgateway,
)
from wattprint.exporters import CsvExporter, JsonExporter, MemoryExporter


class Raising:
    def __init__(self) -> None:
        self.samples = 0

    def on_sample(self, fp) -> None:
        self.samples += 1
        raise RuntimeError("boom in on_sample")

    def export(self, fp) -> None:
        raise RuntimeError("boom in export")

    def close(self) -> None:
        raise OSError("boom in close")


class Hanging:
    """``export`` blocks until the test releases it (in teardown)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()

    def export(self, fp) -> None:
        self.entered.set()
        self.release.wait()


class OrderProbe:
    """Records whether the core's JSON file already exists when it exports."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.json_existed = None

    def export(self, fp) -> None:
        self.json_existed = os.path.exists(self.path)


@pytest.fixture
def hanging():
    h = Hanging()
    yield h
    h.release.set()


def _outputs_intact(tmp_path, fp, json_path, csv_path) -> None:
    doc = json.loads(json_path.read_text())
    assert doc["run_id"] == fp.run_id and doc["energy"]["it_j"] == pytest.approx(fp.energy_j)
    assert doc["timeline"]["t_s"]
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["run_id"] for r in rows] == [fp.run_id]


def test_raising_and_hanging_exporters_break_nothing(tmp_path, hanging, caplog):
    caplog.set_level(logging.WARNING, logger="wattprint")
    raising = Raising()
    memory = MemoryExporter()
    out = tmp_path / "extra"
    probe = OrderProbe(str(tmp_path / "core" / "iso-1.json"))
    exporters = [hanging, raising, JsonExporter(str(out / "{run_id}.json")), CsvExporter(str(out / "runs.csv")), memory, probe]
    # the deadline is real time, shared by every exporter: the hanging one is abandoned at it, and the others must
    # finish within it (a few ms of work; 5 s leaves room for a loaded machine, and is what the test costs)
    t, clock = replay_tracker(exporters, run_id="iso-1", output_dir=str(tmp_path / "core"), export_timeout_s=5.0)
    with t:
        t.step(3)
        clock.advance(2.0)
        t.sample_now()
        assert memory.wait_samples(1, timeout_s=60)
        clock.advance(2.0)
    fp = t.footprint
    assert fp.status == "completed" and fp.energy_j == pytest.approx(500.0)
    assert hanging.entered.is_set() and not hanging.release.is_set()  # still stuck, and abandoned
    assert probe.json_existed is True  # the core's JSON footprint was written before any exporter ran
    _outputs_intact(tmp_path, fp, tmp_path / "core" / "iso-1.json", tmp_path / "core" / "runs.csv")
    _outputs_intact(tmp_path, fp, out / "iso-1.json", out / "runs.csv")
    # the exporters got the final footprint; the one stop() returns adds the exporters' failures to its notes
    assert memory.final.to_dict()["energy"] == fp.to_dict()["energy"] and memory.closed
    assert any(n.startswith("exporter Raising failed in export") for n in fp.to_dict()["notes"])
    assert any(n.startswith("exporter Hanging failed in export: did not finish") for n in fp.to_dict()["notes"])
    assert "Raising export: " in " | ".join(t.export_errors)
    on_disk = json.loads((tmp_path / "core" / "iso-1.json").read_text())
    assert any(n.startswith("exporter Raising failed") for n in on_disk["notes"])  # the file says so too
    msgs = [r.getMessage() for r in caplog.records]
    assert sum("Raising failed in on_sample" in m for m in msgs) == 1
    assert sum("Raising failed in export" in m for m in msgs) == 1
    assert sum("Raising failed in close" in m for m in msgs) == 1
    assert sum("Hanging" in m and "abandoned" in m for m in msgs) == 1


def test_unwritable_folder_fails_alone(tmp_path):
    blocked = tmp_path / "blocked"
    if os.geteuid() == 0:
        blocked.write_text("a file where a folder should be")  # root ignores permission bits
    else:
        blocked.mkdir()
        blocked.chmod(0o500)
    good = tmp_path / "good"
    bad_json, bad_csv = JsonExporter(str(blocked / "x.json")), CsvExporter(str(blocked / "runs.csv"))
    good_json, good_csv = JsonExporter(str(good / "x.json")), CsvExporter(str(good / "runs.csv"))
    t, clock = replay_tracker([bad_json, bad_csv, good_json, good_csv], run_id="ro-1", output_dir=str(tmp_path / "core"))
    t.start()
    clock.advance(1.0)
    fp = t.stop()
    assert fp.status == "completed"
    assert bad_json.last_path is None and bad_csv.last_path is None
    assert json.loads((good / "x.json").read_text())["run_id"] == "ro-1"
    assert (good / "runs.csv").read_text().count("ro-1") == 1
    assert not [p for p in os.listdir(good) if p.endswith(".tmp")]


def test_full_disk_leaves_the_run_and_the_network_exporters(tmp_path, monkeypatch):
    pytest.importorskip("prometheus_client")
    from wattprint.exporters.prometheus import PrometheusExporter

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    prom = PrometheusExporter(port=0)
    memory = MemoryExporter()
    # the hardware boundary: every fsync reports a full disk from now on
    monkeypatch.setattr(os, "fsync", no_space)
    t, clock = replay_tracker([JsonExporter(str(tmp_path / "x.json")), CsvExporter(str(tmp_path / "r.csv")), prom, memory],
                              run_id="full-1", output_dir=str(tmp_path / "core"))
    t.start()
    try:
        clock.advance(2.0)
        t.sample_now()
        assert memory.wait_samples(1, timeout_s=60)
        prom.on_sample(t.snapshot())  # make sure the endpoint holds a sample, whatever its worker's pace
        assert samples_of(scrape(prom.url), "wattprint_energy_joules_total")
    finally:
        fp = t.stop()
    assert fp.status == "completed" and memory.final.to_dict()["energy"] == fp.to_dict()["energy"]
    assert not (tmp_path / "x.json").exists() and not (tmp_path / "core" / "full-1.json").exists()
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_killing_the_pushgateway_mid_run_leaves_everything_else(tmp_path, caplog):
    pytest.importorskip("prometheus_client")
    from wattprint.exporters.prometheus import PrometheusExporter

    gw = start_pushgateway(str(tmp_path))  # its files in the test's folder, not a new temporary one left behind
    try:
        pushed = threading.Semaphore(0)

        class Observed(PrometheusExporter):
            def on_sample(self, fp):
                try:
                    super().on_sample(fp)
                finally:
                    pushed.release()

        prom = Observed(pushgateway=gw.addr, push_interval_s=0.0, retry_backoff_s=0.0, final_push_attempts=2, push_timeout_s=30.0)  # a cap: the live gateway answers in ms, the killed one refuses at once
        out = tmp_path / "extra"
        t, clock = replay_tracker([prom, JsonExporter(str(out / "{run_id}.json")), CsvExporter(str(out / "runs.csv"))],
                                  run_id="killed-gw", output_dir=str(tmp_path / "core"), export_timeout_s=30)
        t.start()
        clock.advance(1.0)
        t.sample_now()
        assert pushed.acquire(timeout=30)
        assert prom.pushes == 1
        gw.kill()  # the target dies mid-run
        clock.advance(1.0)
        t.sample_now()
        assert pushed.acquire(timeout=30)
        clock.advance(1.0)
        fp = t.stop()
    finally:
        gw.stop()
    assert fp.status == "completed"
    assert prom.pushes == 1 and prom.push_errors == 3
    _outputs_intact(tmp_path, fp, tmp_path / "core" / "killed-gw.json", tmp_path / "core" / "runs.csv")
    _outputs_intact(tmp_path, fp, out / "killed-gw.json", out / "runs.csv")


def test_dead_pushgateway_from_the_start(tmp_path):
    pytest.importorskip("prometheus_client")
    from wattprint.exporters.prometheus import PrometheusExporter

    prom = PrometheusExporter(pushgateway=f"127.0.0.1:{dead_port()}", retry_backoff_s=0.0, final_push_attempts=3)
    csv_exp = CsvExporter(str(tmp_path / "runs-extra.csv"))
    t, clock = replay_tracker([prom, csv_exp], run_id="dead-1", output_dir=str(tmp_path / "core"))
    t.start()
    clock.advance(1.0)
    fp = t.stop()
    assert fp.status == "completed" and prom.push_errors == 3
    assert (tmp_path / "runs-extra.csv").read_text().count("dead-1") == 1
    assert (tmp_path / "core" / "dead-1.json").exists()


def test_pushgateway_that_never_answers_times_out(tmp_path):
    """A gateway that accepts connections and never replies: each push ends at its timeout."""
    pytest.importorskip("prometheus_client")
    import socket

    from wattprint.exporters.prometheus import PrometheusExporter

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # never accept(): connections complete in the backlog, requests go unanswered
        gw = f"127.0.0.1:{silent.getsockname()[1]}"
        prom = PrometheusExporter(pushgateway=gw, push_timeout_s=0.2, retry_backoff_s=0.0, final_push_attempts=2)
        memory = MemoryExporter()
        t, clock = replay_tracker([prom, memory], run_id="silent-1", output_dir=str(tmp_path), export_timeout_s=30)
        t.start()
        clock.advance(1.0)
        fp = t.stop()
    assert fp.status == "completed" and memory.final.to_dict()["energy"] == fp.to_dict()["energy"]
    assert prom.push_errors == 2 and "timed out" in (prom.last_push_error or "")
    assert (tmp_path / "silent-1.json").exists()
