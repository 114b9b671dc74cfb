"""Malformed inputs (issue 17): `wattprint report` on a folder mixing good runs with every malformed
kind (wrong types in a schema-shaped file, 10^5-deep nesting, a 5,000-digit integer, a FIFO named
*.json) exits 0, reports the good runs and lists what it skipped; a RAPL zone whose
max_energy_range_uj reads 0 or negative no longer makes start() raise."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from fakes.powercap import FakePowercap
from test_report import tracked_run
from wattprint import Tracker
from wattprint.cli import app as cli
from wattprint.engine.sensors.rapl import RaplSensor
from wattprint.testing import ManualClock


def _malformed(folder, good_doc):
    bad_types = dict(good_doc, run_id="bad-types", energy={"it_j": "lots", "it_kwh": [1]}, components=[5, "x"])
    (folder / "bad-types.json").write_text(json.dumps(bad_types))
    bad_section = dict(good_doc, run_id="bad-section", carbon="heavy")
    (folder / "bad-section.json").write_text(json.dumps(bad_section))
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (folder / "digits.json").write_text('{"schema": "wattprint.footprint/1", "energy": {"it_j": ' + "9" * 5000 + '}, "components": []}')
    (folder / "torn.json").write_text(json.dumps(good_doc)[:-40])
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "fifo.json")


def test_report_skips_every_malformed_kind_and_reports_the_good_runs(tmp_path, capsys):
    runs = tmp_path / "runs"
    tracked_run(runs, "good-1")
    tracked_run(runs, "good-2")
    _malformed(runs, json.loads((runs / "good-1.json").read_text()))
    rc = cli.main(["report", str(runs)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert "good-1" in out and "good-2" in out and "Traceback" not in err
    for name in ("bad-types", "bad-section", "deep", "digits", "torn") + (("fifo",) if hasattr(os, "mkfifo") else ()):
        assert f"skipped {runs / name}.json" in err, (name, err)
    assert "not a regular file" in err and "nested too deeply" in err and "malformed footprint" in err
    assert cli.main(["report", str(runs), "--summary", "--format", "csv"]) == 0  # the streaming path skips them too
    assert "good-2" in capsys.readouterr().out


def test_an_explicit_malformed_file_is_an_error_naming_it_not_a_traceback(tmp_path, capsys):
    runs = tmp_path / "runs"
    tracked_run(runs, "good")
    _malformed(runs, json.loads((runs / "good.json").read_text()))
    rc = cli.main(["report", str(runs / "bad-types.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "bad-types.json" in err and "energy.it_j" in err and "Traceback" not in err


@pytest.mark.parametrize("max_range", ["0", "-5"])
def test_rapl_zone_with_a_broken_max_range_does_not_stop_start(tmp_path, max_range):
    pc = FakePowercap(tmp_path, sockets=1)
    for zone in tmp_path.rglob("max_energy_range_uj"):
        zone.write_text(max_range + "\n")
    clock = ManualClock()
    t = Tracker(sensors=[RaplSensor(str(tmp_path))], clock=clock, interval_s=float("inf"), save=False)
    t.start()
    clock.advance(1.0)
    pc.add_j("cpu:package-0", 30.0)
    fp = t.stop()
    assert fp.component_energy_j("cpu") == pytest.approx(30.0)
    shutil.rmtree(tmp_path, ignore_errors=True)
