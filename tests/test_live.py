"""The live status line: content, forecast, rate limit, terminal vs log output, `wattprint run --live`."""

from __future__ import annotations

import io
import math
import sys
import threading
import warnings

import pytest
import wattprint as wp
from wattprint.cli import app as cli
from wattprint.errors import ConfigError
from wattprint.exporters.live import (
    LiveStatus,
    current_power_w,
    format_status,
    project_forecast,
)
from wattprint.testing import ManualClock, StepEvent, replay_tracker


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def running_tracker(total_steps=None, **kw):
    t, clock = replay_tracker(
        [(0, 200.0), (5, 300.0)], cpu_watts=50.0, project="demo", run_id="live",
        total_steps=total_steps, intensity_g_per_kwh=400.0, pue=1.25, **kw,
    )
    t.start()
    return t, clock


def advance(t, clock, seconds, steps_per_s=1):
    for _ in range(seconds):
        clock.advance(1.0)
        t.step(steps_per_s)
        t.sample_now()


def test_status_line_has_energy_power_carbon_and_forecast():
    t, clock = running_tracker(total_steps=40)
    advance(t, clock, 10)
    fp = t.snapshot()
    assert current_power_w(fp) == pytest.approx(350.0)  # the last interval: 300 W GPU + 50 W CPU
    fc = project_forecast(fp)
    assert fc["progress"] == pytest.approx(0.25)
    assert fc["energy_j"] == pytest.approx(4 * fp.energy_j)
    assert fc["remaining_s"] == pytest.approx(30.0)
    assert fc["carbon_kg"] == pytest.approx(4 * fp.get("carbon.total_kg"))
    line = format_status(fp)
    # 200 W × 5 s + 300 W × 5 s + 50 W × 10 s = 3000 J = 0.833 Wh; × 1.25 × 400 g/kWh = 0.417 g
    assert line.startswith("wattprint | 0.833 Wh | 350 W | 0.417 gCO2e | 10.0 s")
    assert "step 10/40 (25%)" in line
    assert "forecast 3.33 Wh, 1.67 gCO2e, 30.0 s left" in line
    assert "\n" not in line
    t.stop()


def test_without_total_steps_there_is_no_forecast():
    t, clock = running_tracker()
    advance(t, clock, 3)
    fp = t.snapshot()
    assert fp.get("forecast") is None and project_forecast(fp) is None
    line = format_status(fp, water=True)
    assert "forecast" not in line and "step 3" in line and "mL" in line
    t.stop()


def test_forecast_is_the_trackers_own_projection():
    """project_forecast shows the forecast section; it no longer re-derives carbon and water itself."""
    t, clock = running_tracker(total_steps=40)
    advance(t, clock, 10)
    fp = t.snapshot()
    fc = project_forecast(fp)
    assert fc["carbon_kg"] == pytest.approx(fp.get("forecast.carbon_kg"))
    assert fc["water_l"] == pytest.approx(fp.get("forecast.water_l"))
    t.stop()
    doc = fp.to_dict()
    doc["forecast"] = {"total_steps": 40, "progress": 0.25, "energy_j": 12000.0, "duration_s": 40.0}  # no carbon, no water
    bare = project_forecast(wp.Footprint(doc))
    assert bare["carbon_kg"] is None and bare["water_l"] is None and bare["remaining_s"] == pytest.approx(30.0)
    assert "gCO2e, " not in format_status(wp.Footprint(doc)).split("forecast")[1]


def test_terminal_rewrites_one_line_and_clears_it():
    t, clock = running_tracker(total_steps=100)
    out, now = TTY(), FakeTime()
    live = LiveStatus(out, clock=now, env={})
    assert live.enabled and live.tty and live.min_interval_s == 1.0
    advance(t, clock, 2)
    live.on_sample(t.snapshot())
    now.now = 0.5
    live.on_sample(t.snapshot())  # too soon: dropped
    now.now = 1.0
    advance(t, clock, 1)
    live.on_sample(t.snapshot())
    assert live.lines_written == 2
    text = out.getvalue()
    assert text.count("\r") == 2 and "\n" not in text and text.endswith("\x1b[K")
    live.export(t.stop())
    assert out.getvalue().endswith("\r\x1b[K")  # the line is cleared for the final summary
    live.close()  # twice is fine
    assert out.getvalue().count("\r") == 3


def test_quiet_by_default_off_a_terminal():
    out = io.StringIO()
    live = LiveStatus(out, env={})
    t, clock = running_tracker()
    advance(t, clock, 2)
    live.on_sample(t.snapshot())
    live.export(t.stop())
    assert not live.enabled and out.getvalue() == ""


