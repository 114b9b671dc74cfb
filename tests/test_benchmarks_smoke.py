"""Smoke tests for benchmarks/: the accuracy harness, the runner's quick mode, the GPU script without a GPU.

No timing is asserted anywhere: the benchmarks report figures, tests only check
that they are computed and written.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "benchmarks")


def _load(name: str):
    if BENCH not in sys.path:
        sys.path.insert(0, BENCH)
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", os.path.join(BENCH, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def accuracy():
    return _load("accuracy")


TINY = [(0.0, 100.0), (1.5, 300.0)]  # 100 W for 1.5 s, then 300 W: 600 J over 3 s


def test_counter_path_reports_the_exact_integral(accuracy):
    measured_j, exact_j = accuracy.run_wattprint(TINY, 3.0, "counter")
    assert exact_j == pytest.approx(600.0)
    assert measured_j == pytest.approx(600.0)


def test_power_path_integrates_within_one_poll_of_the_truth(accuracy):
    measured_j, exact_j = accuracy.run_wattprint(TINY, 3.0, "power", power_interval_s=0.1)
    assert exact_j == pytest.approx(600.0)
    # the trapezoid rule can misplace at most half a poll of the 200 W step
    assert abs(measured_j - exact_j) <= 0.5 * 200.0 * 0.1 + 1e-9


def test_fifteen_second_style_integrators(accuracy):
    # readings at 1, 2, 3 s: 100, 300, 300 W, one second each
    assert accuracy.snapshot_integral_j(TINY, 3.0, period_s=1.0) == pytest.approx(700.0)
    # [0, 2]: mean of readings at 1 and 2 s (200 W) × 2 s; [2, 3]: 300 W × 1 s
    assert accuracy.mean_of_samples_integral_j(TINY, 3.0, period_s=2.0, sample_s=1.0) == pytest.approx(700.0)
    # a constant trace is exact for every integrator
    assert accuracy.snapshot_integral_j([(0.0, 55.0)], 40.0) == pytest.approx(2200.0)


def test_run_all_covers_every_trace_and_the_counter_path_is_exact(accuracy):
    res = accuracy.run_all(["steps", "bursts_40ms", "aliased"])
    assert [r["trace"] for r in res["traces"]] == ["steps", "bursts_40ms", "aliased"]
    for r in res["traces"]:
        assert abs(r["err_pct"]["wattprint_counter"]) < 1e-6
    # the adversarial trace is left out of the maximum
    assert res["max_abs_err_pct"]["wattprint_counter"] < 1e-6
    assert "| steps |" in accuracy.markdown(res)


def test_runner_helpers():
    run = _load("run")
    s = run.summary([3.0, 1.0, 2.0, None])
    assert (s["n"], s["median"], s["min"], s["max"]) == (3, 2.0, 1.0, 3.0)
    assert run.summary([])["median"] is None
    assert run.find_overhead_pct({"hook": {"step_ms": 2.0, "overhead_pct": 0.4}}) == 0.4
    assert run.find_overhead_pct({"nothing": 1}) is None
    assert run.rotate(["a", "b", "c"], 1) == ["b", "c", "a"]


@pytest.mark.slow
def test_quick_mode_writes_the_report(tmp_path):
    proc = subprocess.run(
        [sys.executable, os.path.join(BENCH, "run.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=180, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    md = (tmp_path / "RESULTS.md").read_text()
    assert "## Machine" in md and "## Accuracy on synthetic traces" in md
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["quick"] is True
    assert res["net_attempts"] == 0
    wp = res["startup"]["tools"]["wattprint"]
    assert wp["start_stop_s"]["n"] == 1 and wp["errors"] == []
    assert res["idle"]["tools"]["wattprint"]["cpu_ms_per_s"]["n"] == 1
    assert res["memory"]["wattprint"]["points"][-1]["samples"] == 10_000
    assert {row["metric"] for row in res["targets"]} >= {"`import` time", "traced memory after 1,000,000 samples"}


def test_the_ranks_curve_is_folded_into_results(tmp_path):
    """bench_ranks.py (job assembly of simulated ranks) writes its JSON, and run.py's growth section renders it."""
    out = tmp_path / "ranks.json"
    proc = subprocess.run([sys.executable, os.path.join(BENCH, "bench_ranks.py"), "--ranks", "2", "8", "--repeats", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=180, cwd=ROOT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(out.read_text())
    assert [r["ranks"] for r in doc["rows"]] == [2, 8]
    assert all(0 < r["received_bytes"] < r["full_footprints_bytes"] for r in doc["rows"])  # summaries, not whole footprints
    sys.path.insert(0, BENCH)
    try:
        import run as bench_run
    finally:
        sys.path.remove(BENCH)
    md = bench_run.growth_markdown({"ranks": doc})
    assert "### Job footprint of many ranks" in md and "| 8 | 1 |" in md


def _has_gpu() -> bool:
    try:
        import pynvml

        pynvml.nvmlInit()
        return pynvml.nvmlDeviceGetCount() > 0
    except Exception:
        return False


@pytest.mark.skipif(_has_gpu(), reason="a GPU is present: gpu_check.py would run its real workload")
def test_gpu_check_without_a_gpu_exits_cleanly(tmp_path):
    out = tmp_path / "gpu.json"
    proc = subprocess.run(
        [sys.executable, os.path.join(BENCH, "gpu_check.py"), "--out", str(out)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "no usable NVIDIA GPU" in proc.stdout
    assert "skipped" in json.loads(out.read_text())


FAKE_NVML = textwrap.dedent(
    '''
    """A fake pynvml: one GPU drawing a constant 100 W; its energy counter is exact."""
    import time
    _T0 = time.monotonic()
    NVML_FI_DEV_POWER_INSTANT = 186
    class NVMLError(Exception):
        value = 999
    class _V:
        uiVal = 100000
    class _F:
        nvmlReturn = 0
        value = _V()
    class _U:
        gpu, memory = 50, 10
    def nvmlInit(): pass
    def nvmlShutdown(): pass
    def nvmlDeviceGetCount(): return 1
    def nvmlDeviceGetHandleByIndex(i): return ("h", i)
    def nvmlDeviceGetIndex(h): return h[1]
    def nvmlDeviceGetName(h): return "Fake GPU"
    def nvmlDeviceGetUUID(h): return "GPU-00000000-fake"
    def nvmlDeviceGetEnforcedPowerLimit(h): return 300000
    def nvmlDeviceGetTotalEnergyConsumption(h): return int((time.monotonic() - _T0) * 100000)
    def nvmlDeviceGetPowerUsage(h): return 100000
    def nvmlDeviceGetFieldValues(h, ids): return [_F() for _ in ids]
    def nvmlDeviceGetUtilizationRates(h): return _U()
    class _P:
        pid, usedGpuMemory = 4242, 1 << 20
    def nvmlDeviceGetComputeRunningProcesses(h): return [_P()]
    def nvmlDeviceGetProcessUtilization(h, since_us): return []
    def nvmlSystemGetDriverVersion(): return "0.fake"
    def nvmlSystemGetNVMLVersion(): return "0.fake"
    '''
)


@pytest.mark.slow
def test_gpu_check_logic_against_a_fake_nvml_on_cpu(tmp_path):
    """The GPU script's sections, dry-run on CPU tensors against a fake NVML (the hardware boundary)."""
    (tmp_path / "pynvml.py").write_text(FAKE_NVML)
    out = tmp_path / "gpu.json"
    env = dict(os.environ, PYTHONPATH=str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("CUDA_VISIBLE_DEVICES", None)
    proc = subprocess.run(
        [sys.executable, os.path.join(BENCH, "gpu_check.py"), "--device", "cpu", "--quick", "--time-scale", "0.05",
         "--size", "32", "--only", "machine,nvml_latency_us,wattprint", "--out", str(out)],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(out.read_text())
    assert res["machine"]["gpu"] == "Fake GPU"
    lat = res["nvml_latency_us"]
    assert set(lat) == {"power_usage", "total_energy", "field_power_instant", "utilization", "compute_processes", "process_utilization"}
    assert "error" not in lat["compute_processes"] and lat["compute_processes"]["n"] > 0  # the fake lists processes
    w = res["wattprint"]
    assert "error" not in w, w
    assert w["source"] == "nvml.total_energy" and w["polled_source"] == "nvml.power_instant"
    assert {x["name"] for x in w["windows"]} >= {"busy_long", "busy_mid", "burst_0", "idle_tail"}
    # a constant 100 W: both paths agree with the counter read beside them (no timing asserted)
    assert w["run_counter_j"] > 0 and w["run_polled_j"] > 0


@pytest.mark.parametrize("n_gpus", [1, 3, 8])
def test_the_tick_floor_does_the_arithmetic_it_claims(n_gpus):
    """bench_tick's ``floor`` (the lower bound the engine's tick is compared with) integrates every
    counter exactly, keeps the peak, and refuses a counter that runs backwards."""
    from wattprint.testing import ManualClock
    from wattprint.testing.fake_pynvml import FakeGpu, make_fake_nvml

    bench = _load("bench_tick")
    gpus = [FakeGpu(uuid=f"GPU-{i:08x}-0000-0000-0000-000000000000") for i in range(n_gpus)]
    clock = ManualClock()
    tick = bench.floor_tick(make_fake_nvml(gpus), n_gpus, clock)
    for k in range(5):
        for i, g in enumerate(gpus):
            g.energy_mj += 1000 * (i + 1) * (k + 1)  # GPU i: (i+1) J, 2(i+1) J, ... over 1 s ticks
        clock.advance(1.0)
        tick()
    points = tick.__globals__["points"]
    assert len(points) == 5
    assert points[-1][1] == tuple(15.0 * (i + 1) for i in range(n_gpus))  # 1+2+3+4+5 J per unit of i+1
    assert [tick.__globals__[f"w{i}"] for i in range(n_gpus)] == [5.0 * (i + 1) for i in range(n_gpus)]
    gpus[0].energy_mj -= 1
    clock.advance(1.0)
    with pytest.raises(RuntimeError, match="not an ordinary step"):
        tick()
