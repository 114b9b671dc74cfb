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
* adds ``wattprint.energy.it_kwh`` and ``wattprint.carbon.total_kg``
  (summed over ranks; the figure table's names, as in MLflow and the CSV) to
  every ``logs`` dict in ``on_log`` and to ``state.log_history``; works with
  ``report_to="none"``;
* delivers them to the Trainer's reporting callbacks (TensorBoard, MLflow,
  W&B...) however it was attached: at ``on_init_end`` (and again at
  ``on_train_begin``) it moves itself before them in the Trainer's callback
  list, so ``callbacks=[WattprintCallback()]`` works like :func:`attach`;
* keeps the model card: ``trainer.create_model_card()`` and the card step
  of ``trainer.push_to_hub()`` rewrite ``README.md``; the card then gets the
  run's ``co2_eq_emissions`` and energy section again (:func:`keep_card`);
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

The hooks only map the Trainer's events onto the shared
:class:`~wattprint.integrations._session.TrainingSession`.

Failure modes: bad settings raise ``wattprint.ConfigError`` when the
callback is built (checked without building a tracker); afterwards nothing
raises into training, and a failing hook is logged once per cause. The Trainer has
no exception hook: without :func:`attach`, a crashed run's footprint is
written at interpreter exit (status ``completed``, with a note) unless you
call ``callback.stop("failed")``.
"""

from __future__ import annotations

import functools
import os
import sys
from types import FrameType
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import wattprint
from transformers import TrainerCallback
from wattprint import Footprint
from wattprint.exporters._names import LEGACY_LOG_NAMES
from wattprint.integrations._session import CARBON_KG, ENERGY_KWH, SessionAttributes, Totals, is_failure
from wattprint.integrations.distributed import DistributedTracker
from wattprint.units import J_PER_KWH

if TYPE_CHECKING:
    from transformers import Trainer, TrainerControl, TrainerState, TrainingArguments

__all__ = ["WattprintCallback", "attach", "move_first", "keep_card"]


class WattprintCallback(TrainerCallback, SessionAttributes):
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
        previous: what the checkpoint's ``log_history`` said about the runs
            before a resume (empty when not resumed).
        session: the shared :class:`~wattprint.integrations._session.TrainingSession`.
    """

    def __init__(self, tracker: Optional[wattprint.Tracker] = None, *, log: bool = True, sync: bool = False, **tracker_kwargs: Any) -> None:
        self._open_session(tracker, sync, tracker_kwargs)
        self._log = log
        self._last_step = 0
        self._last_tokens = 0
        self._last_flos = 0.0

    @property
    def previous(self) -> Dict[str, Any]:
        s = self.session
        if not s.resumed:
            return {}
        return dict(s.resume, previous_energy_j=s.previous.energy_j, previous_carbon_kg=s.previous.carbon_kg)

    # -- lifecycle ----------------------------------------------------------------
    def on_init_end(self, args: "TrainingArguments", state: "TrainerState", control: "TrainerControl", **kwargs: Any) -> None:
        self._go_first()

    def _go_first(self) -> None:
        """Move this callback before the Trainer's reporting callbacks, so their ``on_log`` sees the energy.

        The Trainer hands its callbacks no reference to itself or its handler, so the handler is found as
        the ``self`` of the ``CallbackHandler.call_event`` frame calling this event (bounded walk).
        """
        with self.session.guard("putting the callback before the reporting callbacks"):
            from transformers import Trainer
            from transformers.trainer_callback import CallbackHandler

            frame: Optional[FrameType] = sys._getframe(1)
            for _ in range(8):
                if frame is None:
                    return
                owner = frame.f_locals.get("self")
                if isinstance(owner, CallbackHandler):
                    move_first(owner.callbacks, self)
                elif isinstance(owner, Trainer):
                    keep_card(owner, self)
                    return
                frame = frame.f_back

    def on_train_begin(self, args: "TrainingArguments", state: "TrainerState", control: "TrainerControl", **kwargs: Any) -> None:
        self._go_first()
        s = self.session

        def make() -> DistributedTracker:
            rank, local_rank, world_size = int(args.process_index), int(args.local_process_index), int(args.world_size)
            if self._given is not None and (s.dt is None or self._given.footprint is None):
                return DistributedTracker(tracker=self._given, rank=rank, local_rank=local_rank, world_size=world_size)
            return DistributedTracker(**self._kwargs, rank=rank, local_rank=local_rank, world_size=world_size)

        if s.running:
            return
        previous, resume = _previous_totals(state)
        s.restore(previous, resume)
        if s.begin(make, ("transformers", {})):
            self._last_step = int(state.global_step)
            self._last_tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
            self._last_flos = float(getattr(state, "total_flos", 0.0) or 0.0)
            with s.guard("reading the trainer's plan"):
                s.plan(getattr(state, "max_steps", 0))  # enables the forecast

    def on_train_end(self, args: "TrainingArguments", state: "TrainerState", control: "TrainerControl", **kwargs: Any) -> None:
        self._count(state)
        self.stop(None, state=state)

    def stop(self, status: Optional[str] = None, *, state: Optional["TrainerState"] = None, gather: bool = True) -> Optional[Footprint]:
        """Stop measuring now; ``stop("failed", gather=False)`` after a crash. Idempotent."""
        section: Dict[str, Any] = {}
        if state is not None:
            section = {"global_step": int(state.global_step), "epoch": state.epoch, "total_flos": float(getattr(state, "total_flos", 0.0) or 0.0)}
        return self.session.finish(status, gather=gather, section=("transformers", section))

    # -- counting -------------------------------------------------------------------
    def on_step_end(self, args: "TrainingArguments", state: "TrainerState", control: "TrainerControl", **kwargs: Any) -> None:
        self._count(state, args)

    def _count(self, state: "TrainerState", args: Any = None) -> None:
        dt = self.session.dt
        if dt is None or not dt.running:
            return
        with self.session.guard("counting a step"):
            step = int(state.global_step)
            steps, self._last_step = max(0, step - self._last_step), step
            tokens: Optional[int] = None
            flops: Optional[float] = None
            if state.is_world_process_zero:  # both figures are already summed over the ranks
                seen = int(getattr(state, "num_input_tokens_seen", 0) or 0)
                tokens, self._last_tokens = max(0, seen - self._last_tokens), seen
                total_flos = float(getattr(state, "total_flos", 0.0) or 0.0)
                flops, self._last_flos = max(0.0, total_flos - self._last_flos), total_flos
            samples = steps * _samples_per_step(args) if args is not None else 0  # this rank's; the job sums the ranks
            if steps or tokens or flops:
                dt.step(steps, samples=samples or None, tokens=tokens or None, flops=flops or None)

    def on_epoch_begin(self, args: "TrainingArguments", state: "TrainerState", control: "TrainerControl", **kwargs: Any) -> None:
        if self.session.running:
            self.session.open_epoch(f"epoch {int(state.epoch or 0)}")

    def on_epoch_end(self, args: "TrainingArguments", state: "TrainerState", control: "TrainerControl", **kwargs: Any) -> None:
        self.session.close_epoch()

    # -- logs ----------------------------------------------------------------------------
    def on_log(
        self, args: "TrainingArguments", state: "TrainerState", control: "TrainerControl", logs: Optional[Dict[str, Any]] = None, **kwargs: Any
    ) -> None:
        s = self.session
        if not self._log or logs is None or not s.running:
            return
        with s.guard("adding energy to the logs"):
            # a counter read (no CUDA sync), only at log steps; every rank logs at the same steps
            # (the Trainer gathers the loss there), so summing over ranks here is safe
            s.update_totals()
            extra = s.figures()  # a resumed run logs the whole training's totals
            logs.update(extra)
            history = getattr(state, "log_history", None)
            if history and isinstance(history[-1], dict) and history[-1].get("step") == state.global_step:
                history[-1].update(extra)


