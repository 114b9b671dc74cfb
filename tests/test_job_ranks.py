"""A plain Tracker is rank-aware from the environment (issue 12, items 1 and 5): rank, scheduler and job id
from torchrun / SLURM / MPI variables and the Kubernetes cgroup path, rank files ``<job>-rank<k>.json``,
node components on local rank 0 only, and one job footprint assembled by the last rank to stop."""

from __future__ import annotations

import glob
import json
import math
import os
import threading

import pytest
import wattprint as wp
from wattprint.cli import app as cli
from wattprint.errors import ConfigError
from wattprint.footprint.merge import merge_footprints
from wattprint.run.job import assembly
from wattprint.run.job import context as job_ctx
from wattprint.testing import ManualClock

POD = "3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
CONTAINER = "a" * 64


@pytest.fixture(autouse=True)
def _not_in_a_pod(request, monkeypatch):
    """The machine running the tests may be a Kubernetes pod: read no real cgroup path (the pod test injects its own).
    Each test starts as a fresh process would: no job of any id started yet."""
    monkeypatch.setattr(job_ctx, "_SEQ", {})
    if "kubernetes" not in request.node.name:
        monkeypatch.setattr(job_ctx, "kubernetes_ids", lambda proc_root="/proc": (None, None))


def torchrun_env(rank, world=2, local_world=2, run_id="j1", **extra):
    env = {"RANK": str(rank), "LOCAL_RANK": str(rank % local_world), "WORLD_SIZE": str(world),
           "LOCAL_WORLD_SIZE": str(local_world), "GROUP_RANK": str(rank // local_world), "TORCHELASTIC_RUN_ID": run_id,
           "WATTPRINT_NODE": f"n{rank // local_world}"}  # fmt: skip
    env.update(extra)
    return env


def slurm_env(rank, ntasks=4, per_node=2, job="4242", step="0"):
    return {"SLURM_JOB_ID": job, "SLURM_STEP_ID": step, "SLURM_PROCID": str(rank), "SLURM_LOCALID": str(rank % per_node),
            "SLURM_NTASKS": str(ntasks), "SLURM_STEP_NUM_TASKS": str(ntasks), "SLURM_STEP_TASKS_PER_NODE": str(per_node),
            "SLURM_NODEID": str(rank // per_node), "SLURMD_NODENAME": f"gpu-{rank // per_node:02d}"}  # fmt: skip


def rank_tracker(out, env, gpu_w=100.0, cpu_w=None, ram_w=None, **kw):
    """A rank's tracker over replayed sensors, as discovery would give it (CPU/RAM only where the rank measures its node)."""
    clock = ManualClock()
    sensors = [wp.ReplaySensor([(0.0, gpu_w)], component_id="gpu:0", kind="gpu", name="GPU")]
    if cpu_w is not None:
        sensors.append(wp.ReplaySensor([(0.0, cpu_w)], component_id="cpu:package-0", kind="cpu", name="CPU"))
    if ram_w is not None:
        sensors.append(wp.ReplaySensor([(0.0, ram_w)], component_id="ram", kind="ram", name="RAM"))
    t = wp.Tracker("p", output_dir=str(out), sensors=sensors, clock=clock, interval_s=math.inf, handle_signals=False, env=env, **kw)
    return t, clock


def run_rank(out, env, seconds=2.0, **kw):
    t, clock = rank_tracker(out, env, **kw)
    t.start()
    clock.advance(seconds)
    t.step(5)
    t.stop()
    return t


# -- the environment ------------------------------------------------------------------------


def test_torchrun_variables_and_job_id():
    ctx = wp.job_context(torchrun_env(3, world=4, run_id="exp-7"))
    assert (ctx.rank, ctx.local_rank, ctx.world_size, ctx.local_world_size, ctx.node_rank) == (3, 1, 4, 2, 1)
    assert ctx.scheduler == "torchrun" and ctx.job_id == "torchrun-exp-7" and not ctx.measures_node
    assert wp.job_context(torchrun_env(0, TORCHELASTIC_RESTART_COUNT="2")).job_id == "torchrun-j1-a2"
    # the default rendezvous id "none" on one node: the launch's own folder names the job, the same on every rank
    files = [f"/tmp/torchelastic_x1/none_k74r71tb/attempt_0/{r}/error.json" for r in (0, 1)]
    ids = {wp.job_context(torchrun_env(r, run_id="none", TORCHELASTIC_ERROR_FILE=f)).job_id for r, f in enumerate(files)}
    assert ids == {"torchrun-k74r71tb"}


def test_slurm_tasks_and_a_batch_script_that_is_one_process():
    ctx = wp.job_context(slurm_env(3))
    assert (ctx.rank, ctx.local_rank, ctx.world_size, ctx.local_world_size, ctx.node) == (3, 1, 4, 2, "gpu-01")
    assert ctx.scheduler == "slurm" and ctx.job_id == "slurm-4242.0" and (ctx.slurm_job_id, ctx.slurm_step_id) == ("4242", "0")
    batch = {"SLURM_JOB_ID": "99", "SLURM_PROCID": "0", "SLURM_NTASKS": "4"}
    ctx = wp.job_context(batch)  # sbatch --ntasks=4 running python directly: one process, not rank 0 of 4
    assert ctx.world_size == 1 and ctx.scheduler == "slurm" and ctx.has_context and not ctx.distributed
    assert wp.job_context(batch, trust_ntasks=True).world_size == 4


def test_mpi_variables():
    ctx = wp.job_context({"OMPI_COMM_WORLD_RANK": "5", "OMPI_COMM_WORLD_LOCAL_RANK": "1", "OMPI_COMM_WORLD_SIZE": "8",
                          "OMPI_COMM_WORLD_LOCAL_SIZE": "4", "PMIX_NAMESPACE": "prterun-host-123@1"})  # fmt: skip
    assert (ctx.scheduler, ctx.rank, ctx.local_rank, ctx.world_size, ctx.local_world_size) == ("mpi", 5, 1, 8, 4)
    assert ctx.job_id == "mpi-prterun-host-123_1"
    assert wp.job_context({"PMIX_RANK": "2", "PMIX_NAMESPACE": "ns"}).rank == 2


@pytest.mark.parametrize("line", [
    f"12:memory:/kubepods/burstable/pod{POD}/{CONTAINER}",
    f"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{POD.replace('-', '_')}.slice/cri-containerd-{CONTAINER}.scope",
])  # fmt: skip
def test_kubernetes_pod_and_container_from_the_cgroup_path(tmp_path, line):
    (tmp_path / "self").mkdir()
    (tmp_path / "self" / "cgroup").write_text("1:cpuset:/\n" + line + "\n")
    ctx = wp.job_context({"WATTPRINT_PROC_ROOT": str(tmp_path)})
    assert (ctx.k8s_pod, ctx.k8s_container) == (POD, CONTAINER) and ctx.has_context and ctx.world_size == 1
    assert wp.job_context({}, proc_root=str(tmp_path / "none")).k8s_pod is None


# -- a single process, and the opt-out ------------------------------------------------------------


def test_single_process_is_as_before(tmp_path):
    t = run_rank(tmp_path, {}, cpu_w=10.0)
    assert t.job.context is None and "job" not in t.footprint.to_dict() and "distributed" not in t.footprint.to_dict()
    assert os.path.basename(t.json_path) == f"{t.run_id}.json" and "-rank" not in t.run_id
    assert not glob.glob(str(tmp_path / "*.job.json")) and not os.path.exists(tmp_path / assembly.JOBS_FOLDER)


@pytest.mark.parametrize("opt_out", [{"job": False}, {"env_extra": {"WATTPRINT_JOB": "0"}}])
def test_job_can_be_turned_off(tmp_path, opt_out):
    env = torchrun_env(1, **opt_out.get("env_extra", {}))
    t = run_rank(tmp_path, env, cpu_w=10.0, **{k: v for k, v in opt_out.items() if k == "job"})
    assert t.job.context is None and "-rank" not in t.run_id and "job" not in t.footprint.to_dict()


def test_a_single_slurm_task_keeps_its_file_name_and_records_the_context(tmp_path):
    t = run_rank(tmp_path, {"SLURM_JOB_ID": "77"}, cpu_w=10.0)
    job = t.footprint["job"]
    assert os.path.basename(t.json_path) == f"{t.run_id}.json" and "-rank" not in t.run_id
    assert (job["scheduler"], job["slurm_job_id"], job["rank"], job["world_size"]) == ("slurm", "77", 0, 1)
    assert [c["kind"] for c in t.footprint["components"]] == ["gpu", "cpu"]


def test_bad_settings_raise_at_construction(tmp_path):
    with pytest.raises(ConfigError, match="WATTPRINT_JOB_WAIT_S"):
        wp.Tracker(output_dir=str(tmp_path), env=torchrun_env(0, WATTPRINT_JOB_WAIT_S="soon"))
    with pytest.raises(ConfigError, match="WATTPRINT_NODE_LEVEL"):
        wp.Tracker(output_dir=str(tmp_path), env=torchrun_env(0, WATTPRINT_NODE_LEVEL="maybe"))
    with pytest.raises(ConfigError, match="job"):
        wp.Tracker(output_dir=str(tmp_path), job="yes", env={})
    with pytest.raises(ConfigError, match="run_id"):
        wp.Tracker(output_dir=str(tmp_path), run_id="x" * 248, env=torchrun_env(0))


# -- ranks, their files, and the job footprint --------------------------------------------------------


def test_local_rank_0_measures_the_node_and_the_rest_do_not(tmp_path):
    rank1 = wp.Tracker(output_dir=str(tmp_path), gpu=False, interval_s=math.inf, handle_signals=False, env=torchrun_env(1))
    assert rank1.settings.cpu is False and rank1.settings.ram is False and rank1.run_id == "torchrun-j1-rank1"
    rank1.start()
    assert rank1.stop()["components"] == []
    rank0 = wp.Tracker(output_dir=str(tmp_path), gpu=False, interval_s=math.inf, handle_signals=False, env=torchrun_env(0))
    rank0.start()
    fp0 = rank0.stop()
    assert {c["kind"] for c in fp0["components"]} >= {"cpu", "ram"}
    assert rank0.job.footprint is not None and rank0.job.footprint.energy_j == pytest.approx(fp0.energy_j)
    told = wp.Tracker(output_dir=str(tmp_path), gpu=False, env=torchrun_env(1, run_id="j2", WATTPRINT_NODE_LEVEL="1"))
    assert told.settings.cpu and told.settings.ram


def test_job_footprint_conserves_the_ranks_components(tmp_path):
    """Two nodes of two ranks: the job's component energies are the ranks' own, each node's CPU and RAM once."""
    trackers = []
    for rank in (3, 2, 1, 0):  # the last to stop (rank 0) assembles without waiting
        local0 = rank % 2 == 0
        trackers.append(run_rank(tmp_path, torchrun_env(rank, world=4), gpu_w=100.0 + rank,
                                 cpu_w=40.0 if local0 else None, ram_w=5.0 if local0 else None))  # fmt: skip
    (assembler,) = [t for t in trackers if t.job.footprint is not None]
    job = json.load(open(tmp_path / "torchrun-j1.job.json"))
    ranks = [json.load(open(tmp_path / f"torchrun-j1-rank{r}.json")) for r in range(4)]
    assert assembler.job.context.rank == 0 and job["run_id"] == "torchrun-j1"
    by_rank = sum(c["energy_j"] for r in ranks for c in r["components"])
    assert sum(c["energy_j"] for c in job["components"]) == pytest.approx(by_rank) == pytest.approx(job["energy"]["it_j"])
    assert job["energy"]["it_j"] == pytest.approx(2.0 * (100 + 101 + 102 + 103 + 2 * 40 + 2 * 5))
    kinds = [c["kind"] for c in job["components"]]
    assert kinds.count("cpu") == 2 and kinds.count("ram") == 2 and kinds.count("gpu") == 4
    assert job["job"]["world_size"] == 4 and job["job"]["nodes"] == 2 and job["job"]["missing_ranks"] == []
    assert job["job"]["rank"] is None and job["job"]["scheduler"] == "torchrun" and job["work"]["steps"] == 5
    assert [r["job"]["rank"] for r in ranks] == [0, 1, 2, 3] and [r["job"]["measures_node"] for r in ranks] == [True, False, True, False]
    assert not os.path.exists(tmp_path / assembly.JOBS_FOLDER)  # the summaries are gone; the rank files keep the timelines
    assert "timeline" in ranks[1] and "timeline" not in job


def test_ranks_stopping_together_assemble_exactly_once(tmp_path):
    world = 8
    trackers = [rank_tracker(tmp_path, torchrun_env(r, world=world, local_world=world), cpu_w=30.0 if r == 0 else None)
                for r in range(world)]  # fmt: skip
    for t, clock in trackers:
        t.start()
        clock.advance(1.0)
    gate = threading.Barrier(world)

    def stop(t):
        gate.wait()
        t.stop()

    threads = [threading.Thread(target=stop, args=(t,)) for t, _ in trackers]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert [t.job.footprint is not None for t, _ in trackers].count(True) == 1
    (path,) = glob.glob(str(tmp_path / "*.job.json"))
    job = json.load(open(path))
    assert job["job"]["ranks_reported"] == world and job["energy"]["it_j"] == pytest.approx(world * 100.0 + 30.0)


def test_rank_0_waits_a_bounded_time_then_lists_the_missing_ranks(tmp_path, caplog):
    for rank in (2, 0):  # rank 1 never stops (it died)
        run_rank(tmp_path, torchrun_env(rank, world=3, local_world=3, WATTPRINT_JOB_WAIT_S="0.05"), cpu_w=10.0 if rank == 0 else None)
    job = json.load(open(tmp_path / "torchrun-j1.job.json"))
    assert job["job"]["missing_ranks"] == [1] and job["job"]["ranks_reported"] == 2 and job["status"] == "partial"
    assert any("1 of 3 ranks sent no footprint" in n for n in job["notes"])
    late = run_rank(tmp_path, torchrun_env(1, world=3, local_world=3))  # arrives after the job was written
    assert late.job.footprint is None and "assembled before rank 1 stopped" in caplog.text
    assert json.load(open(tmp_path / "torchrun-j1.job.json")) == job and not os.path.exists(tmp_path / assembly.JOBS_FOLDER)


def test_rank_0_stops_waiting_once_another_rank_assembled_the_job(tmp_path, monkeypatch, caplog):
    """Rank 0 polls for the others; when the last rank assembles and removes the job folder between two
    polls, rank 0 returns at its next poll instead of waiting out ``wait_s`` (it waited the full 60 s in
    2 of 6 real torchrun runs) and logs no false 'cannot claim' error. The wait's clock is injected."""
    import types

    r0, c0 = rank_tracker(tmp_path, torchrun_env(0, WATTPRINT_JOB_WAIT_S="600"), cpu_w=10.0)
    r1, c1 = rank_tracker(tmp_path, torchrun_env(1, WATTPRINT_JOB_WAIT_S="600"))
    for t, c in ((r0, c0), (r1, c1)):
        t.start()
        c.advance(1.0)
    waited = [0.0]

    def fake_sleep(s):
        if waited[0] == 0.0:
            r1.stop()  # the last rank stops while rank 0 sleeps: it sees both summaries and assembles
        waited[0] += s

    monkeypatch.setattr(assembly, "time", types.SimpleNamespace(monotonic=lambda: waited[0], sleep=fake_sleep))
    r0.stop()
    assert r1.job.footprint is not None and r0.job.footprint is None
    assert waited[0] < 1.0  # rank 0 returned at its next poll, not after 600 s of polling
    assert "cannot claim" not in caplog.text
    job = json.load(open(tmp_path / "torchrun-j1.job.json"))
    assert job["job"]["ranks_reported"] == 2 and job["job"]["missing_ranks"] == []


def test_a_stop_by_signal_does_not_wait_long(tmp_path, monkeypatch):
    monkeypatch.setattr(assembly, "SIGNAL_GRACE_S", 0.01)
    t, clock = rank_tracker(tmp_path, torchrun_env(0, WATTPRINT_JOB_WAIT_S="600"))
    t.start()
    clock.advance(1.0)
    t.stop("partial", reason="SIGTERM")  # would hang 600 s without the grace bound
    assert t.job.footprint is not None and t.job.footprint["job"]["missing_ranks"] == [1]


def test_two_trackers_in_one_script_are_two_jobs(tmp_path):
    first = [run_rank(tmp_path, torchrun_env(r, run_id="seq")) for r in (1, 0)]
    second = [run_rank(tmp_path, torchrun_env(r, run_id="seq")) for r in (1, 0)]
    assert [t.run_id for t in first] == ["torchrun-seq-rank1", "torchrun-seq-rank0"]
    assert [t.run_id for t in second] == ["torchrun-seq-2-rank1", "torchrun-seq-2-rank0"]
    assert sorted(os.path.basename(p) for p in glob.glob(str(tmp_path / "*.job.json"))) == ["torchrun-seq-2.job.json", "torchrun-seq.job.json"]


def test_a_given_run_id_names_the_job(tmp_path):
    ts = [run_rank(tmp_path, torchrun_env(r), run_id="exp1") for r in (1, 0)]
    assert [t.run_id for t in ts] == ["exp1-rank1", "exp1-rank0"] and os.path.exists(tmp_path / "exp1.job.json")


def test_a_stale_summary_of_an_earlier_job_is_removed_at_construction(tmp_path):
    folder = assembly.job_folder(str(tmp_path), "torchrun-j1")
    assembly.write_summary(folder, 1, {"stale": True})
    rank_tracker(tmp_path, torchrun_env(1))
    assert assembly.present_ranks(folder) == []


def test_slurm_shaped_job_on_two_nodes_and_report_shows_one_job(tmp_path, capsys):
    for rank in (1, 2, 3, 0):
        local0 = rank % 2 == 0
        t = wp.Tracker("sl", output_dir=str(tmp_path), gpu=False, interval_s=math.inf, handle_signals=False, env=slurm_env(rank),
                       cpu_tdp_w=100.0)  # fmt: skip
        assert t.run_id == f"slurm-4242.0-rank{rank}" and t.settings.cpu is local0
        t.start()
        t.stop()
    job = json.load(open(tmp_path / "slurm-4242.0.job.json"))
    sec = job["job"]
    assert (sec["scheduler"], sec["slurm_job_id"], sec["slurm_step_id"], sec["world_size"], sec["nodes"]) == ("slurm", "4242", "0", 4, 2)
    ranks = [json.load(open(tmp_path / f"slurm-4242.0-rank{r}.json")) for r in range(4)]
    assert job["energy"]["it_j"] == pytest.approx(sum(r["energy"]["it_j"] for r in ranks))
    nodes = {c["node"] for c in job["components"]}
    assert nodes == {"gpu-00", "gpu-01"} and len(job["components"]) == sum(len(r["components"]) for r in ranks)
    assert cli.main(["report", str(tmp_path), "--format", "json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [r["run_id"] for r in runs] == ["slurm-4242.0"]


def test_merge_adds_shares_of_different_process_sets_and_counts_one_set_once():
    def doc(rank, energy_j, attribution, root_pid=None):
        return {"schema": wp.SCHEMA_ID, "run_id": f"j-rank{rank}", "project": "p", "status": "completed", "duration_s": 1.0,
                "attribution": {"mode": "job", "process_tree": {"root_pid": root_pid if root_pid is not None else 100 + rank}},
                "host": {"hostname": "n"}, "job": {"job_id": "j", "rank": rank, "local_rank": rank, "world_size": 2, "node": "n"},
                "components": [{"id": "gpu:0", "kind": "gpu", "name": "g", "source": "nvml", "measured": True, "energy_j": energy_j,
                                "mean_power_w": energy_j, "peak_power_w": 0.0, "scope": "device", "info": {"uuid": "GPU-1"},
                                "attribution": attribution}]}  # fmt: skip

    shared = merge_footprints([doc(0, 75.0, "sm-share"), doc(1, 25.0, "sm-share")])  # each rank's own processes
    assert shared.energy_j == pytest.approx(100.0) and shared["distributed"]["duplicates"] == []
    one_tree = merge_footprints([doc(0, 80.0, "sm-share", root_pid=7), doc(1, 80.0, "sm-share", root_pid=7)])  # torchrun's agent tree
    assert one_tree.energy_j == pytest.approx(80.0) and len(one_tree["distributed"]["duplicates"]) == 1
    whole = merge_footprints([doc(0, 100.0, "node"), doc(1, 100.0, "node")])
    assert whole.energy_j == pytest.approx(100.0) and len(whole["distributed"]["duplicates"]) == 1
    assert shared["job"]["job_id"] == "j" and shared["job"]["missing_ranks"] == []


def test_bench_ranks_measures_assembly_and_bytes(monkeypatch):
    """The 2-1,024-rank benchmark's machinery, on a few small ranks (figures are reported, never asserted)."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "bench_ranks.py")
    spec = importlib.util.spec_from_file_location("_bench_ranks", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(bench, "TIMELINE_POINTS", 64)
    monkeypatch.setattr(bench, "WINDOWS", 8)
    templates = {True: bench.template(True), False: bench.template(False)}
    row = bench.run_one(10, templates, repeats=1)
    assert row["ranks"] == 10 and row["nodes"] == 2 and row["assembly_s_median"] > 0
    assert 0 < row["received_bytes"] < row["full_footprints_bytes"] and row["job_footprint_bytes"] > 0


def test_a_single_process_in_a_pod_is_its_own_job(tmp_path, monkeypatch):
    monkeypatch.setattr(job_ctx, "kubernetes_ids", lambda proc_root="/proc": (POD, CONTAINER))
    t = run_rank(tmp_path, {})
    job = t.footprint["job"]
    assert os.path.basename(t.json_path) == f"{t.run_id}.json" and job["job_id"] == t.run_id
    assert (job["scheduler"], job["k8s_pod"], job["k8s_container"], job["world_size"]) == ("none", POD, CONTAINER, 1)


def test_torchrun_inside_srun_is_torchrun_with_the_slurm_ids():
    env = {**slurm_env(1, ntasks=2, per_node=1), **torchrun_env(5, world=8, local_world=4, run_id="none")}
    ctx = wp.job_context(env)  # two nodes, torchrun on each: the default rendezvous id is no use across nodes
    assert (ctx.scheduler, ctx.rank, ctx.world_size, ctx.local_world_size) == ("torchrun", 5, 8, 4)
    assert (ctx.slurm_job_id, ctx.slurm_step_id, ctx.job_id) == ("4242", "0", "torchrun-slurm-4242.0")
