"""Distributed job footprints: rank roles, GPU selection, merging, and a real two-process gloo job."""

from __future__ import annotations

import glob
import json
import math
import os
import socket
import sys

import pytest
import wattprint as wp
from torchrun_helper import run_torchrun
from wattprint.integrations.distributed import (
    DistributedTracker,
    RankInfo,
    merge_footprints,
    rank_gpu_selectors,
    rank_info,
)
from wattprint.testing import ManualClock

HERE = os.path.dirname(os.path.abspath(__file__))


# -- rank roles ---------------------------------------------------------------------


def test_rank_info_from_torchrun_variables():
    env = {"RANK": "5", "LOCAL_RANK": "1", "WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "4", "GROUP_RANK": "1", "WATTPRINT_NODE": "n1"}
    info = rank_info(env)
    assert info == RankInfo(rank=5, local_rank=1, world_size=8, local_world_size=4, node="n1", node_rank=1)
    assert info.distributed and not info.measures_node


def test_rank_info_from_slurm_variables():
    info = rank_info({"SLURM_PROCID": "3", "SLURM_LOCALID": "0", "SLURM_NTASKS": "4", "SLURM_NODEID": "1"})
    assert (info.rank, info.local_rank, info.world_size, info.node_rank) == (3, 0, 4, 1)
    assert info.measures_node


def test_rank_info_single_process_without_variables():
    info = rank_info({})
    assert (info.rank, info.world_size, info.local_rank) == (0, 1, 0)
    assert info.node == socket.gethostname() and not info.distributed


def test_unknown_local_rank_means_each_rank_measures_its_node():
    info = rank_info({"RANK": "1", "WORLD_SIZE": "2"})
    assert info.local_rank == 0 and info.local_world_size == 1 and info.measures_node


@pytest.mark.parametrize(
    "visible, local_rank, local_world, expected",
    [
        (None, 1, 4, ["1"]),  # unset: all GPUs; rank takes its index
        ("0,1,2,3", 2, 4, ["2"]),  # one per rank
        ("GPU-a,GPU-b", 1, 2, ["GPU-b"]),  # UUIDs kept as given
        ("4,5,6,7", 1, 2, ["6", "7"]),  # two per rank
        ("3", 1, 2, ["3"]),  # launcher already restricted the rank
        ("0,1", 2, 4, ["0"]),  # fewer GPUs than ranks: shared (the merge counts each once)
    ],
)
def test_rank_gpu_selectors(visible, local_rank, local_world, expected):
    env = {} if visible is None else {"CUDA_VISIBLE_DEVICES": visible}
    info = RankInfo(rank=local_rank, local_rank=local_rank, world_size=local_world, local_world_size=local_world, node="n")
    assert rank_gpu_selectors(info, env) == expected


def test_rank_gpu_selectors_one_rank_per_node_keeps_all_and_devices_win():
    info = RankInfo(rank=1, local_rank=0, world_size=2, local_world_size=1, node="n")
    assert rank_gpu_selectors(info, {"CUDA_VISIBLE_DEVICES": "0,1"}) is None
    assert rank_gpu_selectors(info, {"CUDA_VISIBLE_DEVICES": "4,5,6"}, devices=[2]) == ["6"]


def test_non_zero_local_rank_measures_no_node_components(tmp_path):
    env = {"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2"}
    dt = DistributedTracker(output_dir=str(tmp_path), gpu=False, env=env, interval_s=math.inf, handle_signals=False)
    dt.start()
    fp = dt.stop()  # no process group: the rank's own footprint, no gather
    assert fp is not None and fp["components"] == []
    assert fp["distributed"]["rank"] == 1 and fp["distributed"]["measures_node"] is False
    assert fp.run_id.endswith("-rank1")
    assert not glob.glob(str(tmp_path / "*.job.json"))


def test_without_process_group_it_is_a_plain_tracker(tmp_path):
    clock = ManualClock()
    sensor = wp.ReplaySensor([(0.0, 50.0)], component_id="gpu:0", kind="gpu")
    with DistributedTracker("p", output_dir=str(tmp_path), sensors=[sensor], clock=clock, interval_s=math.inf, env={}) as dt:
        clock.advance(2.0)
        dt.step(3)
    fp = dt.footprint
    assert fp.energy_j == pytest.approx(100.0) and fp.get("work.steps") == 3
    assert os.path.exists(os.path.join(str(tmp_path), f"{fp.run_id}.json"))
    assert "-rank" not in fp.run_id and dt.job_footprint is None
    assert fp["distributed"]["world_size"] == 1


# -- merging ------------------------------------------------------------------------


def _doc(rank, node, local_rank, comps, steps=10, status="completed", windows=()):
    return {
        "schema": wp.SCHEMA_ID,
        "run_id": f"job-rank{rank}",
        "project": "p",
        "status": status,
        "started_at": "2026-01-01T00:00:00.000Z",
        "ended_at": "2026-01-01T00:00:10.000Z",
        "duration_s": 10.0,
        "host": {"hostname": node},
        "components": [
            {"id": cid, "kind": kind, "name": kind, "source": "replay", "measured": True, "energy_j": e, "mean_power_w": e / 10, "peak_power_w": 0.0, "scope": scope, "info": info}
            for cid, kind, e, scope, info in comps
        ],
        "factors": {
            "pue": {"value": 1.2},
            "carbon_intensity_g_per_kwh": {"value": 300.0},
            "wue_l_per_kwh": {"value": 0.5},
            "ewif_l_per_kwh": {"value": 2.0},
        },
        "region": "IE",
        "energy": {"it_j": sum(c[2] for c in comps)},
        "work": {"steps": steps, "samples": 8 * steps, "tokens": 0, "flops": None},
        "windows": list(windows),
        "gaps": [],
        "notes": [],
        "sources": [],
        "distributed": {"rank": rank, "local_rank": local_rank, "world_size": 4, "node": node, "job_run_id": "job"},
    }


def test_distributed_tracker_answers_for_its_rank_without_reaching_into_it(tmp_path):
    clock = ManualClock()
    sensor = wp.ReplaySensor([(0.0, 20.0)], component_id="gpu:0", kind="gpu")
    dt = DistributedTracker(output_dir=str(tmp_path), sensors=[sensor], clock=clock, interval_s=math.inf, handle_signals=False,
                            rank=1, world_size=2, local_world_size=2)
    assert dt.steps == 0 and dt.snapshot() is None and dt.total_steps is None
    dt.start()
    assert dt.set_total_steps(10) and dt.total_steps == 10
    dt.step(3)
    clock.advance(2.0)
    dt.sample_now()
    snap = dt.snapshot()
    assert dt.steps == 3 and snap.status == "partial" and snap.energy_j == pytest.approx(40.0) == dt.energy_j
    fp = dt.stop(gather=False)
    assert dt.snapshot() is fp and fp.get("work.steps") == 3


def test_merge_counts_each_gpu_uuid_and_node_component_once():
    docs = [
        _doc(0, "a", 0, [("gpu:0", "gpu", 1000.0, "device", {"uuid": "GPU-1"}), ("cpu:package-0", "cpu", 300.0, "node", {})]),
        # same node, shares GPU-1 with rank 0 (e.g. two MIG slices of one GPU), and also read the CPU
        _doc(1, "a", 1, [("gpu:0", "gpu", 990.0, "device", {"uuid": "GPU-1"}), ("cpu:package-0", "cpu", 310.0, "node", {})]),
        _doc(2, "b", 0, [("gpu:0", "gpu", 800.0, "device", {"uuid": "GPU-9"}), ("ram", "ram", 50.0, "node", {})]),
        _doc(3, "b", 1, [("gpu:0", "gpu", 700.0, "device", {})], steps=9),
    ]
    job = merge_footprints(docs)
    d = job.to_dict()
    assert job.energy_j == pytest.approx(1000 + 300 + 800 + 50 + 700)
    assert sorted(c["id"] for c in d["components"]) == sorted(["a/rank0/gpu:0", "a/cpu:package-0", "b/rank2/gpu:0", "b/ram", "b/rank3/gpu:0"])
    dist = d["distributed"]
    assert dist["world_size"] == 4 and dist["nodes"] == 2 and dist["node_names"] == ["a", "b"]
    assert [r["rank"] for r in dist["ranks"]] == [0, 1, 2, 3]
    assert {(x["rank"], x["component"]) for x in dist["duplicates"]} == {(1, "gpu:0"), (1, "cpu:package-0")}
    assert sum(r["counted_energy_j"] for r in dist["ranks"]) == pytest.approx(job.energy_j)
    assert d["work"]["steps"] == 10 and d["work"]["samples"] == 8 * (10 + 10 + 10 + 9)
    # accounting recomputed with the ranks' factors
    kwh = job.energy_j / 3.6e6
    assert d["energy"]["facility_kwh"] == pytest.approx(kwh * 1.2)
    assert d["carbon"]["operational_kg"] == pytest.approx(kwh * 1.2 * 300.0 / 1000.0)
    assert d["run_id"] == "job" and d["status"] == "completed"


def test_merge_status_and_windows():
    w0 = [{"name": "epoch 0", "duration_s": 5.0, "energy_j": 130.0, "steps": 5, "components": {"gpu:0": 100.0, "cpu": 30.0}}]
    w1 = [{"name": "epoch 0", "duration_s": 5.5, "energy_j": 125.0, "steps": 5, "components": {"gpu:0": 95.0, "cpu": 30.0}}]
    docs = [
        _doc(0, "a", 0, [("gpu:0", "gpu", 200.0, "device", {}), ("cpu", "cpu", 60.0, "node", {})], windows=w0),
        _doc(1, "a", 1, [("gpu:0", "gpu", 190.0, "device", {}), ("cpu", "cpu", 60.0, "node", {})], status="failed", windows=w1),
    ]
    job = merge_footprints(docs, run_id="J", project="q")
    assert job.status == "failed" and job.run_id == "J" and job["project"] == "q"
    (w,) = job["windows"]
    assert w["name"] == "epoch 0" and w["energy_j"] == pytest.approx(100 + 30 + 95) and w["duration_s"] == 5.5 and w["ranks"] == 2


def test_merge_window_totals_count_shared_hardware_once():
    t0 = {"name": "step", "count": 1000, "duration_s": 50.0, "energy_j": 1300.0, "steps": 1000, "components": {"gpu:0": 1000.0, "cpu": 300.0}}
    t1 = {"name": "step", "count": 1000, "duration_s": 52.0, "energy_j": 1250.0, "steps": 1000, "components": {"gpu:0": 950.0, "cpu": 300.0}}
    docs = [
        _doc(0, "a", 0, [("gpu:0", "gpu", 2000.0, "device", {}), ("cpu", "cpu", 600.0, "node", {})]),
        _doc(1, "a", 1, [("gpu:0", "gpu", 1900.0, "device", {}), ("cpu", "cpu", 600.0, "node", {})]),
    ]
    docs[0]["window_totals"], docs[1]["window_totals"] = [t0], [t1]
    (w,) = merge_footprints(docs, run_id="J")["window_totals"]
    assert (w["name"], w["count"], w["steps"], w["ranks"]) == ("step", 1000, 1000, 2)
    assert w["energy_j"] == pytest.approx(1000 + 300 + 950) and w["duration_s"] == 52.0  # the node's CPU once


def test_merge_needs_documents():
    with pytest.raises(ValueError):
        merge_footprints([])


# -- a real two-process job -----------------------------------------------------------------


@pytest.fixture(scope="module")
def torchrun_job(tmp_path_factory):
    out = tmp_path_factory.mktemp("torchrun")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTPRINT_")}
    env["OMP_NUM_THREADS"] = "1"
    proc = run_torchrun([os.path.join(HERE, "dist_worker.py"), str(out)], env=env, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def _load(out, scenario):
    results = [json.load(open(os.path.join(out, scenario, f"result-{r}.json"))) for r in (0, 1)]
    (job_path,) = glob.glob(os.path.join(out, scenario, "*.job.json"))
    ranks = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out, scenario, "*-rank*.json")))]
    return results, json.load(open(job_path)), ranks, job_path


