"""Lightning: a ``Callback`` that measures a ``Trainer`` run, per epoch and per job.

    from wattprint.integrations.lightning import WattprintCallback
    trainer = lightning.Trainer(callbacks=[WattprintCallback(project="mnist", region="IE")])
    trainer.fit(model)          # writes wattprint-runs/<run_id>.json (and <run_id>.job.json under DDP)

What it does:

* starts a tracker in ``setup`` and stops it in ``teardown`` (one run per
  ``fit``/``validate``/``test``/``predict``); ``on_exception`` writes the
  footprint with status ``failed`` (without waiting for other ranks);
* counts optimizer steps (``trainer.global_step``, so gradient accumulation
  is right) and samples per batch; each training epoch is a window
  (``epoch 0``, ``epoch 1``...);
* logs ``wattprint/energy_kwh``, ``wattprint/carbon_kg`` and
  ``wattprint/epoch_energy_j`` at the end of each training epoch through
  ``pl_module.log`` (summed over ranks), so any Lightning logger receives them;
* keeps cumulative energy, carbon and steps in the checkpoint
  (``state_dict``), so a resumed run reports the whole training in its
  ``resume`` section;
* is rank-aware: each rank measures its own GPUs, local rank 0 the node's CPU
  and RAM, and global rank 0 writes the job footprint
  (:mod:`wattprint.integrations.distributed`).

Failure modes: bad tracker settings raise ``wattprint.ConfigError`` when the
callback is built; after that nothing raises into training.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Optional

import wattprint
from lightning.pytorch.callbacks import Callback
from wattprint import Footprint
from wattprint.integrations.distributed import DistributedTracker, all_reduce_sum
from wattprint.integrations.torch import cuda_synchronize
from wattprint.units import J_PER_KWH

__all__ = ["WattprintCallback", "batch_size_of"]

logger = logging.getLogger("wattprint")



def batch_size_of(batch: Any) -> Optional[int]:
    """The leading dimension of the first tensor found in ``batch`` (``None`` if there is none)."""
    shape = getattr(batch, "shape", None)
    if shape is not None:
        return int(shape[0]) if len(shape) else None
    if isinstance(batch, dict):
        items = list(batch.values())
    elif isinstance(batch, (list, tuple)):
        items = list(batch)
    else:
        return None
    for item in items:
        n = batch_size_of(item)
        if n is not None:
            return n
    return None


class WattprintCallback(Callback):
    """Measures a Lightning run with wattprint.

    Args:
        tracker: a ready :class:`wattprint.Tracker` (not started) used as is for
            the first stage; by default a rank-aware
            :class:`~wattprint.integrations.distributed.DistributedTracker` is
            built from ``tracker_kwargs`` at each ``setup``.
        log: log energy and carbon through ``pl_module.log`` at each epoch end.
        sync: call ``torch.cuda.synchronize()`` before each epoch edge and the
            final read, so queued GPU work lands in the right epoch (default off).
        batch_size_fn: ``batch -> samples`` (default: first tensor's leading dimension).
        tokens_fn: ``batch -> tokens`` (default: tokens not counted).
        **tracker_kwargs: :class:`wattprint.Tracker` /
            :class:`~wattprint.integrations.distributed.DistributedTracker` arguments
            (``project``, ``region``, ``output_dir``, ``sensors``...).

    Attributes:
        footprint: the last run's footprint (the job footprint on global rank 0).
        previous: totals restored from a checkpoint (``energy_j``, ``carbon_kg``,
            ``steps``, ``run_ids``), empty when not resumed.
    """

    def __init__(
        self,
        tracker: Optional[wattprint.Tracker] = None,
        *,
        log: bool = True,
        batch_size_fn: Optional[Callable[[Any], Optional[int]]] = None,
        tokens_fn: Optional[Callable[[Any], Optional[int]]] = None,
        sync: bool = False,
        **tracker_kwargs: Any,
    ) -> None:
        super().__init__()
        self.sync = bool(sync)
        self._given = tracker
        self._kwargs = dict(tracker_kwargs)
        self._log_metrics = log
        self._batch_size_fn = batch_size_fn or batch_size_of
        self._tokens_fn = tokens_fn
        self.dt: Optional[DistributedTracker] = None
        self.footprint: Optional[Footprint] = None
        self.previous: Dict[str, Any] = {}
        self._epoch_cm: Any = None
        self._epoch_rec: Optional[Dict[str, Any]] = None
        self._last_global_step = 0
        self._batches = 0
        self._stage: Optional[str] = None
        if tracker is None:
            DistributedTracker(**self._kwargs, world_size=1)  # check the settings now

    # -- lifecycle -----------------------------------------------------------------
    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if self.dt is not None and self.dt.running:
            return
        try:
            if self._given is not None and self.dt is None:
                self.dt = DistributedTracker(
                    tracker=self._given, rank=trainer.global_rank, local_rank=trainer.local_rank, world_size=trainer.world_size
                )
            else:
                self.dt = DistributedTracker(
                    **self._kwargs,
                    rank=trainer.global_rank,
                    local_rank=trainer.local_rank,
                    world_size=trainer.world_size,
                    local_world_size=max(1, int(getattr(trainer, "num_devices", 1) or 1)) if trainer.world_size > 1 else 1,
                )
            self._stage = stage
            self._batches = 0
            self._last_global_step = int(trainer.global_step)
            self.dt.annotate("lightning", {"stage": stage})
            self.dt.start()
        except Exception:
            logger.exception("wattprint: could not start measuring; training goes on without it")
            self.dt = None

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self._last_global_step = int(trainer.global_step)  # after a checkpoint was restored
        tracker = self.dt.tracker if self.dt is not None else None
        if tracker is not None and tracker.total_steps is None:
            try:  # Lightning's plan of optimizer steps (inf when unknown): enables the forecast
                tracker.set_total_steps(trainer.estimated_stepping_batches)
            except Exception:
                pass

    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self._finish(trainer, status=None, gather=True)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        status = None if isinstance(exception, KeyboardInterrupt) else "failed"
        self._finish(trainer, status=status or "partial", gather=False)

    def _finish(self, trainer: Any, status: Optional[str], gather: bool) -> None:
        dt = self.dt
        if dt is None or not dt.running:
            return
        try:
            self._close_epoch()
            section = {"stage": self._stage, "batches": self._batches, "global_step": int(trainer.global_step)}
            dt.annotate("lightning", section)
            if self.previous:
                energy_j = all_reduce_sum([dt.energy_j])[0] if gather and dt.info.distributed else dt.energy_j
                dt.annotate("resume", self._resume_section(energy_j, dt.tracker.steps if dt.tracker else 0))
            self.footprint = dt.stop(status, gather=gather)
        except Exception:
            logger.exception("wattprint: could not finish the footprint")

    def _resume_section(self, energy_j: float, steps: int) -> Dict[str, Any]:
        prev = self.previous
        return {
            "resumed_from": list(prev.get("run_ids") or []),
            "previous_energy_j": prev.get("energy_j", 0.0),
            "previous_carbon_kg": prev.get("carbon_kg", 0.0),
            "previous_steps": prev.get("steps", 0),
            "cumulative_energy_j": prev.get("energy_j", 0.0) + energy_j,
            "cumulative_steps": prev.get("steps", 0) + steps,
        }

    # -- counting -------------------------------------------------------------------
    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        dt = self.dt
        if dt is None or not dt.running:
            return
        try:
            gs = int(trainer.global_step)
            steps, self._last_global_step = max(0, gs - self._last_global_step), gs
            self._batches += 1
            tokens = self._tokens_fn(batch) if self._tokens_fn is not None else None
            dt.step(steps, samples=self._batch_size_fn(batch), tokens=tokens)
        except Exception:
            logger.exception("wattprint: counting a batch failed; training goes on")

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        dt = self.dt
        if dt is None or not dt.running:
            return
        self._close_epoch()  # also syncs when asked
        try:
            self._epoch_cm = dt.window(f"epoch {trainer.current_epoch}")
            self._epoch_rec = self._epoch_cm.__enter__()
        except Exception:
            logger.exception("wattprint: could not open the epoch window")
            self._epoch_cm = None

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        rec = self._close_epoch()
        dt = self.dt
        if not self._log_metrics or dt is None or not dt.running:
            return
        try:
            snap = dt.tracker.snapshot() if dt.tracker is not None else None
            carbon_kg = (snap.get("carbon.total_kg") or 0.0) if snap is not None else 0.0
            metrics = {
                "wattprint/energy_kwh": (dt.energy_j + self.previous.get("energy_j", 0.0) / max(1, dt.info.world_size)) / J_PER_KWH,
                "wattprint/carbon_kg": carbon_kg + self.previous.get("carbon_kg", 0.0) / max(1, dt.info.world_size),
                "wattprint/epoch_energy_j": (rec or {}).get("energy_j", 0.0),
            }
            for name, value in metrics.items():
                pl_module.log(name, float(value), on_step=False, on_epoch=True, sync_dist=dt.info.distributed, reduce_fx="sum")
        except Exception:
            logger.exception("wattprint: could not log energy to the trainer's logger")

    def _close_epoch(self) -> Optional[Dict[str, Any]]:
        cm, rec = self._epoch_cm, self._epoch_rec
        self._epoch_cm = self._epoch_rec = None
        if self.sync:
            cuda_synchronize()
        if cm is None:
            return None
        try:
            cm.__exit__(None, None, None)
        except Exception:
            logger.exception("wattprint: could not close the epoch window")
        return rec

    # -- checkpoints ------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """Cumulative totals (over all ranks and all previous runs) for the checkpoint.

        Under DDP this is a collective (Lightning calls it on every rank when saving).
        """
        dt = self.dt
        energy_j, carbon_kg, steps, run_ids = 0.0, 0.0, 0, []
        if dt is not None and dt.tracker is not None and (dt.running or dt.footprint is not None):
            if dt.running:
                dt.tracker.sample_now()
            snap = dt.tracker.snapshot()
            local = [dt.energy_j, (snap.get("carbon.total_kg") or 0.0) if snap is not None else 0.0]
            energy_j, carbon_kg = all_reduce_sum(local) if dt.info.distributed and dt.running else local
            steps = dt.tracker.steps
            run_ids = [dt.job_run_id or dt.tracker.run_id]
        prev = self.previous
        return {
            "version": 1,
            "energy_j": prev.get("energy_j", 0.0) + energy_j,
            "carbon_kg": prev.get("carbon_kg", 0.0) + carbon_kg,
            "steps": prev.get("steps", 0) + steps,
            "run_ids": list(prev.get("run_ids") or []) + run_ids,
        }

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        self.previous = {
            "energy_j": float(state_dict.get("energy_j", 0.0)),
            "carbon_kg": float(state_dict.get("carbon_kg", 0.0)),
            "steps": int(state_dict.get("steps", 0)),
            "run_ids": list(state_dict.get("run_ids") or []),
        }

    @property
    def total_energy_j(self) -> float:
        """This rank's energy in this run plus the restored job total, joules."""
        return self.previous.get("energy_j", 0.0) + (self.dt.energy_j if self.dt is not None else 0.0)
