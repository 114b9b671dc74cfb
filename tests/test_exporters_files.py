"""JsonExporter and CsvExporter: atomic JSON with its timeline, and one intact CSV row
per run when many processes append to the same file at once."""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import threading

import pytest
from conftest_pushgateway import replay_tracker
from wattprint import CSV_FIELDS, Footprint
from wattprint.errors import ConfigError
from wattprint.exporters import CsvExporter, JsonExporter
from wattprint.exporters.csv_file import existing_header


def _finished_run(tmp_path, exporters, **kwargs):
    t, clock = replay_tracker(exporters, output_dir=str(tmp_path / "core"), **kwargs)
    t.start()
    t.step(4, tokens=400)
    clock.advance(2.0)
    t.sample_now()
    clock.advance(2.0)
    return t.stop()


def test_json_exporter_writes_footprint_and_timeline(tmp_path):
    target = tmp_path / "ckpt" / "{project}-{run_id}.footprint.json"
    exp = JsonExporter(str(target))
    fp = _finished_run(tmp_path, [exp], run_id="r 1", project="p q")
    path = tmp_path / "ckpt" / "p_q-r_1.footprint.json"
    assert exp.last_path == str(path)
    doc = json.loads(path.read_text())
    assert {k: v for k, v in doc.items() if k != "timeline"} == json.loads(json.dumps(fp.to_dict()))
    tl = doc["timeline"]
    assert set(tl) == {"t_s", "steps", "energy_j", "power_w", "downsample_stride"}
    assert tl["t_s"] == [0.0, 2.0, 4.0]
    assert tl["energy_j"]["gpu:0"] == [0.0, 200.0, 400.0]
    assert tl["power_w"]["gpu:0"] == [None, 100.0, 100.0]
    assert len(tl["steps"]) == len(tl["t_s"])
    assert not [p for p in os.listdir(path.parent) if p.endswith(".tmp")]


def test_json_exporter_into_a_folder_and_without_timeline(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    exp = JsonExporter(str(folder), timeline=False)
    _finished_run(tmp_path, [exp], run_id="run-7")
    doc = json.loads((folder / "run-7.json").read_text())
    assert "timeline" not in doc and doc["run_id"] == "run-7"


def test_json_exporter_live_rewrites_a_partial_footprint(tmp_path):
    exp = JsonExporter(str(tmp_path / "live.json"), live=True)
    wrote = threading.Event()
    write = exp.on_sample

    def on_sample(fp):
        write(fp)
        wrote.set()

    exp.on_sample = on_sample
    t, clock = replay_tracker([exp], save=False)
    t.start()
    try:
        clock.advance(2.0)
        t.sample_now()
        assert wrote.wait(30)
        doc = json.loads((tmp_path / "live.json").read_text())
        assert doc["status"] == "partial" and doc["energy"]["it_j"] == pytest.approx(250.0)
    finally:
        t.stop()
    assert json.loads((tmp_path / "live.json").read_text())["status"] == "completed"


def test_csv_exporter_appends_one_row_per_run_with_the_stable_header(tmp_path):
    path = tmp_path / "all-runs.csv"
    fps = [_finished_run(tmp_path, [CsvExporter(str(path))], run_id=f"run-{i}") for i in range(3)]
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == CSV_FIELDS
    assert [r[CSV_FIELDS.index("run_id")] for r in rows[1:]] == ["run-0", "run-1", "run-2"]
    row = dict(zip(rows[0], rows[1], strict=True))
    assert float(row["energy.it_j"]) == pytest.approx(fps[0].energy_j)
    assert float(row["energy.gpu_j"]) == pytest.approx(400.0)
    assert row["status"] == "completed"


def test_csv_exporter_keeps_an_older_shorter_header(tmp_path):
    path = tmp_path / "old.csv"
    old = CSV_FIELDS[:10]
    path.write_text(",".join(old) + "\n")
    _finished_run(tmp_path, [CsvExporter(str(path))], run_id="new-run")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == old and len(rows) == 2 and len(rows[1]) == len(old)
    assert rows[1][old.index("run_id")] == "new-run"


def test_csv_exporter_refuses_a_file_that_is_not_csv(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("\n\nnot a header\n")
    with pytest.raises(ValueError, match="header"):
        existing_header(str(path))


def test_csv_exporter_rejects_unknown_columns():
    with pytest.raises(ConfigError, match="fields"):
        CsvExporter("x.csv", fields=["run_id", "nope"])


# -- many processes, one file --------------------------------------------------------

PROCESSES = 8
ROWS_EACH = 25


def _append_rows(path: str, doc: dict, timeline: dict, worker: int, start) -> None:
    start.wait(60)  # all processes start appending together
    exp = CsvExporter(path)
    for i in range(ROWS_EACH):
        d = dict(doc)
        d["run_id"] = f"w{worker}-r{i}"
        d["project"] = f'a project, "quoted"\nover two lines {worker}'  # commas, quotes, newline
        exp.export(Footprint(d, timeline))


@pytest.mark.slow
def test_many_processes_append_to_one_csv(tmp_path):
    fp = _finished_run(tmp_path, [])
    path = str(tmp_path / "shared" / "runs.csv")
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_append_rows, args=(path, fp.to_dict(), fp.timeline, w, start)) for w in range(PROCESSES)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with open(path, newline="", encoding="utf-8") as fh:
        text = fh.read()
    assert text.count("schema,run_id,project") == 1
    rows = list(csv.DictReader(text.splitlines(keepends=True)))
    assert len(rows) == PROCESSES * ROWS_EACH
    assert sorted(r["run_id"] for r in rows) == sorted(f"w{w}-r{i}" for w in range(PROCESSES) for i in range(ROWS_EACH))
    for r in rows:
        assert list(r) == CSV_FIELDS and None not in r.values()
        assert r["status"] == "completed" and float(r["energy.it_j"]) == pytest.approx(fp.energy_j)
        assert r["project"] == f'a project, "quoted"\nover two lines {r["run_id"][1:].split("-")[0]}'

    pd = pytest.importorskip("pandas")
    frame = pd.read_csv(path)
    assert list(frame.columns) == CSV_FIELDS
    assert len(frame) == PROCESSES * ROWS_EACH
    assert frame["run_id"].is_unique
    assert frame["energy.it_j"].astype(float).round(6).nunique() == 1