@pytest.mark.slow
def test_two_process_job_same_node_counts_the_cpu_once(torchrun_job):
    results, job, ranks, job_path = _load(torchrun_job, "same_node")
    assert results[0]["job_path"] == job_path and results[1]["job_path"] is None
    assert results[0]["returned_is_job"] and not results[1]["returned_is_job"]
    assert results[0]["job_run_id"] == results[1]["job_run_id"] == job["run_id"]
    assert [r["run_id"] for r in ranks] == [job["run_id"] + "-rank0", job["run_id"] + "-rank1"]
    # each rank: its GPU for 2 s (100 W, 110 W) plus the node CPU (40 W)
    assert [r["energy"]["it_j"] for r in ranks] == pytest.approx([280.0, 300.0])
    assert job["energy"]["it_j"] == pytest.approx(200.0 + 220.0 + 80.0)
    d = job["distributed"]
    assert d["world_size"] == 2 and d["nodes"] == 1 and len(d["ranks"]) == 2
    assert [c["id"] for c in job["components"]].count(f"{d['node_names'][0]}/cpu") == 1
    assert d["duplicates"] == [{"rank": 1, "component": "cpu", "duplicate_of": f"{d['node_names'][0]}/cpu"}]
    assert sum(r["counted_energy_j"] for r in d["ranks"]) == pytest.approx(job["energy"]["it_j"])
    assert job["work"]["steps"] == 4 and job["work"]["samples"] == 2 * 4 * 8 and job["work"]["tokens"] == 2 * 4 * 64
    assert job["carbon"]["operational_kg"] > 0 and job["status"] == "completed"


