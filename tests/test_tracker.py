import csv
import json
import threading

import pytest
import wattprint as wp
from wattprint import ConfigError, ReplaySensor, Tracker, track
from wattprint.engine.timeline import Timeline
from wattprint.footprint.build import MAX_RAW_WINDOWS
from wattprint.testing import ManualClock, StepEvent, replay_sensor

INF = float("inf")


def replay(watts=100.0, cid="gpu:0", mode="counter"):
    return replay_sensor(watts, component_id=cid, mode=mode)


def test_synthetic_trace_integral_is_exact():
    trace = [(0, 100.0), (10, 300.0), (12, 50.0), (30, 0.0)]  # 1000 + 600 + 900 J, then idle
    clock = ManualClock()
    t = Tracker(sensors=[ReplaySensor(trace, component_id="gpu:0", kind="gpu")], clock=clock, interval_s=INF, save=False)
    t.start()
    clock.advance(35.0)
    fp = t.stop()
    assert fp.energy_j == pytest.approx(2500.0, abs=1e-9)
    c = fp.to_dict()["components"][0]
    assert c["mean_power_w"] == pytest.approx(2500.0 / 35.0)


def test_power_mode_integration_close_to_truth():
    trace = [(0, 100.0), (3.05, 400.0), (3.25, 100.0), (10, 0.0)]
    clock = ManualClock()
    sensor = ReplaySensor(trace, mode="power", poll_interval_s=0.1)
    t = Tracker(sensors=[sensor], clock=clock, interval_s=INF, save=False)
    t.start()
    for _ in range(120):
        clock.advance(0.1)
        t.sample_now()
    fp = t.stop()
    assert fp.energy_j == pytest.approx(sensor.exact_energy_j(12.0), rel=0.01)


def test_footprint_written_to_json_and_csv(tmp_path):
    clock = ManualClock()
    out = tmp_path / "runs"
    with Tracker(project="p", run_id="r1", output_dir=str(out), sensors=[replay()], clock=clock, interval_s=INF) as t:
        clock.advance(2)
        t.step(samples=8, tokens=512)
        t.step(samples=8, tokens=512)
    doc = json.loads((out / "r1.json").read_text())
    assert doc["schema"] == "wattprint.footprint/1" and doc["status"] == "completed"
    assert doc["project"] == "p" and doc["duration_s"] == pytest.approx(2.0)
    assert doc["energy"]["it_j"] == pytest.approx(200.0)
    assert doc["work"]["steps"] == 2 and doc["work"]["tokens"] == 1024
    assert doc["work"]["j_per_token"] == pytest.approx(200.0 / 1024)
    assert "timeline" in doc and doc["timeline"]["energy_j"]["gpu:0"][-1] == pytest.approx(200.0)
    for key in ("run_id", "started_at", "ended_at", "host", "components", "energy", "factors", "carbon", "water", "work", "windows", "bounds"):
        assert key in doc
    assert doc["started_at"].endswith("Z")
    rows = list(csv.DictReader(open(out / "runs.csv")))
    assert len(rows) == 1 and rows[0]["run_id"] == "r1" and float(rows[0]["energy.it_j"]) == pytest.approx(200.0)
    assert rows[0]["status"] == "completed"


def test_start_stop_idempotent_and_stop_before_start():
    t = Tracker(sensors=[replay()], clock=ManualClock(), interval_s=INF, save=False)
    assert t.stop() is None
    t2 = Tracker(sensors=[replay()], clock=ManualClock(), interval_s=INF, save=False)
    assert t2.start() is t2.start()
    fp = t2.stop()
    assert t2.stop() is fp


def test_exception_inside_with_writes_failed_footprint(tmp_path):
    out = tmp_path / "o"
    with pytest.raises(RuntimeError):
        with Tracker(run_id="boom", output_dir=str(out), sensors=[replay()], clock=ManualClock(), interval_s=INF):
            raise RuntimeError("training diverged")
    assert json.loads((out / "boom.json").read_text())["status"] == "failed"


def test_nested_windows_are_counter_differences():
    clock = ManualClock()
    t = Tracker(sensors=[ReplaySensor([(0, 100.0), (5, 200.0)], component_id="gpu:0", kind="gpu")], clock=clock, interval_s=INF, save=False)
    t.start()
    clock.advance(1)
    with t.window("epoch-1") as outer:
        clock.advance(2)
        with t.window("eval") as inner:
            clock.advance(3)  # crosses t=5: 1 s at 100 W + 2 s at 200 W ... (from t=3 to t=6)
            t.step()
        clock.advance(1)
    fp = t.stop()
    assert inner["energy_j"] == pytest.approx(2 * 100 + 1 * 200)
    assert outer["energy_j"] == pytest.approx(2 * 100 + 2 * 100 + 2 * 200)
    assert inner["depth"] == 1 and outer["depth"] == 0 and inner["steps"] == 1
    names = [w["name"] for w in fp.to_dict()["windows"]]
    assert names == ["eval", "epoch-1"]


def test_window_needs_started_tracker():
    t = Tracker(sensors=[replay()], save=False)
    with pytest.raises(wp.WattprintError):
        with t.window("x"):
            pass


def test_decorator_bare_and_with_arguments(tmp_path):
    @track
    def f(x):
        return x * 2

    @track(project="deco", sensors=[replay()], save=False)
    def g():
        return "ok"

    assert f(3) == 6 and f.footprint.status == "completed"
    assert g() == "ok" and g.footprint.to_dict()["project"] == "deco"
    assert f.__name__ == "f"


def test_decorator_checks_settings_at_decoration():
    with pytest.raises(ConfigError):
        track(pue=0.5)


