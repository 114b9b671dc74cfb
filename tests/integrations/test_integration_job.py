"""Done when (issue 12): a real two-rank torchrun job (with and without a gloo process group) whose script only does ``with wattprint.Tracker(): ...``
leaves exactly one job footprint with both ranks and the node's CPU and RAM counted once, and
``wattprint report`` on the folder shows one job."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest
from torchrun_helper import run_torchrun

HERE = os.path.dirname(os.path.abspath(__file__))


def _run_job(tmp_path_factory, worker):
    out = tmp_path_factory.mktemp("quickstart")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WATTPRINT_", "SLURM_", "OMPI_", "PMIX_", "PMI_"))}
    env.update(OMP_NUM_THREADS="1", WATTPRINT_OUTPUT_DIR=str(out), WATTPRINT_JOB_WAIT_S="60")
    proc = run_torchrun([os.path.join(HERE, worker)], env=env, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, proc


@pytest.fixture(scope="module", params=["job_worker.py", "job_worker_gloo.py"], ids=["no-process-group", "gloo"])
def quick_start_job(request, tmp_path_factory):
    """The quick start under torchrun, without and with a gloo process group in the script."""
    return _run_job(tmp_path_factory, request.param)


@pytest.mark.slow
def test_quick_start_under_torchrun_leaves_one_job_footprint(quick_start_job):
    out, proc = quick_start_job
    (job_path,) = glob.glob(str(out / "*.job.json"))
    job = json.load(open(job_path))
    ranks = sorted(glob.glob(str(out / "*-rank*.json")))
    assert [os.path.basename(p) for p in ranks] == [f"{job['run_id']}-rank0.json", f"{job['run_id']}-rank1.json"]
    docs = [json.load(open(p)) for p in ranks]
    assert [d["job"]["rank"] for d in docs] == [0, 1] and {d["job"]["job_id"] for d in docs} == {job["run_id"]}
    assert [d["components"] for d in docs][1] == []  # local rank 1 leaves the node's CPU and RAM to local rank 0
    kinds = [c["kind"] for c in job["components"]]
    assert kinds.count("cpu") == 1 and kinds.count("ram") == 1  # the node's CPU and RAM, once
    assert job["energy"]["it_j"] == pytest.approx(sum(d["energy"]["it_j"] for d in docs))
    assert job["job"]["world_size"] == 2 and job["job"]["ranks_reported"] == 2 and job["job"]["missing_ranks"] == []
    assert job["job"]["scheduler"] == "torchrun" and job["status"] == "completed"
    assert job["work"]["samples"] == 2 * 200 * 32 and job["work"]["steps"] == 200
    assert not os.path.exists(out / ".wattprint-jobs")
    assert proc.stdout.count(" True True") == 1  # exactly one rank assembled the job


@pytest.mark.slow
def test_report_on_the_folder_shows_one_job(quick_start_job):
    out, _ = quick_start_job
    res = subprocess.run([sys.executable, "-m", "wattprint", "report", str(out), "--format", "json"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    (run,) = json.loads(res.stdout)["runs"]
    assert run["run_id"] == json.load(open(glob.glob(str(out / "*.job.json"))[0]))["run_id"]
