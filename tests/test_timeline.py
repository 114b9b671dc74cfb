"""The timeline keeps its shape however long the run (issue 20): uniform resolution, bounded stride."""

import json

import pytest

from wattprint.engine.timeline import Timeline


def _fill(n, max_points=2048, ids=("gpu:0",)):
    tl = Timeline(list(ids), max_points)
    for i in range(n):
        tl.append(float(i), i, [float(i)] * len(ids))
    return tl


def test_every_tenth_of_a_million_ticks_holds_five_to_fifteen_percent():
    n = 1_000_000
    d = _fill(n).to_dict()
    t = d["t_s"]
    counts = [0] * 10
    for x in t:
        counts[min(9, int(x * 10 // n))] += 1
    shares = [c / len(t) for c in counts]
    assert all(0.05 <= s <= 0.15 for s in shares), shares
    assert t[0] == 0.0 and t[-1] == n - 1  # the first and the newest point are there
    assert d["energy_j"]["gpu:0"][-1] == n - 1  # cumulative: nothing lost


def test_no_interval_spans_more_than_two_strides():
    d = _fill(100_000, max_points=256).to_dict()
    t, stride = d["t_s"], d["downsample_stride"]
    assert max(b - a for a, b in zip(t, t[1:], strict=False)) <= stride  # before: the first interval spanned most of the run
    assert stride <= 100_000 and len(t) <= 256


def test_stride_stays_small_enough_to_print_and_the_footprint_serialises():
    tl = _fill(300_000, max_points=16)
    assert tl.stride <= tl.seen
    json.dumps(tl.to_dict())  # before: the stride doubled at every halving and overflowed str()


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 17, 64, 65, 1000])
def test_small_runs_keep_every_point_until_the_bound(n):
    tl = _fill(n, max_points=64)
    d = tl.to_dict()
    assert len(tl) <= 64 and d["t_s"][-1] == n - 1
    if n < 64:
        assert d["t_s"] == [float(i) for i in range(n)]


def test_out_of_order_point_is_dropped():
    tl = _fill(10)
    tl.append(3.0, 3, [3.0])
    assert tl.to_dict()["t_s"][-1] == 9.0 and tl.seen == 10


def test_journal_outbox_holds_the_kept_points_once():
    tl = Timeline(["a"], 8)
    tl.journal()
    for i in range(40):
        tl.append(float(i), i, [float(i)])
    new, overflowed = tl.drain_new()
    assert not overflowed
    assert [p[0] for p in new] == sorted({p[0] for p in new})  # in order, no repeats
    assert tl.drain_new() == ([], False)
    kept = set(tl.to_dict()["t_s"][:-1])
    assert kept <= {p[0] for p in new}  # every kept point was journaled


def test_outbox_overflow_is_reported():
    tl = Timeline(["a"], 4)
    tl.outbox_limit = 4
    tl.journal()
    for i in range(100):
        tl.append(float(i), i, [float(i)])
    assert tl.drain_new()[1] is True