@pytest.mark.slow
def test_two_process_job_on_two_nodes_counts_each_node(torchrun_job):
    _, job, ranks, _ = _load(torchrun_job, "two_nodes")
    d = job["distributed"]
    assert d["nodes"] == 2 and d["node_names"] == ["node-a", "node-b"] and d["duplicates"] == []
    assert [(r["rank"], r["node"]) for r in d["ranks"]] == [(0, "node-a"), (1, "node-b")]
    assert job["energy"]["it_j"] == pytest.approx(sum(r["energy"]["it_j"] for r in ranks)) == pytest.approx(580.0)


@pytest.mark.slow
def test_two_process_job_with_real_discovery_is_the_sum_of_its_ranks(torchrun_job):
    results, job, ranks, _ = _load(torchrun_job, "discovery")
    assert results[1]["own_components"] == []  # local rank 1 leaves CPU and RAM to local rank 0
    assert results[0]["own_components"]  # CPU (RAPL or estimate) and RAM on local rank 0
    assert job["energy"]["it_j"] == pytest.approx(sum(r["energy"]["it_j"] for r in ranks))
    ids = [c["id"] for c in job["components"]]
    assert len(ids) == len(set(ids)) == len(results[0]["own_components"])
    assert job["distributed"]["duplicates"] == []