def test_forced_on_in_a_log_writes_whole_lines_rarely():
    out, now = io.StringIO(), FakeTime()
    live = LiveStatus(out, enabled=True, clock=now, env={})
    assert live.min_interval_s == 30.0
    t, clock = running_tracker()
    for second in range(61):
        now.now = float(second)
        advance(t, clock, 1)
        live.on_sample(t.snapshot())
    live.export(t.stop())
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and all(line.startswith("wattprint | ") for line in lines)  # at 0, 30 and 60 s
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_environment_switches_it(monkeypatch):
    assert LiveStatus(io.StringIO(), env={"WATTPRINT_LIVE": "1"}).enabled
    assert not LiveStatus(TTY(), env={"WATTPRINT_LIVE": "off"}).enabled
    with pytest.raises(ConfigError, match="WATTPRINT_LIVE"):
        LiveStatus(io.StringIO(), env={"WATTPRINT_LIVE": "maybe"})
    with pytest.raises(ConfigError, match="min_interval_s"):
        LiveStatus(io.StringIO(), min_interval_s=-1)


def test_broken_stream_never_raises():
    out = TTY()
    live = LiveStatus(out, enabled=True, min_interval_s=0, env={})
    t, clock = running_tracker()
    advance(t, clock, 1)
    out.close()
    live.on_sample(t.snapshot())
    live.export(t.stop())


def test_as_exporter_of_a_sampling_tracker():
    """The sampler thread feeds it through the exporter runner; ManualClock + StepEvent, no sleeping."""
    clock = ManualClock()
    event = StepEvent(clock, ticks=5)
    out = io.StringIO()
    written = threading.Event()

    class Signalling(LiveStatus):
        def on_sample(self, footprint):
            super().on_sample(footprint)
            written.set()

    live = Signalling(out, enabled=True, min_interval_s=0, env={})
    t = wp.Tracker(
        "demo", save=False, interval_s=1.0, clock=clock, event=event, handle_signals=False, total_steps=10,
        sensors=[wp.ReplaySensor([(0, 100.0)], component_id="gpu:0", kind="gpu")], exporters=[live],
    )
    t.step(2)  # counted before the sampler's first tick
    t.start()
    assert event.done.wait(60) and written.wait(60)
    t.stop()
    lines = out.getvalue().splitlines()
    assert lines, "no live line was written"
    assert all(line.startswith("wattprint | ") for line in lines)
    assert "step 2/10 (20%)" in lines[-1] and "forecast" in lines[-1]


def test_run_live_flag(tmp_path, capsys):
    rc = cli.main(["run", "--live", "--quiet", "--interval", "0.05", "--output-dir", str(tmp_path), "--", sys.executable, "-c", "pass"])
    assert rc == 0
    args = cli.build_parser().parse_args(["run", "--live", "--", "true"])
    exporters = cli._exporters(args)
    assert any(isinstance(e, LiveStatus) and e.enabled for e in exporters)
    assert not any(isinstance(e, LiveStatus) for e in cli._exporters(cli.build_parser().parse_args(["run", "--", "true"])))


@pytest.mark.slow
def test_in_a_lightning_callback_with_a_forecast(tmp_path):
    """The live line through the Lightning callback: a real Trainer and a tiny model on CPU."""
    torch = pytest.importorskip("torch")
    L = pytest.importorskip("lightning")
    from wattprint.integrations.lightning import WattprintCallback

    clock = ManualClock()
    out = io.StringIO()
    seen = threading.Semaphore(0)

    class Signalling(LiveStatus):
        def on_sample(self, footprint):
            super().on_sample(footprint)
            seen.release()

    live = Signalling(out, enabled=True, min_interval_s=0, env={})

    class Tiny(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)

        def training_step(self, batch, batch_idx):
            clock.advance(1.0)
            x, y = batch
            return torch.nn.functional.mse_loss(self.layer(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    cb = WattprintCallback(
        project="lit", output_dir=str(tmp_path), clock=clock, interval_s=math.inf, handle_signals=False, total_steps=8,
        sensors=[wp.ReplaySensor([(0.0, 100.0)], component_id="gpu:0", kind="gpu")], exporters=[live], log=False,
    )

    class SampleEachStep(L.Callback):  # stands in for the sampler thread, in step with the manual clock
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            cb.dt.tracker.sample_now()
            assert seen.acquire(timeout=60)

    g = torch.Generator().manual_seed(0)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(32, 4, generator=g), torch.randn(32, 1, generator=g)), batch_size=8)
    trainer = L.Trainer(
        accelerator="cpu", devices=1, max_epochs=2, callbacks=[cb, SampleEachStep()], logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(tmp_path),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few dataloader workers, a GPU left unused: not our concern here
        trainer.fit(Tiny(), train_dataloaders=data)
    lines = out.getvalue().splitlines()
    assert len(lines) == 8
    assert "step 4/8 (50%)" in lines[3] and "forecast 0.222 Wh" in lines[3]  # 100 W for 8 s = 800 J
    assert cb.footprint is not None and cb.footprint.get("forecast") is None  # the final footprint needs none
