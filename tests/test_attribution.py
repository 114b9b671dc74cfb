"""Attribution (issue 12): shares of shared GPUs, CPUs and RAM; idle split; conservation; method and bounds."""

from __future__ import annotations

import math
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wattprint
from wattprint.engine.attribution import ComponentAccount, ProcReader, read_cgroup
from wattprint.engine.attribution.cgroup import cpu_reservation, parse_cpu_list
from wattprint.engine.attribution.usage import JobUsage
from wattprint.engine.sensors.nvidia import NvidiaSensor
from wattprint.engine.sensors.rapl import RaplSensor
from wattprint.errors import ConfigError
from wattprint.testing import FakePowercap, ManualClock
from wattprint.testing.fake_pynvml import FakeGpu, FakeProcess, make_fake_nvml
from wattprint.testing.procfs import FakeCgroup, FakeProc

INF = math.inf
METHODS = {"exclusive", "process-share", "sm-share", "mig-slice", "cgroup", "node"}
OTHER_PID = os.getppid()  # a real process that is not in this test's process tree


def _gpu_run(gpus, *, steps=10, joules=100.0, env=None, **kw):
    clock = ManualClock()
    t = wattprint.Tracker(sensors=[NvidiaSensor(nvml=make_fake_nvml(gpus), env=env or {})], clock=clock,
                          interval_s=INF, save=False, env=env or {}, **kw)  # fmt: skip
    t.start()
    for _ in range(steps):
        clock.advance(1.0)
        for g in gpus:
            g.energy_mj += int(joules * 1000)
        t.sample_now()
    return t.stop().to_dict()


def _assert_stated(doc):
    for c in doc["components"]:
        assert c["attribution"] in METHODS, c
        lo, hi = c["bounds_j"]
        assert lo <= c["energy_j"] <= hi + 1e-9 and c["energy_j"] <= c["node_energy_j"] + 1e-9
        assert c["idle_energy_j"] <= c["energy_j"] + 1e-9


def test_shared_gpu_at_75_25_sm_gives_the_job_75_percent_sm_share():
    gpu = FakeGpu(uuid="GPU-1", processes=[FakeProcess(os.getpid()), FakeProcess(OTHER_PID)],
                  sm_util={os.getpid(): 75, OTHER_PID: 25})  # fmt: skip
    doc = _gpu_run([gpu])
    (c,) = doc["components"]
    assert c["attribution"] == "sm-share"
    assert c["node_energy_j"] == pytest.approx(1000.0)
    assert c["energy_j"] == pytest.approx(0.75 * c["node_energy_j"], abs=0.05 * c["node_energy_j"])
    assert c["uncertainty_rel"] > 0.05  # widened by the attribution
    assert doc["energy"]["it_j"] == pytest.approx(c["energy_j"])
    assert doc["attribution"]["unattributed_j"]["gpu:0"] == pytest.approx(c["node_energy_j"] - c["energy_j"])
    _assert_stated(doc)


def test_attribution_node_gives_exactly_the_node_figures():
    gpu = FakeGpu(uuid="GPU-1", processes=[FakeProcess(os.getpid()), FakeProcess(OTHER_PID)],
                  sm_util={os.getpid(): 75, OTHER_PID: 25})  # fmt: skip
    doc = _gpu_run([gpu], attribution="node")
    (c,) = doc["components"]
    assert c["energy_j"] == c["node_energy_j"] == pytest.approx(1000.0)
    assert c["attribution"] == "node" and c["uncertainty_rel"] == 0.05
    assert doc["attribution"]["mode"] == "node"


def test_shared_gpu_without_per_process_utilisation_splits_by_used_memory():
    gpu = FakeGpu(uuid="GPU-1", processes=[FakeProcess(os.getpid(), 3 << 30), FakeProcess(OTHER_PID, 1 << 30)], sm_util=None)
    (c,) = _gpu_run([gpu])["components"]
    assert c["attribution"] == "process-share" and c["energy_j"] == pytest.approx(750.0)


def test_gpu_alone_or_without_process_lists_is_exclusive():
    alone = FakeGpu(uuid="GPU-1", processes=[FakeProcess(os.getpid())], sm_util={os.getpid(): 90})
    silent = FakeGpu(uuid="GPU-2")  # NVML lists nothing (the fakes' default): nothing says it is shared
    for gpus in ([alone], [silent]):
        (c,) = _gpu_run(gpus)["components"]
        assert c["attribution"] == "exclusive" and c["energy_j"] == pytest.approx(1000.0)
    # once NVML is seen listing processes, a GPU that lists none is nobody's, unless CUDA_VISIBLE_DEVICES gave it to the job
    silent, alone = FakeGpu(uuid="GPU-2"), FakeGpu(uuid="GPU-1", processes=[FakeProcess(os.getpid())])
    doc = _gpu_run([silent, alone])
    assert [c["id"] for c in doc["components"]] == ["gpu:1"] and doc["attribution"]["gpus_seen_unused"][0]["id"] == "gpu:0"
    silent, alone = FakeGpu(uuid="GPU-2"), FakeGpu(uuid="GPU-1", processes=[FakeProcess(os.getpid())])
    doc = _gpu_run([silent, alone], env={"CUDA_VISIBLE_DEVICES": "0,1"})
    assert [c["energy_j"] for c in doc["components"]] == [pytest.approx(1000.0)] * 2


