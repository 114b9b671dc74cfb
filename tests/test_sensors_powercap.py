"""An explicit powercap root that does not exist is a ConfigError; only the default degrades quietly.
Sensors read WATTPRINT_POWERCAP_ROOT from the injected env, not os.environ."""

import pytest
from fakes.powercap import FakePowercap
from wattprint.engine.sensors import rapl as rapl_mod
from wattprint.engine.sensors.discovery import discover
from wattprint.engine.sensors.rapl import RaplSensor, powercap_root
from wattprint.errors import ConfigError, SensorUnavailable


def test_explicit_missing_root_is_a_config_error_naming_the_setting_and_path(tmp_path):
    missing = str(tmp_path / "no-such-powercap")
    with pytest.raises(ConfigError) as err:
        RaplSensor(missing, env={})
    assert err.value.setting == "powercap_root" and missing in str(err.value)


def test_missing_root_from_the_variable_names_the_variable(tmp_path):
    missing = str(tmp_path / "nope")
    with pytest.raises(ConfigError) as err:
        RaplSensor(env={"WATTPRINT_POWERCAP_ROOT": missing})
    assert err.value.setting == "WATTPRINT_POWERCAP_ROOT" and missing in str(err.value)


def test_explicit_root_that_is_a_file_is_a_config_error(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("x")
    with pytest.raises(ConfigError):
        RaplSensor(str(path), env={})


def test_discover_with_explicit_missing_root_raises(tmp_path):
    missing = str(tmp_path / "nope")
    with pytest.raises(ConfigError) as err:
        discover(gpu=False, powercap_root=missing, env={})
    assert err.value.setting == "powercap_root"
    with pytest.raises(ConfigError) as err:
        discover(gpu=False, env={"WATTPRINT_POWERCAP_ROOT": missing})
    assert err.value.setting == "WATTPRINT_POWERCAP_ROOT"


def test_missing_default_root_degrades_quietly_to_the_estimate(tmp_path, monkeypatch):
    missing = str(tmp_path / "sys-class-powercap")
    monkeypatch.setattr(rapl_mod, "DEFAULT_POWERCAP_ROOT", missing)
    with pytest.raises(SensorUnavailable):
        RaplSensor(env={})
    sensors, notes = discover(gpu=False, env={})
    assert [s.name for s in sensors] == ["estimate.cpu", "estimate.ram"]
    rapl_note = [n for n in notes if n.source == "rapl"][0]
    assert rapl_note.status == "absent" and missing in rapl_note.detail


def test_existing_root_without_zones_is_unavailable_not_a_config_error(tmp_path):
    with pytest.raises(SensorUnavailable):
        RaplSensor(str(tmp_path), env={})
    sensors, notes = discover(gpu=False, powercap_root=str(tmp_path), env={})
    assert any(n.source == "rapl" and n.status == "absent" for n in notes)
    assert any(s.name == "estimate.cpu" for s in sensors)


def test_the_injected_env_wins_over_os_environ(tmp_path, monkeypatch):
    FakePowercap(tmp_path, sockets=1)
    monkeypatch.setenv("WATTPRINT_POWERCAP_ROOT", str(tmp_path / "elsewhere"))
    env = {"WATTPRINT_POWERCAP_ROOT": str(tmp_path)}
    assert powercap_root(env=env) == str(tmp_path)
    assert RaplSensor(env=env).root == str(tmp_path)
    sensors, notes = discover(gpu=False, env=env)
    assert [s.name for s in sensors] == ["rapl"]
    assert all(str(tmp_path) in n.detail for n in notes if n.source == "rapl")


def test_the_argument_wins_over_the_variable(tmp_path):
    FakePowercap(tmp_path, sockets=1)
    sensor = RaplSensor(str(tmp_path), env={"WATTPRINT_POWERCAP_ROOT": str(tmp_path / "nope")})
    assert sensor.root == str(tmp_path)