def _previous_totals(state: "TrainerState") -> Tuple[Totals, Dict[str, Any]]:
    """Totals of the runs before a resume, from the checkpoint's ``log_history``, and the resume details.

    The logged figures are cumulative over earlier resumes too, so the last
    one at or before the checkpoint's step is the training's energy so far
    (up to the energy spent after that log line and before the checkpoint).
    Not resumed (step 0): zero totals and no details.
    """
    step = int(getattr(state, "global_step", 0) or 0)
    if step <= 0:
        return Totals(), {}
    legacy = {v: k for k, v in LEGACY_LOG_NAMES.items()}  # checkpoints written before one name per figure
    energy_keys, carbon_keys = (ENERGY_KWH, legacy["energy.it_kwh"]), (CARBON_KG, legacy["carbon.total_kg"])
    for entry in reversed(list(getattr(state, "log_history", None) or [])):
        energy_key = next((k for k in energy_keys if isinstance(entry, dict) and k in entry), None)
        if energy_key is not None and int(entry.get("step", 0) or 0) <= step:
            carbon = next((entry[k] for k in carbon_keys if entry.get(k) is not None), 0.0)
            previous = Totals(float(entry[energy_key]) * J_PER_KWH, float(carbon or 0.0), step)
            return previous, {
                "resumed_at_step": step,
                "previous_logged_at_step": int(entry.get("step", 0) or 0),
                "source": "trainer_state.json log_history of the checkpoint",
            }
    return Totals(steps=step), {
        "resumed_at_step": step,
        "previous_logged_at_step": None,
        "source": "no wattprint figures in the checkpoint's log_history",
    }


