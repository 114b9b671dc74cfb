"""The written-out list arithmetic of the tick (engine/unrolled.py) gives the loops' results bit for bit,
at every length (the compiled ones and, beyond MAX_UNROLLED, the loops themselves)."""

import math
import random
import struct

import pytest
from wattprint.engine import unrolled


def bits(xs):
    return [struct.pack("<d", x) if isinstance(x, float) else (type(x), x) for x in xs]


def floats(rng, n):
    pool = [0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, 1.7976931348623157e308, 0.1, 1e16 + 1]
    return [rng.choice(pool) if rng.random() < 0.1 else rng.uniform(-1e6, 1e9) for _ in range(n)]


@pytest.mark.parametrize("n", [1, 2, 4, 8, 64, 257, unrolled.MAX_UNROLLED, unrolled.MAX_UNROLLED + 1])
def test_written_out_equals_the_loops(n):
    rng = random.Random(n)
    for _ in range(5):
        a, b = [rng.randrange(0, 2**64) for _ in range(n)], [rng.randrange(0, 2**64) for _ in range(n)]
        assert unrolled.differences(n)(a, b) == [x - y for x, y in zip(a, b, strict=True)]
        e, s = floats(rng, n), rng.choice([1e-3, 1e-6, 0.061, 1.0])
        d = [x - y for x, y in zip(a, b, strict=True)]
        assert bits(unrolled.scaled_sums(n)(e, d, s)) == bits([x + y * s for x, y in zip(e, d, strict=True)])
        v, r = floats(rng, n), floats(rng, n)
        lim = [rng.choice([x - y, math.nextafter(x - y, -math.inf), math.inf, -math.inf]) for x, y in zip(v, r, strict=True)]
        assert unrolled.any_above(n)(v, r, lim) is any(x - y > m for x, y, m in zip(v, r, lim, strict=True))
        fv, fr = floats(rng, n), floats(rng, n)
        assert bits(unrolled.differences(n)(fv, fr)) == bits([x - y for x, y in zip(fv, fr, strict=True)])


def test_any_above_finds_a_single_increment_anywhere():
    n = 64
    f = unrolled.any_above(n)
    v, r, lim = [10.0] * n, [0.0] * n, [10.0] * n
    assert f(v, r, lim) is False  # ties are not above
    for i in range(n):
        lim[i] = math.nextafter(10.0, 0.0)
        assert f(v, r, lim) is True
        lim[i] = 10.0


def test_compiled_once_per_length_and_short_lists_raise():
    assert unrolled.differences(64) is unrolled.differences(64)
    with pytest.raises(IndexError):
        unrolled.differences(4)([1, 2, 3], [1, 2, 3])


@pytest.mark.parametrize("n", [1, 5, 64, unrolled.MAX_UNROLLED + 1])
def test_calls_keep_the_results_before_a_raise(n):
    made = []

    def fn(a):
        made.append(a)
        if a == "boom":
            raise RuntimeError(a)
        return a * 2

    args = list(range(n))
    assert unrolled.calls(fn, args)([]) == [a * 2 for a in args] and made == args
    for k in {0, n // 2, n - 1}:
        made.clear()
        bad = args[:k] + ["boom"] + args[k + 1 :]
        out = []
        with pytest.raises(RuntimeError):
            unrolled.calls(fn, bad)(out)
        assert out == [a * 2 for a in args[:k]] and made == bad[: k + 1]  # no call after the raise, none twice