# -- each rank reads only its own GPU through NVML (fake pynvml at the hardware boundary) ------


@pytest.fixture
def fake_nvml(monkeypatch):
    from fakes.fake_pynvml import make_fake_nvml, two_gpus

    module = make_fake_nvml(two_gpus())
    monkeypatch.setitem(sys.modules, "pynvml", module)
    return module


@pytest.mark.parametrize("visible", [None, "0,1"])
def test_each_rank_reads_only_its_own_gpu(fake_nvml, tmp_path, visible):
    uuids = []
    docs = []
    for rank in (0, 1):
        env = {} if visible is None else {"CUDA_VISIBLE_DEVICES": visible}
        dt = DistributedTracker(
            output_dir=str(tmp_path), rank=rank, local_rank=rank, world_size=2, local_world_size=2,
            cpu=False, ram=False, env=env, interval_s=math.inf, handle_signals=False,
        )
        dt.start()
        fp = dt.stop()
        (comp,) = fp["components"]
        assert comp["kind"] == "gpu" and comp["source"].startswith("nvml")
        uuids.append(comp["info"]["uuid"])
        docs.append(fp.to_dict())
    assert uuids == [g.uuid for g in fake_nvml.gpus]
    job = merge_footprints(docs)
    assert len(job["components"]) == 2 and job["distributed"]["duplicates"] == []


def test_ranks_sharing_one_gpu_count_it_once(fake_nvml, tmp_path):
    docs = []
    for rank in (0, 1):  # two ranks, one visible GPU each told to use device 0 of "1"
        dt = DistributedTracker(
            output_dir=str(tmp_path), rank=rank, local_rank=rank, world_size=2, local_world_size=2,
            devices=[0], cpu=False, ram=False, env={"CUDA_VISIBLE_DEVICES": "1"}, interval_s=math.inf, handle_signals=False,
        )
        dt.start()
        docs.append(dt.stop().to_dict())
    job = merge_footprints(docs)
    assert [c["info"]["uuid"] for c in job["components"]] == [fake_nvml.gpus[1].uuid]
    assert job["distributed"]["duplicates"] == [{"rank": 1, "component": "gpu:0", "duplicate_of": f"{job['distributed']['node_names'][0]}/rank0/gpu:0"}]