def test_gpu_the_job_never_used_is_listed_as_seen_not_counted():
    mine = FakeGpu(uuid="GPU-1", processes=[FakeProcess(os.getpid())])
    theirs = FakeGpu(uuid="GPU-2", processes=[FakeProcess(OTHER_PID)])
    doc = _gpu_run([mine, theirs])
    assert [c["id"] for c in doc["components"]] == ["gpu:0"]
    seen = doc["attribution"]["gpus_seen_unused"]
    assert seen[0]["id"] == "gpu:1" and seen[0]["node_energy_j"] == pytest.approx(1000.0)
    assert doc["energy"]["it_j"] == pytest.approx(1000.0)


def test_nvml_pids_from_another_pid_namespace_report_the_node_figure():
    gpu = FakeGpu(uuid="GPU-1", processes=[FakeProcess(2**22 + 17)])  # no such pid here (a container)
    (c,) = _gpu_run([gpu])["components"]
    assert c["attribution"] == "node" and c["energy_j"] == pytest.approx(1000.0)
    assert any("PID namespace" in n for n in c["info"]["attribution"]["notes"])


def test_mig_slice_gets_its_share_of_the_parent_by_sms():
    mig = "MIG-aaaaaaaa-0000-0000-0000-000000000001"
    gpu = FakeGpu(uuid="GPU-1", migs=[mig], multiprocessor_count=98, mig_sms={mig: 14}, mig_slices={mig: 1},
                  mig_processes={mig: [FakeProcess(os.getpid())]})  # fmt: skip
    doc = _gpu_run([gpu], env={"CUDA_VISIBLE_DEVICES": mig})
    (c,) = doc["components"]
    assert c["attribution"] == "mig-slice"
    assert c["node_energy_j"] == pytest.approx(1000.0)
    assert c["energy_j"] == pytest.approx(1000.0 / 7)
    _assert_stated(doc)


def test_mig_slice_falls_back_to_slice_count_when_sms_are_unknown():
    mig = "MIG-aaaaaaaa-0000-0000-0000-000000000002"
    gpu = FakeGpu(uuid="GPU-1", migs=[mig], multiprocessor_count=0, mig_sms={mig: 0}, mig_slices={mig: 2})
    (c,) = _gpu_run([gpu], env={"CUDA_VISIBLE_DEVICES": mig})["components"]
    assert c["attribution"] == "mig-slice" and c["energy_j"] == pytest.approx(1000.0 * 2 / 7)


def _cgroup_job(tmp_path, *, version=2, cpuset="0", quota=None, idle_power_w=None):
    proc = FakeProc(tmp_path / "proc", cpus=2)
    cg = FakeCgroup(tmp_path / "cgroup", "/slurm/job_7", version=version, cpuset=cpuset, quota=quota, procs=[proc.self_pid])
    proc.set_cgroup(cg.self_cgroup_text())
    pc = FakePowercap(tmp_path / "rapl", sockets=1, dram=False, psys=False, mmio=False, core=False)
    env = {"WATTPRINT_PROC_ROOT": str(tmp_path / "proc"), "WATTPRINT_CGROUP_ROOT": str(tmp_path / "cgroup")}
    clock = ManualClock()
    t = wattprint.Tracker(sensors=[RaplSensor(str(tmp_path / "rapl"))], clock=clock, interval_s=INF, save=False, env=env,
                          idle_power_w=idle_power_w)  # fmt: skip
    t.start()
    for _ in range(10):
        clock.advance(1.0)
        proc.run(proc.self_pid, 20)  # the job: 0.2 CPU-s of the node's 2 CPU-s
        cg.add_usage_s(0.2)
        proc.node_ticks(busy=80, idle=100)  # others: 0.8 CPU-s; idle 1 CPU-s
        pc.add_j("cpu:package-0", 50.0)  # 20 W idle + 30 W active
        t.sample_now()
    return t.stop().to_dict()


