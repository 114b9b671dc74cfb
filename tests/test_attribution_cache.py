"""The usage sampler's caches (issue 12, sampler cost): the tree is walked again only when a process was
created on the node (or a GPU lists a pid it does not hold), within ``tree_refresh_s``; exited pids drop out at
once; CPU time is never lost or counted twice by the caching. Deterministic: fake ``/proc`` tree, given times."""

from __future__ import annotations

import math
import os

import pytest

import wattprint
from wattprint.engine.attribution import ProcReader
from wattprint.engine.attribution.usage import CLK_TCK, JobUsage
from wattprint.engine.sensors.nvidia import NvidiaSensor
from wattprint.run.attribution import CPU_SPAN_TICKS
from wattprint.testing import ManualClock
from wattprint.testing.fake_pynvml import FakeGpu, FakeProcess, make_fake_nvml
from wattprint.testing.procfs import FakeProc

INF = math.inf


def _usage(tmp_path, refresh_s=10.0):
    proc = FakeProc(tmp_path, cpus=2)
    return proc, JobUsage(ProcReader(str(tmp_path)), None, {}, tree_refresh_s=refresh_s)


def test_a_child_started_after_the_walk_is_counted_within_the_refresh_bound(tmp_path):
    proc, usage = _usage(tmp_path)
    first = usage.sample(0.0)
    assert usage.walks == 1
    proc.add(5001, ppid=proc.self_pid)  # started after the tree was cached
    proc.run(5001, 30)
    proc.run(proc.self_pid, 5)
    early = usage.sample(5.0)  # inside the bound: not walked yet, the child not yet counted
    assert usage.walks == 1 and 5001 not in usage.pids
    assert early.job_ticks - first.job_ticks == 5
    proc.run(5001, 7)
    found = usage.sample(10.0)  # at the bound: walked, the child's whole time since it started counted once
    assert usage.walks == 2 and usage.pids == {proc.self_pid, 5001}
    assert found.job_ticks - first.job_ticks == 5 + 30 + 7
    proc.run(5001, 4)
    assert usage.sample(11.0).job_ticks - found.job_ticks == 4
    assert found.rss_bytes == 2 * early.rss_bytes  # resident memory is summed with the walk


def test_no_process_created_means_no_walk_and_an_exited_pid_drops_out_at_once(tmp_path):
    proc, usage = _usage(tmp_path)
    proc.add(5001, ppid=proc.self_pid)
    proc.add(5002, ppid=proc.self_pid)
    s0 = usage.sample(0.0)
    assert usage.pids == {proc.self_pid, 5001, 5002} and usage.walks == 1
    for t in (10.0, 20.0, 30.0):  # nothing forked: the cached tree stands
        proc.run(5002, 2)
        usage.sample(t)
    assert usage.walks == 1
    proc.run(5001, 10)
    usage.sample(30.5)
    proc.exit(5001)  # reaped into the root's cutime: its 10 ticks were counted, not again
    s1 = usage.sample(31.0)  # no walk (inside the bound) and yet it is gone
    assert usage.walks == 1 and usage.pids == {proc.self_pid, 5002} and 5001 not in usage._order
    proc.exit(5002, reap=False)
    s2 = usage.sample(32.0)
    assert usage.walks == 1 and usage.pids == {proc.self_pid} and usage._order == (proc.self_pid,)
    assert s1.job_ticks - s0.job_ticks == s2.job_ticks - s0.job_ticks == 3 * 2 + 10
    proc.run(proc.self_pid, 3)
    assert usage.sample(33.0).job_ticks - s2.job_ticks == 3


def test_rediscover_walks_at_the_next_sample_even_inside_the_bound(tmp_path):
    proc, usage = _usage(tmp_path, refresh_s=INF)
    usage.sample(0.0)
    proc.add(5001, ppid=proc.self_pid)
    usage.sample(1.0)
    assert 5001 not in usage.pids
    usage.rediscover()
    usage.sample(2.0)
    assert 5001 in usage.pids and usage.walks == 2


