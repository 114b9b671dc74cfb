"""wattprint.units: the one place for J_PER_KWH, human formatting and ISO-UTC timestamps."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from wattprint import units
from wattprint.units import (
    J_PER_KWH,
    as_float,
    column_unit,
    format_carbon,
    format_count,
    format_duration,
    format_energy,
    format_factor,
    format_percent,
    format_power,
    format_water,
    iso_utc,
    kwh_to_j,
    parse_utc,
    sig_digits,
    unit_for,
)


def test_constants():
    assert J_PER_KWH == 3.6e6
    assert units.SECONDS_PER_YEAR == pytest.approx(365.25 * 86400)
    assert kwh_to_j(1.5) == 1.5 * J_PER_KWH and kwh_to_j(None) is None


@pytest.mark.parametrize(
    "x, text",
    [(0, "0"), (1234.5, "1,234"), (123.4, "123"), (12.34, "12.3"), (1.234, "1.23"), (0.1234, "0.123"),
     (0.01234, "0.0123"), (0.001234, "0.00123"), (0.005, "0.00500"), (0.0999, "0.0999"), (0.0001234, "1.23e-04"),
     (-12.34, "-12.3"), (-0.01234, "-0.0123")],
)
def test_sig_digits(x, text):
    assert sig_digits(x) == text


@pytest.mark.parametrize(
    "energy_j, text",
    [(None, "–"), (0.0, "0 Wh"), (5.0, "5.00 J"), (360.0, "0.100 Wh"), (3000.0, "0.833 Wh"), (3600.0, "1.00 Wh"),
     (1.26e6, "350 Wh"), (3.6e6, "1.00 kWh"), (3.6e12 * 18.6, "18.6 GWh")],
)
def test_format_energy_picks_a_readable_unit(energy_j, text):
    assert format_energy(energy_j) == text


def test_format_carbon_water_power():
    assert format_carbon(None) == "–"
    assert format_carbon(0.0) == "0 gCO2e"  # nothing: the everyday unit, not mg
    assert format_carbon(0.000417) == "0.417 gCO2e"
    assert format_carbon(0.00005) == "50.0 mgCO2e"
    assert format_carbon(1.5) == "1.50 kgCO2e"
    assert format_carbon(11.3e6) == "11.3 ktCO2e"
    assert format_water(0.9) == "900 mL"
    assert format_water(1.15) == "1.15 L"
    assert format_water(9.629e6) == "9.63 ML"
    assert format_power(350.0) == "350 W"
    assert format_power(12_500.0) == "12.5 kW"
    assert format_power(None) == "–"


@pytest.mark.parametrize(
    "seconds, text",
    [(None, "–"), (0, "0.0 s"), (10.04, "10.0 s"), (59.9, "59.9 s"), (60, "1 min 00 s"), (245, "4 min 05 s"),
     (3600, "1 h 00 min"), (7620, "2 h 07 min"), (86400, "1 d 00 h"), (3 * 86400 + 4 * 3600, "3 d 04 h")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_format_percent_count_and_factor():
    assert format_percent(0.25) == "25%" and format_percent(None) == "–"
    assert format_percent(0.5, signed=True) == "+50%" and format_percent(-0.125, signed=True) == "-12%"
    assert format_count(3.791e25, "FLOP") == "3.79e+25 FLOP"
    assert format_count(16384) == "16,384" and format_count(None, "FLOP") == "–"
    assert format_count(999_999.0) == "999,999" and format_count(1e6) == "1e+06"
    assert format_factor(1.2) == "1.2" and format_factor(300.0) == "300" and format_factor(312.57) == "312.57"
    assert format_factor(None) == "–" and format_factor("n/a") == "–" and format_factor(True) == "–"


def test_unit_for_and_column_unit():
    assert unit_for("energy_j", 0.0) == ("Wh", 3600.0)
    assert unit_for("energy_j", 5e6) == ("kWh", 3.6e6)
    assert unit_for("water_l", 2e3) == ("m³", 1e3)
    assert column_unit("carbon_kg", [0.002, None, 3.0]) == ("kg", 1.0)  # the largest value decides
    assert column_unit("carbon_kg", [None]) == ("g", 1e-3)
    with pytest.raises(KeyError):
        unit_for("speed_m_per_s", 1.0)


def test_iso_utc_writes_z_and_milliseconds():
    when = dt.datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=dt.timezone.utc)
    assert iso_utc(when) == "2026-03-01T12:30:15.123Z"
    plus_two = dt.datetime(2026, 3, 1, 14, 30, 15, 123000, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert iso_utc(plus_two) == "2026-03-01T12:30:15.123Z"  # converted to UTC


def test_parse_utc_round_trips_and_refuses_quietly():
    when = dt.datetime(2026, 3, 1, 12, 30, 15, 123000, tzinfo=dt.timezone.utc)
    assert parse_utc(iso_utc(when)) == when
    assert iso_utc(parse_utc("2026-03-01T12:30:15.123Z")) == "2026-03-01T12:30:15.123Z"
    naive = parse_utc("2026-03-01T12:30:15")
    assert naive is not None and naive.tzinfo is not None and naive.utcoffset() == dt.timedelta(0)
    assert parse_utc("2026-03-01T14:30:15+02:00") == dt.datetime(2026, 3, 1, 12, 30, 15, tzinfo=dt.timezone.utc)
    for bad in (None, "", "  ", "yesterday", 1234, "2026-13-01T00:00:00Z"):
        assert parse_utc(bad) is None


def test_as_float_reads_numbers_and_refuses_the_rest():
    assert as_float(3) == 3.0 and as_float("2.5") == 2.5 and as_float(" 7 ") == 7.0
    for bad in (None, True, False, "x", [], {}, math.nan, math.inf, -math.inf, "nan"):
        assert as_float(bad) is None
    # round trip through text, as a CSV or JSON reader sees it
    for x in (0.0, 1e-9, 123.456, -4.2e12):
        assert as_float(repr(x)) == x
