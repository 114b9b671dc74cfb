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
* logs ``wattprint.energy.it_kwh``, ``wattprint.carbon.total_kg`` (the
  figure table's names, as in MLflow and the CSV) and
  ``wattprint/epoch_energy_j`` at the end of each training epoch through
  ``pl_module.log`` (summed over ranks), so any Lightning logger receives them;
* keeps cumulative energy, carbon and steps in the checkpoint
  (``state_dict``), so a resumed run reports the whole training in its
  ``resume`` section. The totals are summed over ranks at each epoch end and
  cached, so ``state_dict()`` never runs a collective (a rank that saves
  alone, e.g. an exception checkpoint, cannot block); under DDP a checkpoint
  taken mid-epoch therefore holds the totals of the last epoch end;
* is rank-aware: each rank measures its own GPUs, local rank 0 the node's CPU
  and RAM, and global rank 0 writes the job footprint
  (:mod:`wattprint.integrations.distributed`).

The hooks only map Lightning's events onto the shared
:class:`~wattprint.integrations._session.TrainingSession`.

Failure modes: bad tracker settings raise ``wattprint.ConfigError`` when the
callback is built (checked without building a tracker); after that nothing
raises into training, and a failing hook is logged once per cause.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

import wattprint
from lightning.pytorch.callbacks import Callback
from wattprint.integrations._session import SessionAttributes, Totals, is_failure
from wattprint.integrations.distributed import DistributedTracker

if TYPE_CHECKING:
    import lightning.pytorch as pl

__all__ = ["WattprintCallback", "batch_size_of"]


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


class WattprintCallback(Callback, SessionAttributes):
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
        session: the shared :class:`~wattprint.integrations._session.TrainingSession`.
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
        self._open_session(tracker, sync, tracker_kwargs)
        self._log_metrics = log
        self._batch_size_fn = batch_size_fn or batch_size_of
        self._tokens_fn = tokens_fn
        self._last_global_step = 0
        self._batches = 0
        self._stage: Optional[str] = None

    @property
    def previous(self) -> Dict[str, Any]:
        s = self.session
        if not s.resumed:
            return {}
        p = s.previous
        return {"energy_j": p.energy_j, "carbon_kg": p.carbon_kg, "steps": p.steps, "run_ids": list(s.resume["resumed_from"])}

    # -- lifecycle -----------------------------------------------------------------
    def setup(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule", stage: str) -> None:
        def make() -> DistributedTracker:
            rank, local_rank, world_size = int(trainer.global_rank), int(trainer.local_rank), int(trainer.world_size)
            if self._given is not None and self.session.dt is None:
                return DistributedTracker(tracker=self._given, rank=rank, local_rank=local_rank, world_size=world_size)
            local_world = max(1, int(getattr(trainer, "num_devices", 1) or 1)) if world_size > 1 else 1
            return DistributedTracker(**self._kwargs, rank=rank, local_rank=local_rank, world_size=world_size, local_world_size=local_world)

        if self.session.begin(make, ("lightning", {"stage": stage})):
            self._stage = stage
            self._batches = 0
            self._last_global_step = int(trainer.global_step)

    def on_train_start(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule") -> None:
        self._last_global_step = int(trainer.global_step)  # after a checkpoint was restored
        with self.session.guard("reading the trainer's plan"):  # optimizer steps, inf when unknown
            self.session.plan(trainer.estimated_stepping_batches)

    def teardown(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule", stage: str) -> None:
        self._finish(trainer, status=None, gather=True)

    def on_exception(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule", exception: BaseException) -> None:
        self._finish(trainer, status="failed" if is_failure(type(exception)) else "partial", gather=False)

    def _finish(self, trainer: "pl.Trainer", status: Optional[str], gather: bool) -> None:
        section = {"stage": self._stage, "batches": self._batches, "global_step": int(trainer.global_step)}
        self.session.finish(status, gather=gather, section=("lightning", section))

    # -- counting -------------------------------------------------------------------
    def on_train_batch_end(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule", outputs: Any, batch: Any, batch_idx: int) -> None:
        dt = self.session.dt
        if dt is None or not dt.running:
            return
        with self.session.guard("counting a batch"):
            gs = int(trainer.global_step)  # optimizer steps, so gradient accumulation is right
            steps, self._last_global_step = max(0, gs - self._last_global_step), gs
            self._batches += 1
            tokens = self._tokens_fn(batch) if self._tokens_fn is not None else None
            dt.step(steps, samples=self._batch_size_fn(batch), tokens=tokens)

    def on_train_epoch_start(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule") -> None:
        if self.session.running:
            self.session.open_epoch(f"epoch {trainer.current_epoch}")

    def on_train_epoch_end(self, trainer: "pl.Trainer", pl_module: "pl.LightningModule") -> None:
        rec = self.session.close_epoch()
        s = self.session
        if not s.running:
            return
        with s.guard("summing the epoch's energy"):
            # every rank ends the epoch here: sum over ranks now (cached for state_dict), not in a getter
            summed = s.update_totals([(rec or {}).get("energy_j", 0.0)], read=rec is None)
            if not self._log_metrics or summed is None:
                return
            metrics = dict(s.figures(), **{"wattprint/epoch_energy_j": summed[0]})
            distributed = s.dt is not None and s.dt.info.distributed
            for name, value in metrics.items():
                # already summed over ranks: every rank logs the same value, so "max" keeps it as is
                pl_module.log(name, float(value), on_step=False, on_epoch=True, sync_dist=distributed, reduce_fx="max")

    # -- checkpoints ------------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """Cumulative totals (over all ranks and all previous runs) for the checkpoint. Never a collective.

        On one process the figures are read now; under DDP they are the totals summed at the
        last epoch end (a rank may save alone, e.g. an exception checkpoint, and must not wait).
        """
        s = self.session
        s.update_totals(collective=False)  # one process: read now; a distributed job keeps the cached totals
        dt = s.dt
        run_ids: List[str] = list(s.resume.get("resumed_from") or [])
        if dt is not None and dt.job_run_id is not None and (dt.running or dt.footprint is not None):
            run_ids.append(dt.job_run_id)
        t = s.totals
        return {"version": 1, "energy_j": t.energy_j, "carbon_kg": t.carbon_kg, "steps": t.steps, "run_ids": run_ids}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        previous = Totals(
            energy_j=float(state_dict.get("energy_j", 0.0)),
            carbon_kg=float(state_dict.get("carbon_kg", 0.0)),
            steps=int(state_dict.get("steps", 0)),
        )
        self.session.restore(previous, {"resumed_from": list(state_dict.get("run_ids") or [])})

    @property
    def total_energy_j(self) -> float:
        """This rank's energy in this run plus the restored job total, joules."""
        dt = self.session.dt
        return self.session.previous.energy_j + (dt.energy_j if dt is not None else 0.0)