def test_a_gpu_listing_a_new_child_gets_it_walked_at_the_next_tick(tmp_path):
    proc = FakeProc(tmp_path / "proc", cpus=2)
    me = proc.self_pid
    gpu = FakeGpu(uuid="GPU-1", processes=[FakeProcess(me)], sm_util={me: 50})
    clock = ManualClock()
    t = wattprint.Tracker(sensors=[NvidiaSensor(nvml=make_fake_nvml([gpu]), env={})], clock=clock, interval_s=INF,
                          save=False, env={"WATTPRINT_PROC_ROOT": str(tmp_path / "proc")})  # fmt: skip
    t.start()
    usage = t._attributor.usage
    assert usage is not None

    def step():
        clock.advance(1.0)
        gpu.energy_mj += 100_000
        t.sample_now()

    step()
    step()
    walks = usage.walks
    proc.add(5001, ppid=me)  # a worker of the job joins the GPU
    gpu.processes.append(FakeProcess(5001))
    gpu.sm_util[5001] = 50
    step()  # listed before any walk found it: this interval counts it as another process's
    assert 5001 not in usage.pids and usage.walks == walks
    step()  # walked at once, not 10 s later
    assert 5001 in usage.pids and usage.walks == walks + 1
    for _ in range(3):
        step()
    (c,) = t.stop().to_dict()["components"]
    methods = c["info"]["attribution"]["methods_j"]
    assert methods["sm-share"] == pytest.approx(100.0) and methods["exclusive"] == pytest.approx(c["node_energy_j"] - 100.0)
    assert c["energy_j"] == pytest.approx(c["node_energy_j"] - 50.0)  # half of the one shared interval is another's
    assert c["energy_j"] + c["info"]["attribution"]["unattributed_j"] == pytest.approx(c["node_energy_j"])


def _own_ticks() -> int:
    tms = os.times()
    return round((tms[0] + tms[1]) * CLK_TCK)


def test_this_process_on_the_real_proc_is_read_through_times():
    usage = JobUsage(ProcReader("/proc"), None, {}, tree_refresh_s=INF)
    before = _own_ticks()
    s1 = usage.sample(0.0)
    a = _own_ticks()
    while _own_ticks() < a + 3:  # burn three ticks of CPU (a condition on the counter, not on time)
        pass
    b = _own_ticks()
    s2 = usage.sample(1.0)
    after = _own_ticks()
    assert s1.rss_bytes > 0 and s2.rss_bytes == s1.rss_bytes
    assert s2.job_ticks - s1.job_ticks >= b - a
    if usage.pids == {os.getpid()}:  # no child in the tree: nothing else adds
        assert s2.job_ticks - s1.job_ticks <= after - before


def test_ram_share_is_resident_over_used_memory_read_when_the_tree_is_due(tmp_path):
    from wattprint.engine.attribution.procfs import PAGE_BYTES
    from wattprint.engine.sensors.estimate import RamEstimateSensor

    proc = FakeProc(tmp_path / "proc", cpus=2, mem_total_kb=16_000_000, mem_available_kb=8_000_000)
    proc.add(5001, ppid=proc.self_pid, rss_pages=10_000)
    clock = ManualClock()
    t = wattprint.Tracker(sensors=[RamEstimateSensor(total_bytes=16 * 10**9)], clock=clock, interval_s=INF, save=False,
                          env={"WATTPRINT_PROC_ROOT": str(tmp_path / "proc")})  # fmt: skip
    t.start()
    for k in range(1, 21):
        clock.advance(1.0)
        if k == 5:
            proc.set_rss(5001, 60_000)  # the child grows: seen at the next due reading (10 s), not at once
        t.sample_now()
    (c,) = t.stop().to_dict()["components"]
    used = (16_000_000 - 8_000_000) * 1024
    rss0, rss1 = (25_600 + 10_000) * PAGE_BYTES, (25_600 + 60_000) * PAGE_BYTES
    assert c["attribution"] == "process-share"
    assert CPU_SPAN_TICKS == 2  # memory is sampled at 0, 2, ..., 20 s; read afresh at 10 s (the tree is due)
    assert c["energy_j"] / c["node_energy_j"] == pytest.approx((8 * rss0 + 12 * rss1) / (20 * used))
    assert c["energy_j"] + c["info"]["attribution"]["unattributed_j"] == pytest.approx(c["node_energy_j"])