def test_job_whose_cgroup_reserves_one_of_two_cpus_gets_half_the_idle_energy(tmp_path):
    doc = _cgroup_job(tmp_path, idle_power_w={"cpu": 20.0})
    (c,) = doc["components"]
    att = c["info"]["attribution"]
    assert c["attribution"] == "cgroup" and c["node_energy_j"] == pytest.approx(500.0)
    assert att["node_idle_energy_j"] == pytest.approx(200.0)
    assert c["idle_energy_j"] == pytest.approx(0.5 * att["node_idle_energy_j"])
    assert c["energy_j"] == pytest.approx(100.0 + 0.2 * 300.0)  # half the idle + its 20 % of the busy time
    assert doc["attribution"]["reservation"]["cpus"] == 1 and doc["attribution"]["reservation"]["source"] == "cgroup cpuset"
    assert doc["attribution"]["process_tree"]["cpu_counter"] == "cgroup"
    _assert_stated(doc)


def test_idle_baseline_is_the_lowest_power_seen_without_configuration(tmp_path):
    (c,) = _cgroup_job(tmp_path)["components"]  # constant 50 W: all of it is the baseline
    assert c["info"]["attribution"]["idle_power_w"] == pytest.approx(50.0)
    assert c["energy_j"] == pytest.approx(250.0) and c["idle_energy_j"] == pytest.approx(250.0)


def test_v1_cgroup_quota_is_a_reservation(tmp_path):
    doc = _cgroup_job(tmp_path, version=1, cpuset=None, quota=(50_000, 100_000), idle_power_w={"cpu": 20.0})
    (c,) = doc["components"]
    assert doc["attribution"]["reservation"] == {"cpus": 0.5, "node_cpus": 2, "source": "cgroup cpu quota"}
    assert c["idle_energy_j"] == pytest.approx(0.25 * 200.0)


def test_process_tree_counts_children_and_reaped_children_once(tmp_path):
    proc = FakeProc(tmp_path, cpus=2)
    reader = ProcReader(str(tmp_path))
    usage = JobUsage(reader, None, {}, tree_refresh_s=0.0)
    proc.run(proc.self_pid, 500)  # before the run: not counted
    first = usage.sample(0.0)
    proc.add(5001, ppid=proc.self_pid)
    proc.add(5002, ppid=5001)
    proc.add(6000, ppid=1)  # not ours
    proc.run(proc.self_pid, 10)
    proc.run(5001, 20)
    proc.run(5002, 30)
    proc.run(6000, 99)
    mid = usage.sample(1.0)
    assert mid.job_ticks - first.job_ticks == 60 and usage.pids == {proc.self_pid, 5001, 5002}
    proc.run(5002, 5)
    proc.exit(5002)  # reaped into 5001's cutime: 35 ticks there, 30 already counted
    proc.run(5001, 1)
    last = usage.sample(2.0)
    assert last.job_ticks - mid.job_ticks == 6
    assert last.node_busy - first.node_busy == 60 + 99 + 6


def test_process_tree_without_children_files_scans_ppids(tmp_path):
    proc = FakeProc(tmp_path, cpus=2, children_files=False)
    proc.add(7001, ppid=proc.self_pid)
    proc.add(7002, ppid=7001)
    assert ProcReader(str(tmp_path)).tree(proc.self_pid) == {proc.self_pid, 7001, 7002}


def test_reader_on_the_real_proc_finds_this_process():
    reader = ProcReader("/proc")
    assert reader.self_pid() == os.getpid()
    node = reader.node_cpu()
    assert node is not None and node.n_cpus >= 1 and node.busy_ticks <= node.total_ticks
    st_ = reader.stat(os.getpid())
    assert st_ is not None and st_.ppid == os.getppid() and st_.rss_bytes > 0
    assert os.getpid() in reader.tree(os.getppid())


def test_cgroup_reader_and_reservations(tmp_path):
    FakeProc(tmp_path / "p", cpus=4).set_cgroup("0::/kubepods/pod1/c1\n")
    FakeCgroup(tmp_path / "cg", "/kubepods/pod1/c1", cpuset="0-1,3", quota=(150_000, 100_000))
    cg = read_cgroup(str(tmp_path / "p"), str(tmp_path / "cg"))
    assert cg is not None and cg.version == 2 and cg.cpuset_cpus == 3 and cg.quota_cpus == pytest.approx(1.5)
    assert cpu_reservation(cg, {}, 4) == (1.5, "cgroup cpu quota")
    assert cpu_reservation(None, {"SLURM_JOB_ID": "9", "SLURM_CPUS_ON_NODE": "2"}, 8) == (2.0, "SLURM allocation (SLURM_CPUS_ON_NODE)")
    assert cpu_reservation(None, {}, 8) is None
    assert parse_cpu_list("0-3,8,10-11") == 7 and parse_cpu_list("") is None


