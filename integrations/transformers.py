"""Hugging Face ``Trainer``: a ``TrainerCallback`` that measures training, rank by rank.

    from wattprint.integrations.transformers import WattprintCallback
    trainer = Trainer(model=model, args=args, train_dataset=ds, callbacks=[WattprintCallback(region="IE")])
    trainer.train()             # writes wattprint-runs/<run_id>.json (and <run_id>.job.json when distributed)

or, so that a crash is recorded as ``failed`` and the energy reaches the
``report_to`` integrations in the same log line::

    from wattprint.integrations.transformers import attach
    attach(trainer, region="IE")
    trainer.train()

What it does:

* tracks ``on_train_begin`` .. ``on_train_end``; each epoch is a window;
* counts optimizer steps (``state.global_step``), the input tokens when the
  Trainer counts them (``include_num_input_tokens_seen``) and the Trainer's
  FLOP estimate (``state.total_flos``);
* adds ``wattprint/energy_kwh`` and ``wattprint/carbon_kg`` (summed over
  ranks) to every ``logs`` dict in ``on_log`` and to ``state.log_history``;
  works with ``report_to="none"``;
* after ``trainer.train(resume_from_checkpoint=...)`` the logged figures
  continue from the checkpoint's last logged totals, and the footprint gets a
  ``resume`` section (``resumed_at_step``, ``previous_energy_j``,
  ``previous_carbon_kg``, ``cumulative_energy_j``);
* is rank-aware: each process measures its own GPUs, local process 0 the
  node's CPU and RAM, and world process 0 writes the job footprint
  (:mod:`wattprint.integrations.distributed`).

Unlike ``transformers``' CodeCarbon callback, every rank measures (not only
local rank 0, which would count the whole node once per node but miss
nothing else), AMD or NVIDIA alike.

Failure modes: bad settings raise ``wattprint.ConfigError`` when the
callback is built; afterwards nothing raises into training. The Trainer has
no exception hook: without :func:`attach`, a crashed run's footprint is
written at interpreter exit (status ``completed``, with a note) unless you
call ``callback.stop("failed")``.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Dict, Optional

import wattprint
from transformers import TrainerCallback
from wattprint import Footprint
from wattprint.integrations.distributed import DistributedTracker, all_reduce_sum
from wattprint.integrations.torch import cuda_synchronize
from wattprint.units import J_PER_KWH

__all__ = ["WattprintCallback", "attach"]

logger = logging.getLogger("wattprint")



class WattprintCallback(TrainerCallback):
    """Measures a Hugging Face ``Trainer`` run with wattprint.

    Args:
        tracker: a ready :class:`wattprint.Tracker` (not started) to use as is;
            by default a rank-aware
            :class:`~wattprint.integrations.distributed.DistributedTracker` is
            built from ``tracker_kwargs`` at ``on_train_begin``.
        log: add energy and carbon to the Trainer's logs.
        sync: call ``torch.cuda.synchronize()`` before each epoch edge and the
            final read (default off).
        **tracker_kwargs: :class:`wattprint.Tracker` arguments (``project``,
            ``region``, ``output_dir``, ``sensors``...).

    Attributes:
        footprint: the run's footprint after ``on_train_end`` (the job
            footprint on world process 0 of a distributed run).
    """

    def __init__(self, tracker: Optional[wattprint.Tracker] = None, *, log: bool = True, sync: bool = False, **tracker_kwargs: Any) -> None:
        self.sync = bool(sync)
        self._given = tracker
        self._kwargs = dict(tracker_kwargs)
        self._log = log
        self.dt: Optional[DistributedTracker] = None
        self.footprint: Optional[Footprint] = None
        self._last_step = 0
        self._last_tokens = 0
        self._last_flos = 0.0
        self._epoch_cm: Any = None
        self.previous: Dict[str, Any] = {}
        if tracker is None:
            DistributedTracker(**self._kwargs, world_size=1)  # check the settings now

    # -- lifecycle ----------------------------------------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.dt is not None and self.dt.running:
            return
        try:
            rank = dict(rank=int(args.process_index), local_rank=int(args.local_process_index), world_size=int(args.world_size))
            if self._given is not None and (self.dt is None or self._given.footprint is None):
                self.dt = DistributedTracker(tracker=self._given, **rank)
            else:
                self.dt = DistributedTracker(**self._kwargs, **rank)
            self._last_step = int(state.global_step)
            self._last_tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
            self._last_flos = float(getattr(state, "total_flos", 0.0) or 0.0)
            self.previous = _previous_totals(state)
            self.dt.start()
            tracker = self.dt.tracker
            if tracker is not None and tracker.total_steps is None:
                tracker.set_total_steps(getattr(state, "max_steps", 0))  # enables the forecast
        except Exception:
            logger.exception("wattprint: could not start measuring; training goes on without it")
            self.dt = None

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._count(state)
        self.stop(None, state=state)

    def stop(self, status: Optional[str] = None, *, state: Any = None, gather: bool = True) -> Optional[Footprint]:
        """Stop measuring now; ``stop("failed", gather=False)`` after a crash. Idempotent."""
        dt = self.dt
        if dt is None or not dt.running:
            return self.footprint
        try:
            self._close_epoch()
            section: Dict[str, Any] = {}
            if state is not None:
                section = {"global_step": int(state.global_step), "epoch": state.epoch, "total_flos": float(getattr(state, "total_flos", 0.0) or 0.0)}
            dt.annotate("transformers", section)
            if self.previous:
                energy_j = all_reduce_sum([dt.energy_j])[0] if gather and dt.info.distributed else dt.energy_j
                prev = self.previous
                dt.annotate(
                    "resume",
                    dict(prev, cumulative_energy_j=prev["previous_energy_j"] + energy_j),
                )
            self.footprint = dt.stop(status, gather=gather)
        except Exception:
            logger.exception("wattprint: could not finish the footprint")
        return self.footprint

    # -- counting -------------------------------------------------------------------
    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._count(state)

    def _count(self, state: Any) -> None:
        dt = self.dt
        if dt is None or not dt.running:
            return
        try:
            step = int(state.global_step)
            steps, self._last_step = max(0, step - self._last_step), step
            tokens = flops = None
            if state.is_world_process_zero:  # both figures are already summed over the ranks
                seen = int(getattr(state, "num_input_tokens_seen", 0) or 0)
                tokens, self._last_tokens = max(0, seen - self._last_tokens), seen
                total_flos = float(getattr(state, "total_flos", 0.0) or 0.0)
                flops, self._last_flos = max(0.0, total_flos - self._last_flos), total_flos
            if steps or tokens or flops:
                dt.step(steps, tokens=tokens or None, flops=flops or None)
        except Exception:
            logger.exception("wattprint: counting a step failed; training goes on")

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        dt = self.dt
        if dt is None or not dt.running:
            return
        self._close_epoch()
        try:
            epoch = int(state.epoch or 0)
            self._epoch_cm = dt.window(f"epoch {epoch}")
            self._epoch_cm.__enter__()
        except Exception:
            logger.exception("wattprint: could not open the epoch window")
            self._epoch_cm = None

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._close_epoch()

    def _close_epoch(self) -> None:
        cm, self._epoch_cm = self._epoch_cm, None
        if self.sync:
            cuda_synchronize()
        if cm is not None:
            try:
                cm.__exit__(None, None, None)
            except Exception:
                logger.exception("wattprint: could not close the epoch window")

    # -- logs ----------------------------------------------------------------------------
    def on_log(self, args: Any, state: Any, control: Any, logs: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        dt = self.dt
        if not self._log or logs is None or dt is None or not dt.running or dt.tracker is None:
            return
        try:
            dt.tracker.sample_now()  # a counter read (no CUDA sync), only at log steps
            snap = dt.tracker.snapshot()
            local = [dt.energy_j, (snap.get("carbon.total_kg") or 0.0) if snap is not None else 0.0]
            # every rank logs at the same steps (the Trainer gathers the loss there), so a sum is safe
            energy_j, carbon_kg = all_reduce_sum(local) if dt.info.distributed else local
            prev = self.previous  # a resumed run logs the whole training's totals
            extra = {
                "wattprint/energy_kwh": (energy_j + prev.get("previous_energy_j", 0.0)) / J_PER_KWH,
                "wattprint/carbon_kg": carbon_kg + prev.get("previous_carbon_kg", 0.0),
            }
            logs.update(extra)
            history = getattr(state, "log_history", None)
            if history and isinstance(history[-1], dict) and history[-1].get("step") == state.global_step:
                history[-1].update(extra)
        except Exception:
            logger.exception("wattprint: could not add energy to the logs")


def _previous_totals(state: Any) -> Dict[str, Any]:
    """Totals of the runs before a resume, from the checkpoint's ``log_history`` (empty when not resumed).

    The logged figures are cumulative over earlier resumes too, so the last
    one at or before the checkpoint's step is the training's energy so far
    (up to the energy spent after that log line and before the checkpoint).
    """
    step = int(getattr(state, "global_step", 0) or 0)
    if step <= 0:
        return {}
    for entry in reversed(list(getattr(state, "log_history", None) or [])):
        if isinstance(entry, dict) and "wattprint/energy_kwh" in entry and int(entry.get("step", 0) or 0) <= step:
            return {
                "resumed_at_step": step,
                "previous_energy_j": float(entry["wattprint/energy_kwh"]) * J_PER_KWH,
                "previous_carbon_kg": float(entry.get("wattprint/carbon_kg") or 0.0),
                "previous_logged_at_step": int(entry.get("step", 0) or 0),
                "source": "trainer_state.json log_history of the checkpoint",
            }
    return {"resumed_at_step": step, "previous_energy_j": 0.0, "previous_carbon_kg": 0.0, "previous_logged_at_step": None,
            "source": "no wattprint figures in the checkpoint's log_history"}


def attach(trainer: Any, callback: Optional[WattprintCallback] = None, **tracker_kwargs: Any) -> WattprintCallback:
    """Add a :class:`WattprintCallback` to ``trainer`` first in line, and record crashes.

    The callback is put before the ``report_to`` integrations, so their
    ``on_log`` sees the energy figures, and ``trainer.train`` is wrapped so an
    exception stops the tracker with status ``failed`` before it propagates.

    Returns:
        The callback (its ``footprint`` after training).
    """
    cb = callback if callback is not None else WattprintCallback(**tracker_kwargs)
    trainer.callback_handler.callbacks.insert(0, cb)
    original = trainer.train

    @functools.wraps(original)
    def train(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        except BaseException as err:
            failed = not isinstance(err, (KeyboardInterrupt, SystemExit))
            cb.stop("failed" if failed else "partial", gather=False)
            raise

    trainer.train = train
    return cb