def move_first(callbacks: List[Any], cb: Any) -> None:
    """Put ``cb`` first in the Trainer's callback list (once), before the reporting integrations."""
    if callbacks and callbacks[0] is cb:
        return
    callbacks[:] = [cb] + [c for c in callbacks if c is not cb]


def keep_card(trainer: "Trainer", cb: WattprintCallback) -> None:
    """Make ``trainer.create_model_card()`` (and so ``push_to_hub()``'s card step) keep the energy section.

    The Trainer rewrites ``<output_dir>/README.md`` from its training summary; afterwards the card gets
    the run's ``co2_eq_emissions`` and the wattprint section again (the settings of a
    ``ModelCardExporter`` given to the callback for that file, else the defaults). Once per trainer.
    """
    original = trainer.create_model_card
    if getattr(original, "_wattprint_keeps_card", False):
        return

    @functools.wraps(original)
    def create_model_card(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        fp = cb.footprint
        if fp is not None and trainer.is_world_process_zero():
            with cb.session.guard("writing the energy into the model card"):
                from wattprint.exporters.modelcard import ModelCardExporter

                path = os.path.join(str(trainer.args.output_dir), "README.md")
                given = [e for e in cb._kwargs.get("exporters") or [] if isinstance(e, ModelCardExporter)]
                mine = next((e for e in given if e.card_path() == os.path.abspath(path)), None)
                if mine is None:
                    base = given[0] if given else None
                    mine = ModelCardExporter(path) if base is None else ModelCardExporter(
                        path, training_type=base.training_type, geographical_location=base.geographical_location,
                        hardware_used=base.hardware_used, emissions=base.emissions, heading=base.heading)
                mine.export(fp)
        return result

    create_model_card._wattprint_keeps_card = True  # type: ignore[attr-defined]
    trainer.create_model_card = create_model_card  # type: ignore[method-assign]


def attach(trainer: "Trainer", callback: Optional[WattprintCallback] = None, **tracker_kwargs: Any) -> WattprintCallback:
    """Add a :class:`WattprintCallback` to ``trainer`` first in line, and record crashes.

    The callback is put before the ``report_to`` integrations, so their
    ``on_log`` sees the energy figures, and ``trainer.train`` is wrapped so an
    exception stops the tracker with status ``failed`` (``partial`` when
    interrupted) before it propagates.

    Returns:
        The callback (its ``footprint`` after training).
    """
    cb = callback if callback is not None else WattprintCallback(**tracker_kwargs)
    move_first(trainer.callback_handler.callbacks, cb)
    keep_card(trainer, cb)
    original = trainer.train

    @functools.wraps(original)
    def train(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        except BaseException as err:
            cb.stop("failed" if is_failure(type(err)) else "partial", gather=False)
            raise

    trainer.train = train
    return cb


def _samples_per_step(args: Any) -> int:
    """Samples one optimizer step takes on this rank: per-device batch x gradient accumulation
    (the last, shorter batch of an epoch is counted full; 0 when the arguments do not say)."""
    try:
        return max(0, int(getattr(args, "per_device_train_batch_size", 0) or 0) * int(getattr(args, "gradient_accumulation_steps", 1) or 1))
    except (TypeError, ValueError):
        return 0
