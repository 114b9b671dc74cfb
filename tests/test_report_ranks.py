"""`wattprint report` and distributed jobs: rank files are folded into their job footprint, or
merged into one here when the job footprint was never written (a job that died before the gather)."""

from __future__ import annotations

import json

import pytest
from wattprint import report
from wattprint.cli import app as cli
from wattprint.footprint.merge import merge_footprints, write_job_footprint
from wattprint.testing import replay_tracker


def rank_run(out, job, rank, *, world_size=2, gpu_w=300.0, seconds=10.0):
    """One rank's footprint of job ``job`` on node n1: its own replayed GPU, the node's (estimated) CPU."""
    t, clock = replay_tracker(
        gpu_w, cpu_watts=50.0, project="ddp", run_id=f"{job}-rank{rank}", output_dir=str(out), save=True, env={},
    )
    t.annotate("distributed", {"rank": rank, "local_rank": rank, "world_size": world_size, "node": "n1", "job_run_id": job})
    t.start()
    clock.advance(seconds)
    return t.stop()


def run_cli(argv, capsys):
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_orphan_rank_files_are_merged_into_one_job(tmp_path, capsys):
    runs = tmp_path / "runs"
    fps = [rank_run(runs, "job9", rank, gpu_w=w) for rank, w in ((0, 300.0), (1, 200.0))]
    assert not list(runs.glob("*.job.json"))

    loaded = report.load_footprints([str(runs)])
    (job,) = loaded.footprints
    expected = merge_footprints([fp.to_dict() for fp in fps], run_id="job9")
    assert job.run_id == "job9"
    assert job.get("distributed.ranks_reported") == 2
    # each GPU once, the node's CPU once (both ranks reported it): 300 W + 200 W + 50 W for 10 s
    assert job.energy_j == pytest.approx(expected.energy_j) == pytest.approx(5500.0)
    assert job.get("carbon.total_kg") == pytest.approx(expected.get("carbon.total_kg"))
    assert [j for j, _ in loaded.merged] == ["job9"] and len(loaded.merged[0][1]) == 2
    assert loaded.folded == [] and loaded.unmerged == []
    assert any("merged by wattprint report from 2 rank footprint(s)" in n for n in job.get("notes"))

    rc, out, err = run_cli(["report", str(runs)], capsys)
    assert rc == 0, err
    assert "Job (2 ranks on 1 node(s)) job9" in out
    assert "job job9 has no job footprint; merged its 2 per-rank footprint(s)" in err
    rc, out, _ = run_cli(["report", str(runs), "--format", "json"], capsys)
    assert [r["run_id"] for r in json.loads(out)["runs"]] == ["job9"]
    assert json.loads(out)["runs"][0]["energy_it_j"] == pytest.approx(5500.0)

    rc, out, _ = run_cli(["report", str(runs), "--ranks", "--summary"], capsys)
    assert rc == 0 and "Comparison of 2 runs" in out and "job9-rank0" in out and "job9-rank1" in out


def test_missing_ranks_are_noted(tmp_path):
    runs = tmp_path / "runs"
    rank_run(runs, "job3", 0, world_size=3)
    rank_run(runs, "job3", 2, world_size=3)
    (job,) = report.load_footprints([str(runs)]).footprints
    assert job.get("distributed.world_size") == 3 and job.get("distributed.ranks_reported") == 2
    assert any("1 of 3 ranks missing" in n for n in job.get("notes"))


def test_with_the_job_footprint_ranks_are_folded_not_merged(tmp_path):
    runs = tmp_path / "runs"
    fps = [rank_run(runs, "job7", rank) for rank in (0, 1)]
    write_job_footprint(merge_footprints([fp.to_dict() for fp in fps], run_id="job7"), str(runs))
    loaded = report.load_footprints([str(runs)])
    assert [f.run_id for f in loaded.footprints] == ["job7"]
    assert loaded.merged == [] and len(loaded.folded) == 2


def test_explicit_rank_files_are_listed_as_given(tmp_path):
    runs = tmp_path / "runs"
    rank_run(runs, "job5", 0)
    rank_run(runs, "job5", 1)
    files = sorted(str(p) for p in runs.glob("*.json"))
    loaded = report.load_footprints(files)
    assert sorted(f.run_id for f in loaded.footprints) == ["job5-rank0", "job5-rank1"] and loaded.merged == []


def test_rank_files_that_cannot_be_merged_stay_separate(tmp_path, capsys):
    runs = tmp_path / "runs"
    rank_run(runs, "job4", 0)
    rank_run(runs, "job4", 1)
    path = runs / "job4-rank1.json"
    doc = json.loads(path.read_text())
    for comp in doc["components"]:
        del comp["id"]  # a hand-edited file the merge cannot key
    path.write_text(json.dumps(doc))
    loaded = report.load_footprints([str(runs)])
    assert sorted(f.run_id for f in loaded.footprints) == ["job4-rank0", "job4-rank1"]
    assert [j for j, _ in loaded.unmerged] == ["job4"] and loaded.merged == []
    rc, _, err = run_cli(["report", str(runs)], capsys)
    assert rc == 0 and "job job4: cannot merge its 2 rank footprint(s)" in err
