"""Carbon-aware start on CPU, against a recorded UK 48 h forecast (examples/data/uk_forecast_48h.json).

    python examples/carbon_aware.py [OUTPUT_DIR]

It asks for the greenest 3 h inside the next 12 h, "waits" for it, trains a tiny model, and
prints the footprint's carbon_aware section: the expected saving (forecast over the chosen
window vs starting now) and the realised one (measured energy x the recorded actual intensity).

The recorded forecast is from a past day, so a ManualClock stands in for wall time (the wait
and the 3 h job take milliseconds) and a replayed 65 W sensor for the hardware. In real use::

    plan = wattprint.wait_for_greener("12h", "3h", forecast_provider="ukci", zone="postcode:RG10")
    with wattprint.Tracker(project="demo") as t:
        train()
        plan.finish(t)

or, for any command: ``wattprint run --when-greener --within 12h --expect 3h -- python train.py``.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import sys
import tempfile

import torch
import wattprint as wp
from wattprint.testing import ManualClock, replay_sensor

HERE = os.path.dirname(os.path.abspath(__file__))
FORECAST = os.path.join(HERE, "data", "uk_forecast_48h.json")


def main(output_dir: str) -> None:
    clock = ManualClock(utc=dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.timezone.utc))  # the recorded forecast's first half hour
    status = io.StringIO()
    plan = wp.wait_for_greener("12h", "3h", forecast_provider="file", path=FORECAST, clock=clock, sleep=clock.advance, stream=status)
    print(status.getvalue().splitlines()[0])
    print(f"waited {plan.waited_s / 3600:.1f} h (simulated), starting {clock.utc_now():%Y-%m-%d %H:%M} UTC")

    torch.manual_seed(0)
    model = torch.nn.Linear(8, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    x, y = torch.randn(256, 8), torch.randn(256, 1)
    sensor = replay_sensor(65.0, component_id="cpu:0", kind="cpu", name="Replayed CPU (65 W)")
    with wp.Tracker(project="carbon-aware-example", output_dir=output_dir, sensors=[sensor], clock=clock,
                    interval_s=float("inf"), handle_signals=False, pue=1.1) as t:  # fmt: skip
        for _ in range(30):  # 30 steps of 6 simulated minutes: a 3 h job
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            t.step(samples=len(x))
            clock.advance(360.0)
        section = plan.finish(t)
    exp, real = section["expected"], section["realised"]
    print(f"expected saving ({exp['signal']}): {exp['saving_g']:.1f} gCO2e ({exp['saving_pct']:.1f} %) for {exp['energy_kwh']:.3f} kWh, from the forecast")
    print(f"realised saving ({real['signal']}): {real['saving_g']:.1f} gCO2e ({real['saving_pct']:.1f} %), {real['basis']} ({real['source']})")
    print(f"footprint: {t.json_path}")
    json.dumps(t.footprint.to_dict())  # JSON-serialisable, as written


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="wattprint-carbon-aware-"))
