"""vLLM (v1 engine): finished requests from vLLM's public stat-logger interface, into a tracker's request ledger.

    from wattprint import Tracker
    from wattprint.integrations.vllm import wattprint_stat_logger
    tracker = Tracker(project="vllm").start()
    engine = AsyncLLM.from_engine_args(args, stat_loggers=[wattprint_stat_logger(tracker)])

vLLM calls a stat logger's ``record(scheduler_stats, iteration_stats, engine_idx)``
after each engine step, in the front-end process (where the tracker runs).
``iteration_stats.finished_requests`` lists the requests that finished in that
step, each with ``num_prompt_tokens``, ``num_generation_tokens``, ``e2e_latency``,
``queued_time``, ``prefill_time``, ``decode_time`` and ``inference_time`` (seconds).
This logger turns each into :meth:`wattprint.Tracker.record_request`: it ends now
(on the tracker's clock, a few milliseconds after the last token at most), started
``inference_time`` before (first scheduled: queue time processes no token and is
not charged), with its first token ``prefill_time`` after the start.

What it can see: token counts, the prefill/decode split and the model
(``vllm_config.model_config.served_model_name``), for every finished request,
without patching vLLM. What it cannot see: absolute timestamps (vLLM gives
durations; the end is taken as the moment ``record`` runs, so a request is placed
up to one engine step late); requests aborted before finishing if vLLM does not
list them; preemptions (a preempted request is charged as if it ran throughout);
which GPU of a tensor-parallel group did what (all the tracker's devices are
shared by the requests). vLLM documents ``IterationStats``/``SchedulerStats`` as
not stable: the fields are read with ``getattr`` and a missing one skips the
request (logged once), never vLLM's step.

Failure modes: nothing raises into vLLM; a tracker that is not running ignores
the stats.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Optional

__all__ = ["wattprint_stat_logger", "WattprintStatLogger"]

logger = logging.getLogger("wattprint")


class WattprintStatLogger:
    """A vLLM stat logger (duck-typed to ``vllm.v1.metrics.loggers.StatLoggerBase``) feeding ``tracker``."""

    def __init__(self, tracker: Any, vllm_config: Any = None, engine_index: int = 0,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.tracker = tracker
        self.clock = clock
        self.engine_index = engine_index
        model_cfg = getattr(vllm_config, "model_config", None)
        name = getattr(model_cfg, "served_model_name", None) or getattr(model_cfg, "model", None)
        if isinstance(name, (list, tuple)):
            name = name[0] if name else None
        self.model: Optional[str] = str(name) if name else None
        self.recorded = 0
        self._warned = False

    def record(self, scheduler_stats: Any = None, iteration_stats: Any = None, engine_idx: int = 0, *args: Any, **kwargs: Any) -> None:
        if iteration_stats is None or not getattr(self.tracker, "running", False):
            return
        finished = getattr(iteration_stats, "finished_requests", None) or ()
        if not finished:
            return
        now = self.clock()
        for req in finished:
            try:
                tin = int(req.num_prompt_tokens)
                tout = int(req.num_generation_tokens)
                busy = float(getattr(req, "inference_time", 0.0) or getattr(req, "e2e_latency", 0.0) or 0.0)
                prefill = getattr(req, "prefill_time", None)
                start = now - max(0.0, busy)
                first = start + float(prefill) if prefill is not None and 0 <= float(prefill) <= busy else None
                self.tracker.record_request(tin, tout, start, now, first_token_s=first, model=self.model, endpoint="vllm")
                self.recorded += 1
            except Exception as err:  # vLLM's stats are not a stable interface
                if not self._warned:
                    self._warned = True
                    logger.warning("wattprint: a vLLM finished-request stat could not be read (%s: %s); skipped", type(err).__name__, err)

    def log_engine_initialized(self) -> None:
        return None

    def log(self) -> None:
        return None


def wattprint_stat_logger(tracker: Any, clock: Callable[[], float] = time.monotonic) -> Callable[..., WattprintStatLogger]:
    """A stat-logger factory for vLLM's ``stat_loggers=[...]`` (called as ``factory(vllm_config, engine_index)``).

    ``clock`` must be the tracker's (``time.monotonic``, the Tracker's default)."""

    def factory(vllm_config: Any = None, engine_index: int = 0) -> WattprintStatLogger:
        return WattprintStatLogger(tracker, vllm_config, engine_index, clock)

    return factory