def test_threads_stepping_lose_no_count():
    t = Tracker(sensors=[replay()], clock=ManualClock(), interval_s=INF, save=False)
    t.start()

    def work():
        for _ in range(5000):
            t.step(samples=2, tokens=3)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    w = t.stop().to_dict()["work"]
    assert (w["steps"], w["samples"], w["tokens"]) == (40000, 80000, 120000)


def test_windows_from_many_threads():
    clock = ManualClock()
    t = Tracker(sensors=[replay()], clock=clock, interval_s=INF, save=False)
    t.start()

    def work(i):
        for _j in range(50):
            with t.window(f"w{i}"):
                t.step()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    d = t.stop().to_dict()
    assert len(d["windows"]) == MAX_RAW_WINDOWS and d["work"]["steps"] == 300  # the last raw ones are kept
    assert sorted((w["name"], w["count"]) for w in d["window_totals"]) == [(f"w{i}", 50) for i in range(6)]


def test_two_trackers_do_not_interfere():
    clock = ManualClock()
    a = Tracker(run_id="a", sensors=[replay(100)], clock=clock, interval_s=INF, save=False).start()
    clock.advance(1)
    b = Tracker(run_id="b", sensors=[replay(50)], clock=clock, interval_s=INF, save=False).start()
    a.step()
    clock.advance(2)
    fb = b.stop()
    clock.advance(1)
    fa = a.stop()
    assert fa.energy_j == pytest.approx(400) and fb.energy_j == pytest.approx(100)
    assert fa.to_dict()["work"]["steps"] == 1 and fb.to_dict()["work"]["steps"] == 0


def test_sampler_thread_ticks_with_injected_clock_and_event():
    clock = ManualClock()
    event = StepEvent(clock, ticks=10)
    sensor = ReplaySensor([(0, 80.0)], mode="power", poll_interval_s=0.1)
    t = Tracker(sensors=[sensor], clock=clock, event=event, save=False)
    t.start()
    assert event.done.wait(60), "sampler thread did not run its ticks"
    fp = t.stop()
    assert fp.energy_j == pytest.approx(80.0 * 1.0, rel=1e-6)  # 10 ticks of 0.1 s
    assert any(th.name == "wattprint-sampler" for th in threading.enumerate()) is False


def test_checkpoint_written_during_run(tmp_path):
    clock = ManualClock()
    event = StepEvent(clock, ticks=5)
    out = tmp_path / "ck"
    t = Tracker(run_id="ck", output_dir=str(out), sensors=[replay(10)], clock=clock, event=event, interval_s=1.0, checkpoint_interval_s=2.0)
    t.start()
    assert event.done.wait(60)
    doc = json.loads((out / "ck.json").read_text())
    assert doc["status"] == "partial" and doc["energy"]["it_j"] == pytest.approx(40.0)
    t.stop()
    assert json.loads((out / "ck.json").read_text())["status"] == "completed"


def test_timeline_memory_is_bounded():
    tl = Timeline(["a", "b"], max_points=64)
    for i in range(100_000):
        tl.append(float(i), i, (float(i), 2.0 * i))
    assert len(tl) <= 64
    d = tl.to_dict()
    assert d["t_s"][0] == 0.0 and d["t_s"][-1] == 99_999.0
    assert d["energy_j"]["b"][-1] == pytest.approx(199_998.0)  # cumulative: no energy lost
    assert all(p is None or p == pytest.approx(2.0) for p in d["power_w"]["b"])


def test_forecast_from_total_steps():
    clock = ManualClock()
    t = Tracker(sensors=[replay(100)], clock=clock, interval_s=INF, save=False, total_steps=10)
    t.start()
    clock.advance(4)
    t.step(2)
    t.sample_now()
    snap = t.snapshot()
    assert snap["forecast"]["energy_j"] == pytest.approx(400 * 5) and snap["forecast"]["progress"] == pytest.approx(0.2)
    assert t.stop()["forecast"] is None


def test_import_does_not_pull_torch_or_nvml():
    import subprocess
    import sys

    code = "import sys, wattprint; print('torch' in sys.modules, 'pynvml' in sys.modules, 'wattprint.exporters' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "False"]


def test_real_discovery_on_this_machine_marks_estimates():
    """On a machine without RAPL or NVML (like CI), CPU and RAM are estimated, never reported as measured."""
    t = Tracker(save=False, interval_s=INF)
    t.start()
    fp = t.stop()
    comps = fp.to_dict()["components"]
    assert comps, "at least the estimate is always there"
    for c in comps:
        assert c["measured"] == (c["source"] in ("rapl",) or c["source"].startswith("nvml"))


def test_set_total_steps_accepts_only_a_plan():
    t = Tracker(sensors=[replay()], save=False)
    assert not t.set_total_steps(float("inf")) and not t.set_total_steps(0) and not t.set_total_steps("x")
    assert t.total_steps is None
    assert t.set_total_steps(120.0) and t.total_steps == 120


def test_live_footprint_gives_latest_power_without_building_the_timeline():
    clock = ManualClock()
    t = Tracker(sensors=[ReplaySensor([(0, 100.0), (3, 250.0)], component_id="gpu:0", kind="gpu")], clock=clock, interval_s=INF, save=False)
    t.start()
    for _ in range(5):
        clock.advance(1)
        t.sample_now()
    fp = t.snapshot()
    assert fp.latest_power_w() == {"gpu:0": pytest.approx(250.0)}
    assert fp._timeline is not None and not isinstance(fp._timeline, dict)  # still lazy
    assert fp.timeline["power_w"]["gpu:0"][-1] == pytest.approx(250.0)  # and the same figure once built
    assert fp.timeline["power_w"]["gpu:0"][:4] == [None, pytest.approx(100.0), pytest.approx(100.0), pytest.approx(100.0)]
    t.stop()
