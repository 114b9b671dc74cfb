"""Settings that used to be accepted and break later (issue 17) fail at construction, naming the setting."""

from __future__ import annotations

import math

import pytest
import wattprint as wp
from wattprint.cli import app as cli
from wattprint.errors import ConfigError


@pytest.mark.parametrize("name", ["interval_s", "power_interval_s", "checkpoint_interval_s"])
@pytest.mark.parametrize("value", [1e10, 9.3e9, 1e-4, 0.005])
def test_periods_outside_what_runs_are_refused(tmp_path, name, value):
    with pytest.raises(ConfigError, match=name):
        wp.Tracker(output_dir=str(tmp_path), **{name: value})


def test_periods_inside_the_range_and_never_are_accepted(tmp_path):
    t = wp.Tracker(output_dir=str(tmp_path), interval_s=math.inf, checkpoint_interval_s=math.inf, power_interval_s=0.01)
    assert t.interval_s == math.inf and t.power_interval_s == 0.01
    assert wp.Tracker(output_dir=str(tmp_path), interval_s=7 * 86400.0).interval_s == 7 * 86400.0


@pytest.mark.parametrize("var", ["WATTPRINT_PROJECT", "WATTPRINT_OUTPUT_DIR"])
def test_blank_environment_values_are_an_error_not_a_name(tmp_path, var):
    env = {"WATTPRINT_OUTPUT_DIR": str(tmp_path), var: "   "}
    with pytest.raises(ConfigError, match=var):
        wp.Tracker(env=env)


def test_the_cli_names_the_flag(tmp_path, capsys):
    rc = cli.main(["run", "--output-dir", str(tmp_path), "--interval", "1e10", "--", "true"])
    err = capsys.readouterr().err
    assert rc == 2 and "--interval" in err and "at most" in err
