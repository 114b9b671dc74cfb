"""PyTorch: count every optimizer step, and per-step energy without a CUDA sync per step.

Two lines in a plain loop::

    from wattprint.integrations.torch import attach
    hook = attach(optimizer, project="demo", samples_per_step=batch_size)   # starts a tracker
    for batch in loader: ...; optimizer.step()                             # every step is counted
    footprint = hook.stop()

Or with a tracker of your own: ``attach(optimizer, tracker)`` (you start and
stop it), or no optimizer at all: ``meter = StepHook(tracker); meter.step()``.

The hook only counts (``Tracker.step``: a lock and three additions, no sensor
read), so it costs well under 1 % of a 2 ms step (``benchmarks/bench_hook.py``).
Per-step energy then comes from the counters the sampler reads anyway:
:func:`energy_per_step` turns the footprint's timeline (steps and cumulative
joules at each reading) into joules per step for each interval. For finer
figures, ``read_every_n_steps=N`` reads the counters synchronously every N
steps; ``sync=True`` first calls ``torch.cuda.synchronize()`` so the GPU has
finished the steps being measured (a sync stalls the pipeline: use it with a
large N, or for a few steps only).

Failure modes: nothing here raises into training; a failed read is recorded
by the tracker as a gap; a failing step count is logged with its traceback
once per cause, then only counted (``hook.warnings.counts``). ``attach`` raises ``TypeError`` when the optimizer
has no ``register_step_post_hook`` (PyTorch < 2.0).
"""

from __future__ import annotations

import collections
import time
from types import TracebackType
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Tuple, Type, Union

from wattprint import Footprint, Tracker
from wattprint.integrations._session import WarnOnce, cuda_synchronize, is_failure
from wattprint.integrations.distributed import DistributedTracker

__all__ = ["StepHook", "attach", "energy_per_step", "cuda_synchronize"]

PerStep = Union[int, Callable[[], Optional[int]], None]
AnyTracker = Union[Tracker, DistributedTracker]


class StepHook:
    """Counts steps (and samples, tokens, FLOPs) on a tracker; optionally reads energy every N steps.

    Args:
        tracker: a :class:`wattprint.Tracker`, or a
            :class:`~wattprint.integrations.distributed.DistributedTracker`.
        samples_per_step, tokens_per_step, flops_per_step: work done by one
            step: a number, or a callable returning it (``None`` = unknown).
        sync: call ``torch.cuda.synchronize()`` before each synchronous read.
        read_every_n_steps: read the counters synchronously every N steps
            and keep the energy of each N-step span in :attr:`records`
            (default ``None``: never read in the step).
        max_records: bound on :attr:`records` (oldest dropped first).
        owns_tracker: :meth:`stop` also stops the tracker (set by :func:`attach`
            when it built the tracker).

    Attributes:
        steps: steps counted by this hook.
        records: ``{"steps", "energy_j", "j_per_step", "duration_s"}`` per read span.
    """

    def __init__(
        self,
        tracker: AnyTracker,
        *,
        samples_per_step: PerStep = None,
        tokens_per_step: PerStep = None,
        flops_per_step: Union[float, Callable[[], Optional[float]], None] = None,
        sync: bool = False,
        read_every_n_steps: Optional[int] = None,
        max_records: int = 4096,
        owns_tracker: bool = False,
    ) -> None:
        if read_every_n_steps is not None and (not isinstance(read_every_n_steps, int) or read_every_n_steps < 1):
            raise ValueError(f"read_every_n_steps: must be an integer >= 1 or None, got {read_every_n_steps!r}")
        if not callable(getattr(tracker, "step", None)):
            raise TypeError(f"tracker: {tracker!r} has no step() method")
        self.tracker = tracker
        self._samples = samples_per_step
        self._tokens = tokens_per_step
        self._flops = flops_per_step
        self._dynamic = any(callable(x) for x in (samples_per_step, tokens_per_step, flops_per_step))
        self._static_kw: Dict[str, Any] = {
            k: v for k, v in (("samples", samples_per_step), ("tokens", tokens_per_step), ("flops", flops_per_step)) if v is not None
        }
        self.sync = bool(sync)
        self.read_every_n_steps = read_every_n_steps
        self.owns_tracker = owns_tracker
        self.steps = 0
        self.records: Deque[Dict[str, float]] = collections.deque(maxlen=max_records)
        self._last_read: Optional[Tuple[int, float, float]] = None  # (steps, energy_j, t_s)
        self._handle: Any = None
        self.warnings = WarnOnce()  # a persistent failure is logged once, then counted

    # -- the hot path ------------------------------------------------------------
    def __call__(self, optimizer: Any = None, args: Any = None, kwargs: Any = None) -> None:
        """The optimizer step post-hook: ``hook(optimizer, args, kwargs)``."""
        self.step()

    def step(self, samples: Optional[int] = None, tokens: Optional[int] = None, flops: Optional[float] = None) -> None:
        """Count one step; explicit arguments override the per-step values. Never raises."""
        try:
            if samples is None and tokens is None and flops is None and not self._dynamic:
                self.tracker.step(1, **self._static_kw)
            else:
                self.tracker.step(
                    1,
                    samples=samples if samples is not None else _value(self._samples),
                    tokens=tokens if tokens is not None else _value(self._tokens),
                    flops=flops if flops is not None else _value(self._flops),
                )
            self.steps += 1
            if self.read_every_n_steps is not None and self.steps % self.read_every_n_steps == 0:
                self.read()
        except Exception as exc:
            self.warnings.failed("counting a step", exc)

    # -- synchronous reads ----------------------------------------------------------
    def read(self) -> Optional[Dict[str, float]]:
        """Read the counters now (after a CUDA sync if ``sync``); returns the span since the last read."""
        tracker = self.tracker
        if not tracker.running:
            return None
        if self.sync:
            cuda_synchronize()
        tracker.sample_now()
        t_s = time.monotonic()
        now = (self.steps, tracker.energy_j, t_s)
        prev, self._last_read = self._last_read, now
        if prev is None:
            return None
        d_steps = now[0] - prev[0]
        rec: Dict[str, float] = {
            "steps": float(now[0]),
            "step_count": float(d_steps),
            "energy_j": now[1] - prev[1],
            "j_per_step": (now[1] - prev[1]) / d_steps if d_steps else float("nan"),
            "duration_s": now[2] - prev[2],
        }
        self.records.append(rec)
        return rec

    @property
    def last_j_per_step(self) -> Optional[float]:
        """Joules per step over the latest read span (``None`` before two reads)."""
        return self.records[-1]["j_per_step"] if self.records else None

    # -- attach / detach ---------------------------------------------------------------
    def attach(self, optimizer: Any) -> "StepHook":
        """Register on ``optimizer`` (``register_step_post_hook``)."""
        register = getattr(optimizer, "register_step_post_hook", None)
        if register is None:
            raise TypeError(f"{type(optimizer).__name__} has no register_step_post_hook (needs torch >= 2.0)")
        if self._handle is not None:
            self._handle.remove()
        self._handle = register(self)
        if self.read_every_n_steps is not None and self.tracker.running:
            self.read()  # the first read opens the first span
        return self

    def remove(self) -> None:
        """Unregister from the optimizer. Safe to call twice."""
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def stop(self, status: Optional[str] = None) -> Optional[Footprint]:
        """Unregister, and stop the tracker when this hook built it; returns its footprint."""
        self.remove()
        if self.owns_tracker:
            if self.sync:
                cuda_synchronize()
            return self.tracker.stop(status)
        return self.tracker.footprint

    def __enter__(self) -> "StepHook":
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        failed = is_failure(exc_type)
        if self.owns_tracker and failed and isinstance(self.tracker, DistributedTracker):
            self.remove()
            self.tracker.stop("failed", gather=False)  # other ranks may never reach the gather
        else:
            self.stop("failed" if failed else None)


