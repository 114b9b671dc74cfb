"""Straight-line list arithmetic for the sampler tick, compiled once per list length.

The tick's per-GPU work is a few operations over lists of equal length ``n``. CPython 3.11 runs
them faster written out, ``[a[0] - b[0], a[1] - b[1], ...]``, than through ``map`` or a
comprehension over ``zip`` (no iterator, tuple or loop step per element; the float operations
specialise): about a third faster at 64 GPUs. Each function here returns such a function for
``n``, built from a fixed template that holds only indices and names (never data) and compiled
once per length (cached; :func:`calls` once per sensor, its function and arguments bound as the
compiled function's globals); beyond :data:`MAX_UNROLLED` elements, or for ``n < 1``, the same operations as a
loop. Either way the results are those of the loop, bit for bit: the same operators on the same
operands in the same order.

Failure modes: the functions raise what their operators raise (as the loops would), and
``IndexError`` for lists shorter than ``n``.
"""

from __future__ import annotations

import functools
import operator
from typing import Any, Callable, Dict, List, Optional, Sequence

__all__ = ["MAX_UNROLLED", "differences", "scaled_sums", "any_above", "calls"]

MAX_UNROLLED = 1024  # longer lists take the loops (a larger function costs more to compile than it saves)


def _compile(name: str, params: str, body: str, namespace: Optional[Dict[str, Any]] = None) -> Callable[..., Any]:
    namespace = {} if namespace is None else namespace
    exec(compile(f"def {name}({params}):\n    {body}\n", f"<wattprint.engine.unrolled.{name}>", "exec"), namespace)  # noqa: S102 - names only
    fn: Callable[..., Any] = namespace[name]
    return fn


@functools.lru_cache(maxsize=64)
def differences(n: int) -> Callable[[Sequence[Any], Sequence[Any]], List[Any]]:
    """``f(a, b) == [a[i] - b[i] for i in range(n)]`` (e.g. counter deltas, raw units)."""
    if not 0 < n <= MAX_UNROLLED:
        return lambda a, b: list(map(operator.sub, a, b))
    return _compile("differences", "a, b", "return [" + ", ".join(f"a[{i}] - b[{i}]" for i in range(n)) + "]")


@functools.lru_cache(maxsize=64)
def scaled_sums(n: int) -> Callable[[Sequence[float], Sequence[Any], float], List[float]]:
    """``f(e, d, s) == [e[i] + d[i] * s for i in range(n)]`` (e.g. joules plus counter deltas times joules per unit)."""
    if not 0 < n <= MAX_UNROLLED:
        return lambda e, d, s: [x + y * s for x, y in zip(e, d)]  # noqa: B905
    return _compile("scaled_sums", "e, d, s", "return [" + ", ".join(f"e[{i}] + d[{i}] * s" for i in range(n)) + "]")


@functools.lru_cache(maxsize=64)
def any_above(n: int) -> Callable[[Sequence[float], Sequence[float], Sequence[float]], bool]:
    """``f(v, r, lim) == any(v[i] - r[i] > lim[i] for i in range(n))``, stopping at the first (e.g. joule increments above limits)."""
    if not 0 < n <= MAX_UNROLLED:
        return lambda v, r, lim: any(map(operator.gt, map(operator.sub, v, r), lim))
    return _compile("any_above", "v, r, lim", "return " + " or ".join(f"v[{i}] - r[{i}] > lim[{i}]" for i in range(n)))


def calls(fn: Callable[[Any], Any], args: Sequence[Any]) -> Callable[[List[Any]], List[Any]]:
    """``f(out)`` returns ``[fn(a) for a in args]`` (e.g. one vendor call per GPU handle), written out: Python
    calling Python, cheaper than ``map`` calling from C. When a call raises, ``out`` holds the results of the
    calls before it and the exception propagates: the calls made are those of the loop."""
    n = len(args)
    if not 0 < n <= MAX_UNROLLED:
        def loop(out: List[Any]) -> List[Any]:
            out.extend(map(fn, args))
            return out

        return loop
    names = tuple(f"r{i}" for i in range(n))
    namespace: Dict[str, Any] = {"fn": fn, "names": names, **{f"a{i}": a for i, a in enumerate(args)}}
    body = "try:\n" + "".join(f"        r{i} = fn(a{i})\n" for i in range(n))
    body += "    except Exception:\n        made = locals()\n        out.extend([made[k] for k in names if k in made])\n        raise\n"
    return _compile("calls", "out", body + "    return [" + ", ".join(names) + "]", namespace)
