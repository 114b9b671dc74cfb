"""The one settings resolver: arguments, then WATTPRINT_* variables, then defaults."""

import math

import pytest

import wattprint
from wattprint.errors import ConfigError
from wattprint.settings import TrackerSettings


def test_arguments_then_environment_then_defaults(tmp_path):
    env = {"WATTPRINT_PROJECT": "from-env", "WATTPRINT_INTERVAL_S": "2.5", "WATTPRINT_SAVE": "no"}
    s = TrackerSettings.resolve(env=env, interval_s=0.5)
    assert s.project == "from-env" and s.interval_s == 0.5 and s.save is False
    d = TrackerSettings.resolve(env={}, save=False)
    assert (d.project, d.interval_s, d.power_interval_s, d.checkpoint_interval_s) == ("default", 1.0, 0.1, 60.0)
    assert d.run_id is None and d.powercap_root is None and d.max_timeline_points == 2048
    assert TrackerSettings.resolve(env={"WATTPRINT_INTERVAL_S": "inf"}, save=False).interval_s == math.inf


def test_errors_name_the_argument_or_the_variable():
    with pytest.raises(ConfigError) as e:
        TrackerSettings.resolve(env={"WATTPRINT_INTERVAL_S": "fast"}, save=False)
    assert e.value.setting == "WATTPRINT_INTERVAL_S"
    for kw, name in [({"interval_s": 0}, "interval_s"), ({"gpu": 1}, "gpu"), ({"max_timeline_points": 3}, "max_timeline_points"),
                     ({"total_steps": 0}, "total_steps"), ({"export_timeout_s": 0}, "export_timeout_s"),
                     ({"exporters": [object()]}, "exporters")]:  # fmt: skip
        with pytest.raises(ConfigError) as e:
            TrackerSettings.resolve(env={}, save=False, **kw)
        assert e.value.setting == name
    with pytest.raises(TypeError):
        TrackerSettings.resolve(env={}, colour="red")


def test_factor_arguments_are_carried_for_the_run_layer():
    s = TrackerSettings.resolve(env={}, save=False, region="IE", accounting_options={"embodied": False})
    assert s.factor_args["region"] == "IE" and s.factor_args["embodied"] is False and s.factor_args["pue"] is None


def test_an_explicit_powercap_root_that_does_not_exist_fails_naming_it(tmp_path):
    missing = str(tmp_path / "no-such-powercap")
    with pytest.raises(ConfigError) as e:
        wattprint.Tracker(powercap_root=missing, gpu=False, save=False)
    assert e.value.setting == "powercap_root" and missing in str(e.value)
    with pytest.raises(ConfigError) as e:
        wattprint.Tracker(gpu=False, save=False, env={"WATTPRINT_POWERCAP_ROOT": missing})
    assert e.value.setting == "WATTPRINT_POWERCAP_ROOT"
    assert wattprint.Tracker(powercap_root=str(tmp_path), gpu=False, save=False).powercap_root == str(tmp_path)
    assert wattprint.Tracker(gpu=False, save=False, env={}).powercap_root is None  # the default root degrades quietly


def test_track_checks_settings_without_building_a_tracker(monkeypatch):
    built = []
    orig = wattprint.Tracker.__init__

    def counting(self, *a, **kw):
        built.append(kw)
        orig(self, *a, **kw)

    monkeypatch.setattr(wattprint.Tracker, "__init__", counting)
    with pytest.raises(ConfigError):
        wattprint.track(interval_s=-1)
    with pytest.raises(ConfigError):
        wattprint.track(region="XX-NOWHERE")  # the factors are checked too
    wattprint.track(save=False)(lambda: None)
    assert built == []
