import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wattprint.engine.counters import EnergyCounter


def test_first_read_sets_baseline():
    c = EnergyCounter(scale_j=1e-6, max_range=1000)
    assert c.update(500, 0.0).delta_j == 0.0
    assert c.primed


def test_normal_delta_in_joules():
    c = EnergyCounter(scale_j=1e-3)
    c.update(10_000, 0.0)
    step = c.update(15_000, 1.0)
    assert step.delta_j == pytest.approx(5.0)
    assert step.event is None and not step.is_gap


def test_wrap_is_counted_exactly():
    c = EnergyCounter(scale_j=1e-6, max_range=1_000_000_000, max_power_w=1000)
    c.update(999_000_000, 0.0)
    step = c.update(4_000_000, 1.0)  # wrapped: 1 J to the top + 4 J after
    assert step.event == "wrap"
    assert step.delta_j == pytest.approx(5.0)
    assert not step.is_gap


def test_reset_counts_energy_since_reset_and_is_a_gap():
    c = EnergyCounter(scale_j=1e-3, max_range=None, max_power_w=700)
    c.update(50_000_000, 0.0)
    step = c.update(20_000, 1.0)  # driver reload: counter restarted from 0
    assert step.event == "reset" and step.is_gap
    assert step.delta_j == pytest.approx(20.0)


def test_implausible_wrap_becomes_reset():
    # A fall that would need 900 J in 1 s to be a wrap, on a 100 W device.
    c = EnergyCounter(scale_j=1e-6, max_range=1_000_000_000, max_power_w=100)
    c.update(100_000_000, 0.0)
    step = c.update(1_000_000, 1.0)
    assert step.event == "reset"
    assert step.delta_j == pytest.approx(1.0)


def test_impossible_jump_is_rejected_not_added():
    c = EnergyCounter(scale_j=1e-3, max_power_w=700)
    c.update(0, 0.0)
    step = c.update(10_000_000, 1.0)  # 10 kJ in one second from a 700 W GPU
    assert step.event == "jump" and step.is_gap
    assert step.delta_j == 0.0
    # and counting resumes from the new value
    assert c.update(10_000_500, 2.0).delta_j == pytest.approx(0.5)


def test_bad_arguments():
    with pytest.raises(ValueError):
        EnergyCounter(scale_j=0)
    with pytest.raises(ValueError):
        EnergyCounter(scale_j=1e-6, max_range=0)


MAX = 2**32


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=500.0, allow_nan=False), min_size=1, max_size=60))
def test_property_wrapping_counter_sums_true_energy(powers_w):
    """A counter advancing by any plausible power, wrapping at MAX µJ, sums to the true energy."""
    c = EnergyCounter(scale_j=1e-6, max_range=MAX, max_power_w=1000)
    raw, t = 123_456, 0.0
    c.update(raw, t)
    total_uj = 0
    counted = 0.0
    for p in powers_w:
        d_uj = int(p * 1e6)  # one second at p watts
        total_uj += d_uj
        raw = (raw + d_uj) % MAX if raw + d_uj < MAX else raw + d_uj - MAX
        t += 1.0
        step = c.update(raw, t)
        assert not step.is_gap
        counted += step.delta_j
    assert counted == pytest.approx(total_uj * 1e-6, rel=1e-9, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2**40), min_size=2, max_size=40))
def test_property_never_negative_never_above_physical_limit(raws):
    c = EnergyCounter(scale_j=1e-6, max_range=2**40, max_power_w=500)
    t = 0.0
    for raw in raws:
        t += 1.0
        step = c.update(raw, t)
        assert step.delta_j >= 0.0
        assert step.delta_j <= 500 * 1.5 * 1.0 + 1e-9