def _value(v: Any) -> Any:
    return v() if callable(v) else v


def attach(
    optimizer: Any,
    tracker: Optional[AnyTracker] = None,
    *,
    samples_per_step: PerStep = None,
    tokens_per_step: PerStep = None,
    flops_per_step: Union[float, Callable[[], Optional[float]], None] = None,
    sync: bool = False,
    read_every_n_steps: Optional[int] = None,
    **tracker_kwargs: Any,
) -> StepHook:
    """Count every ``optimizer.step()`` on a tracker.

    Args:
        optimizer: a ``torch.optim.Optimizer``.
        tracker: a started (or to be started) tracker. When ``None``, a
            :class:`~wattprint.integrations.distributed.DistributedTracker` is
            built from ``tracker_kwargs`` and started (a plain tracker on one
            process, rank-aware under torchrun); ``hook.stop()`` stops it.
        samples_per_step, tokens_per_step, flops_per_step, sync, read_every_n_steps:
            see :class:`StepHook`.

    Returns:
        The :class:`StepHook` (``.remove()`` unregisters it).

    Raises:
        TypeError: the optimizer cannot take a step post-hook.
        wattprint.ConfigError: a bad tracker setting.
    """
    owns = tracker is None
    if tracker is None:
        tracker = DistributedTracker(**tracker_kwargs)
    elif tracker_kwargs:
        raise TypeError(f"tracker settings {sorted(tracker_kwargs)} given with a ready tracker; set them on the tracker")
    hook = StepHook(
        tracker,
        samples_per_step=samples_per_step,
        tokens_per_step=tokens_per_step,
        flops_per_step=flops_per_step,
        sync=sync,
        read_every_n_steps=read_every_n_steps,
        owns_tracker=owns,
    )
    if owns:
        tracker.start()
    return hook.attach(optimizer)


def energy_per_step(source: Union[Footprint, Mapping[str, Any]]) -> List[Dict[str, float]]:
    """Joules per step between the readings of a run's timeline.

    Args:
        source: a :class:`wattprint.Footprint` (its ``timeline``), or the
            timeline mapping itself (``t_s``, ``steps``, ``energy_j``).

    Returns:
        One entry per interval in which steps were taken:
        ``{"t_s", "steps", "step_count", "energy_j", "j_per_step"}`` with
        ``t_s`` the end of the interval (seconds since start) and ``steps``
        the steps counted by then. Empty when the timeline has fewer than two
        points. The figures are exact counter differences, spread evenly over
        the steps of each interval.
    """
    timeline = source.timeline if isinstance(source, Footprint) else source
    t = list(timeline.get("t_s") or [])
    steps = list(timeline.get("steps") or [])
    series = list((timeline.get("energy_j") or {}).values())
    if len(t) < 2 or len(steps) != len(t):
        return []
    total = [sum(col[i] for col in series) for i in range(len(t))]
    out: List[Dict[str, float]] = []
    for i in range(1, len(t)):
        d_steps = steps[i] - steps[i - 1]
        if d_steps <= 0:
            continue
        d_e = total[i] - total[i - 1]
        out.append({"t_s": t[i], "steps": float(steps[i]), "step_count": float(d_steps), "energy_j": d_e, "j_per_step": d_e / d_steps})
    return out
