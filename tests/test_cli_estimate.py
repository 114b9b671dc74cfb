"""`wattprint estimate` text: quantities in the units module's one dialect (readable units, three figures)."""

from __future__ import annotations

from wattprint.cli.app import main
from wattprint.cli.estimate import format_estimate
from wattprint.footprint.planning import estimate


def test_table4_text_uses_the_units_formatters(capsys):
    assert main(["estimate", "--energy-kwh", "1287000", "--region", "li2023:arizona"]) == 0
    out = capsys.readouterr().out
    # 1,287,000 kWh IT; water 9.629e6 L in the old 4-digit dialect
    assert "IT 1.29 GWh, facility 1.52 GWh" in out
    assert "water     9.63 ML (on-site 2.10 ML at WUE 1.63 L/kWh; off-site 7.53 ML at EWIF 4.959 L/kWh)" in out
    assert "carbon    475 tCO2e (operational 475 tCO2e at 312.57 gCO2e/kWh; embodied unknown)" in out
    assert "e+0" not in out.split("sources:")[0]  # no raw scientific notation for energy, carbon or water
    assert "Li et al." in out


def test_compute_hardware_and_time_lines():
    doc = estimate(flops=1e21, gpu="A100", gpus=8, mfu=0.5, region="IE", env={})
    text = format_estimate(doc)
    assert "compute   1e+21 FLOP (given)" in text
    assert "8 x A100" in text and "FLOP/s dense bf16, 400 W TDP)" in text
    time_line = next(line for line in text.splitlines() if line.startswith("  time"))
    assert "GPU-hours; MFU 50%" in time_line
    assert " h " in time_line or " min " in time_line or " d " in time_line  # units.format_duration


def test_compute_only_plan_has_no_energy_lines():
    text = format_estimate(estimate(params=1e9, tokens=1e9, env={}))
    assert "compute   6e+18 FLOP" in text and "energy" not in text.split("note:")[0]
