"""Lightning and Hugging Face trainers in a real two-process CPU job (torchrun, gloo): every rank behaves."""

from __future__ import annotations

import glob
import json
import os

import pytest
from torchrun_helper import run_torchrun

HERE = os.path.dirname(os.path.abspath(__file__))
RANK_J = [4 * 100.0 + 4 * 40.0, 4 * 110.0]  # 4 steps of 1 s: GPU 100 W + node CPU 40 W on rank 0; GPU 110 W on rank 1


def _launch(framework, out):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTPRINT_")}
    env.update(OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    proc = run_torchrun([os.path.join(HERE, "framework_ddp_worker.py"), framework, str(out)], env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = [json.load(open(os.path.join(str(out), f"result-{r}.json"))) for r in (0, 1)]
    (job_path,) = glob.glob(os.path.join(str(out), "*.job.json"))
    return results, json.load(open(job_path)), job_path


def _check_job(results, job, job_path):
    assert results[0]["returned_job"] and results[0]["job_path"] == job_path
    assert not results[1]["returned_job"] and results[1]["job_path"] is None
    own = [r["own"] for r in results]
    assert [o["energy"]["it_j"] for o in own] == pytest.approx(RANK_J)
    assert [o["distributed"]["rank"] for o in own] == [0, 1]
    assert own[0]["run_id"] == job["run_id"] + "-rank0" and own[1]["run_id"] == job["run_id"] + "-rank1"
    assert job["energy"]["it_j"] == pytest.approx(sum(RANK_J))
    assert job["work"]["steps"] == results[0]["global_step"] == results[1]["global_step"] == 4
    d = job["distributed"]
    assert d["world_size"] == 2 and d["nodes"] == 1 and d["duplicates"] == []
    assert [c["local_id"] for c in job["components"]] == ["gpu:0", "cpu", "gpu:0"]
    assert [w["name"] for w in job["windows"]] == ["epoch 0", "epoch 1"]
    assert sum(w["energy_j"] for w in job["windows"]) == pytest.approx(sum(RANK_J))


@pytest.mark.slow
def test_lightning_ddp_two_ranks(tmp_path):
    results, job, job_path = _launch("lightning", tmp_path)
    _check_job(results, job, job_path)
    # every rank logged the job's (summed) energy
    for r in results:
        assert r["logged_energy_kwh"] == pytest.approx(sum(RANK_J) / 3.6e6, rel=1e-6)
        assert r["logged_epoch_energy_j"] == pytest.approx(sum(RANK_J) / 2, rel=1e-6)
    assert job["lightning"]["stage"] == "fit" and job["work"]["samples"] == 32 + 32


@pytest.mark.slow
def test_transformers_ddp_two_ranks(tmp_path):
    results, job, job_path = _launch("transformers", tmp_path)
    _check_job(results, job, job_path)
    assert results[0]["world_size"] == 2
    # tokens are counted once (the Trainer's count is already global), on world process 0
    assert job["work"]["tokens"] == results[0]["tokens_seen"] == 2 * 2 * 4 * 2 * 8
    assert results[1]["own"]["work"]["tokens"] == 0
    # the logs carry the job's energy so far on every rank
    per_step = sum(RANK_J) / 4 / 3.6e6
    for r in results:
        assert r["logged_energy_kwh"] == pytest.approx([per_step * k for k in (1, 2, 3, 4)])