def test_wrong_settings_raise_naming_them(tmp_path):
    with pytest.raises(ConfigError, match="WATTPRINT_ATTRIBUTION"):
        wattprint.Tracker(save=False, env={"WATTPRINT_ATTRIBUTION": "pod"})
    with pytest.raises(ConfigError, match="attribution"):
        wattprint.Tracker(save=False, attribution="everything")
    with pytest.raises(ConfigError, match="WATTPRINT_PROC_ROOT"):
        wattprint.Tracker(save=False, env={"WATTPRINT_PROC_ROOT": str(tmp_path / "nope")})
    with pytest.raises(ConfigError, match="idle_power_w"):
        wattprint.Tracker(save=False, idle_power_w={"cpu": -1})
    assert wattprint.Tracker(save=False, env={"WATTPRINT_IDLE_POWER_W": "cpu=20, gpu:0=60"}).settings.idle_power_w == {
        "cpu": 20.0, "gpu:0": 60.0}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 500), st.floats(0.01, 5), st.floats(0, 1), st.one_of(st.none(), st.floats(0, 1))),
                min_size=1, max_size=30),
       st.one_of(st.none(), st.floats(0, 200)))  # fmt: skip
def test_conservation_attributed_plus_unattributed_is_the_node_energy(intervals, idle_w):
    acc = ComponentAccount(idle_w, "configured")
    for delta_j, dt_s, share, reserved in intervals:
        one = ComponentAccount(idle_w, "configured")
        one.add(delta_j, dt_s, share, reserved, "process-share")
        f1 = one.figures(0.05)
        assert f1["energy_j"] + f1["unattributed_j"] == pytest.approx(delta_j, abs=1e-9)  # per interval
        acc.add(delta_j, dt_s, share, reserved, "process-share")
    f = acc.figures(0.05)
    assert f["energy_j"] + f["unattributed_j"] == pytest.approx(sum(i[0] for i in intervals), abs=1e-6)
    assert 0.0 <= f["energy_j"] <= f["node_energy_j"] + 1e-9
    assert f["bounds_j"][0] <= f["energy_j"] + 1e-9 <= f["bounds_j"][1] + 2e-9
    assert 0.0 <= f["idle_energy_j"] <= f["node_idle_energy_j"] + 1e-9


def test_dedicated_node_keeps_the_job_within_a_few_percent_and_the_os_unattributed(tmp_path):
    proc = FakeProc(tmp_path / "proc", cpus=2)
    proc.add(1, ppid=0, comm="systemd")
    pc = FakePowercap(tmp_path / "rapl", sockets=1, dram=True, psys=False, mmio=False, core=False)
    (tmp_path / "cg").mkdir()
    env = {"WATTPRINT_PROC_ROOT": str(tmp_path / "proc"), "WATTPRINT_CGROUP_ROOT": str(tmp_path / "cg")}
    clock = ManualClock()
    t = wattprint.Tracker(sensors=[RaplSensor(str(tmp_path / "rapl"))], clock=clock, interval_s=INF, save=False, env=env)
    t.start()
    for i in range(10):
        clock.advance(1.0)
        proc.run(proc.self_pid, 190)  # the job keeps both CPUs busy
        proc.run(1, 4)  # the OS: 2 % of the busy time
        proc.node_ticks(busy=0, idle=6)
        pc.add_j("cpu:package-0", 60.0 + 5 * (i % 2))
        pc.add_j("dram:0", 8.0)
        t.sample_now()
    doc = t.stop().to_dict()
    for c in doc["components"]:
        assert c["attribution"] == "process-share"
        assert c["energy_j"] == pytest.approx(c["node_energy_j"], rel=0.05)
        assert doc["attribution"]["unattributed_j"][c["id"]] == pytest.approx(c["node_energy_j"] - c["energy_j"])
        assert doc["attribution"]["unattributed_j"][c["id"]] > 0
    _assert_stated(doc)


def test_live_grid_carbon_follows_the_jobs_share_not_the_node_timeline():
    from wattprint.footprint.accounting import _series_carbon_g  # the per-interval carbon of a live grid
    import datetime as dt

    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    timeline = {"t_s": [0.0, 1.0, 2.0], "energy_j": {"gpu:0": [0.0, 1000.0, 2000.0]}}  # the node drew 2000 J
    readings = [(t0, 100.0), (t0 + dt.timedelta(seconds=1), 300.0)]
    node_g = _series_carbon_g(readings, timeline, t0, 2000.0, 1.0)
    job_g = _series_carbon_g(readings, timeline, t0, 500.0, 1.0)  # the job's share: a quarter
    assert job_g == pytest.approx(node_g / 4)