def test_fork_counter_reads_the_processes_line(tmp_path):
    import subprocess
    import sys

    real = ProcReader("/proc")
    before = real.forks()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert before is not None and real.forks() > before  # every fork counts, on the whole node
    proc = FakeProc(tmp_path, cpus=2)
    fake = ProcReader(str(tmp_path))
    n = fake.forks()
    proc.add(5001, ppid=proc.self_pid)
    assert n is not None and fake.forks() == n + 1


def test_cpu_shares_span_two_ticks_gpus_every_tick_and_both_conserve(tmp_path):
    from wattprint.engine.sensors.rapl import RaplSensor
    from wattprint.testing import FakePowercap

    proc = FakeProc(tmp_path / "proc", cpus=2)
    me = proc.self_pid
    gpu = FakeGpu(uuid="GPU-1", processes=[FakeProcess(me), FakeProcess(9999)], sm_util={me: 75, 9999: 25})
    proc.add(9999, ppid=1)  # another job's process on the GPU, in our /proc
    pc = FakePowercap(tmp_path / "rapl", sockets=1, dram=False, psys=False, mmio=False, core=False)
    clock = ManualClock()
    t = wattprint.Tracker(sensors=[NvidiaSensor(nvml=make_fake_nvml([gpu]), env={}), RaplSensor(str(tmp_path / "rapl"))],
                          clock=clock, interval_s=INF, save=False, idle_power_w={"cpu": 0.0},
                          env={"WATTPRINT_PROC_ROOT": str(tmp_path / "proc")})  # fmt: skip
    t.start()
    att = t._attributor
    cpu_split_s = []
    for k in range(1, 8):
        clock.advance(1.0)
        gpu.energy_mj += 100_000
        share = 0.5 if k % 2 else 0.25  # the job's CPU share changes every second
        proc.run(me, int(100 * share))
        proc.node_ticks(busy=100 - int(100 * share), idle=100)
        pc.add_j("cpu:package-0", 10.0 if k % 2 else 30.0)
        t.sample_now()
        assert att.accounts["gpu:0"].t_s == pytest.approx(k)  # every tick
        cpu_split_s.append(att.accounts["cpu:package-0"].t_s)
    # the GPU's unknown pid 9999 asks for a walk: /proc is sampled at 1 s, then every second tick
    assert CPU_SPAN_TICKS == 2 and cpu_split_s == pytest.approx([1, 1, 3, 3, 5, 5, 7])
    doc = t.stop().to_dict()
    comps = {c["id"]: c for c in doc["components"]}
    g, c = comps["gpu:0"], comps["cpu:package-0"]
    assert g["energy_j"] == pytest.approx(0.75 * 700.0) and g["attribution"] == "sm-share"
    # span (0,1]: 10 J at 50/100 of the busy ticks; (1,3], (3,5], (5,7]: 40 J at 75/200 each
    assert c["node_energy_j"] == pytest.approx(130.0)
    assert c["energy_j"] == pytest.approx(10.0 * 0.5 + 3 * 40.0 * 75 / 200)
    for e in (g, c):
        assert e["energy_j"] + doc["attribution"]["unattributed_j"][e["id"]] == pytest.approx(e["node_energy_j"])
    assert doc["attribution"]["spans_s"] == {"gpu": 1.0, "cpu": 2.0}
