"""Every bad setting is refused at construction with a message that names it and what is allowed."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wattprint import ConfigError, Tracker
from wattprint.testing import replay_sensor


def replay():
    return replay_sensor(10.0)


@pytest.mark.parametrize(
    "kwargs, setting",
    [
        ({"pue": 0.9}, "pue"),
        ({"pue": -1}, "pue"),
        ({"pue": "abc"}, "pue"),
        ({"pue": float("nan")}, "pue"),
        ({"interval_s": 0}, "interval_s"),
        ({"interval_s": -1}, "interval_s"),
        ({"interval_s": "fast"}, "interval_s"),
        ({"power_interval_s": 0.001}, "power_interval_s"),
        ({"checkpoint_interval_s": 0}, "checkpoint_interval_s"),
        ({"cpu_tdp_w": 0}, "cpu_tdp_w"),
        ({"cpu_tdp_w": True}, "cpu_tdp_w"),
        ({"max_timeline_points": 2}, "max_timeline_points"),
        ({"total_steps": 0}, "total_steps"),
        ({"export_timeout_s": 0}, "export_timeout_s"),
        ({"gpu": "yes"}, "gpu"),
        ({"project": ""}, "project"),
        ({"exporters": [object()]}, "exporters"),
        ({"wue_l_per_kwh": -0.1}, "wue_l_per_kwh"),
        ({"intensity_g_per_kwh": -5}, "intensity_g_per_kwh"),
    ],
)
def test_bad_argument_names_the_setting(kwargs, setting):
    with pytest.raises(ConfigError) as err:
        Tracker(sensors=[replay()], **kwargs)
    assert err.value.setting == setting
    assert setting in str(err.value)
    assert "must" in str(err.value) or "unknown" in str(err.value).lower()


@pytest.mark.parametrize(
    "var, value",
    [
        ("WATTPRINT_PUE", "zero"),
        ("WATTPRINT_PUE", "0.5"),
        ("WATTPRINT_INTERVAL_S", "0"),
        ("WATTPRINT_INTERVAL_S", "1s"),
        ("WATTPRINT_POWER_INTERVAL_S", "-1"),
        ("WATTPRINT_CHECKPOINT_INTERVAL_S", "nan"),
        ("WATTPRINT_CPU_TDP_W", "-3"),
        ("WATTPRINT_SAVE", "perhaps"),
    ],
)
def test_malformed_environment_variable_names_the_variable(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as err:
        Tracker(sensors=[replay()])
    assert err.value.setting == var and var in str(err.value)


def test_unknown_region_is_refused():
    with pytest.raises(ConfigError) as err:
        Tracker(sensors=[replay()], region="XX-NOWHERE")
    assert "region" in str(err.value)


def test_output_dir_under_a_file_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError) as err:
        Tracker(sensors=[replay()], output_dir=str(blocker / "runs"))
    assert err.value.setting == "output_dir" and "not a folder" in str(err.value)


def test_inf_interval_is_allowed_and_means_no_thread():
    t = Tracker(sensors=[replay()], interval_s=math.inf, save=False).start()
    assert t._sampler is not None and not t._sampler.running
    t.stop()


@settings(max_examples=150, deadline=None)
@given(
    pue=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=4), st.integers(-5, 5)),
    interval=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 3)),
)
def test_property_settings_either_valid_or_config_error(pue, interval):
    """Whatever is passed, construction either succeeds with sane values or raises ConfigError; never anything else."""
    try:
        t = Tracker(sensors=[replay()], pue=pue, interval_s=interval, save=False)
    except ConfigError as err:
        assert err.setting in ("pue", "interval_s")
        return
    assert t.interval_s > 0
    assert t.factors.pue.value >= 1.0 and math.isfinite(t.factors.pue.value)
