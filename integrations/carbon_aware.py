"""Pause training while the grid is dirty: Lightning and Hugging Face callbacks.

    provider = wattprint.forecast_provider("ukci", zone="postcode:RG10")       # or "file", path=...
    wp_cb = WattprintCallback(project="mnist")
    pause = LightningCarbonAware(threshold_g_per_kwh=250, provider=provider, tracker=wp_cb,
                                 max_pause_s=3600, total_delay_s=6 * 3600)
    lightning.Trainer(callbacks=[wp_cb, pause]).fit(model)

At each boundary (``every="epoch"`` for Lightning by default, ``"step"`` for Hugging Face),
when the intensity now is above ``threshold_g_per_kwh``, the callback saves a checkpoint
(Lightning: ``trainer.save_checkpoint``; Hugging Face: ``control.should_save``, then waits in
``on_save``) and waits, polling every ``poll_s``, until the intensity falls to
``resume_below_g_per_kwh`` (default the threshold) or ``max_pause_s`` passes, and never more
than ``total_delay_s`` over the run. Each pause is a window ``carbon-aware pause`` of the
footprint (``tracker.window``) and an entry of its ``carbon_aware`` section (``annotate``):
start, duration, intensity at the pause and at the resume, why it ended, the checkpoint,
and the ``signal`` (average or marginal) of the intensity used. Units: gCO2e/kWh, seconds.

The intensity comes from ``intensity`` (a callable returning gCO2e/kWh or ``None``) or from a
forecast ``provider`` (``wattprint.forecast_provider``), fetched in the provider's own thread
(``prefetch``) and read from its cache, so the training thread never waits on the network.
``clock`` (``utc_now()``, ``monotonic()``) and ``sleep`` are injectable (``ManualClock``/``advance``).

Failure modes: a bad setting raises ``wattprint.ConfigError`` when built. No intensity
known (no forecast yet, a failed fetch): no pause (training is never held on missing data).
A failing checkpoint or tracker call is logged and the pause goes on without it; nothing
raises into training.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import time
from typing import Any, Callable, Dict, List, Optional

from wattprint.errors import ConfigError
from wattprint.units import iso_utc

__all__ = ["PauseController", "PAUSE_WINDOW"]  # and, built on first use: LightningCarbonAware, TransformersCarbonAware

logger = logging.getLogger("wattprint")

PAUSE_WINDOW = "carbon-aware pause"
SECTION = "carbon_aware"


class _SystemClock:
    def utc_now(self) -> _dt.datetime:
        return _dt.datetime.now(_dt.timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()


def _positive(name: str, value: Any, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(name, f"must be a number, got {value!r}") from None
    if not (v >= 0 if allow_zero else v > 0) or v != v or v == float("inf"):
        raise ConfigError(name, f"must be {'>= 0' if allow_zero else '> 0'} and finite, got {value!r}")
    return v


class PauseController:
    """The framework-free pause logic shared by both callbacks (see the module docstring)."""

    def __init__(self, threshold_g_per_kwh: float, *, intensity: Optional[Callable[[], Optional[float]]] = None,
                 provider: Any = None, resume_below_g_per_kwh: Optional[float] = None, max_pause_s: float = 3600.0,
                 total_delay_s: float = 6 * 3600.0, poll_s: float = 300.0, tracker: Any = None, plan: Any = None,
                 clock: Any = None, sleep: Optional[Callable[[float], Any]] = None, prefetch_wait_s: float = 5.0) -> None:  # fmt: skip
        self.threshold_g_per_kwh = _positive("threshold_g_per_kwh", threshold_g_per_kwh)
        self.resume_below_g_per_kwh = self.threshold_g_per_kwh if resume_below_g_per_kwh is None else _positive("resume_below_g_per_kwh", resume_below_g_per_kwh)
        if self.resume_below_g_per_kwh > self.threshold_g_per_kwh:
            raise ConfigError("resume_below_g_per_kwh", "must not exceed threshold_g_per_kwh")
        self.max_pause_s = _positive("max_pause_s", max_pause_s)
        self.total_delay_s = _positive("total_delay_s", total_delay_s, allow_zero=True)
        self.poll_s = _positive("poll_s", poll_s)
        if (intensity is None) == (provider is None):
            raise ConfigError("intensity", "give exactly one of intensity= (a callable) or provider= (wattprint.forecast_provider)")
        if intensity is not None and not callable(intensity):
            raise ConfigError("intensity", "must be a callable returning gCO2e/kWh or None")
        self._intensity_fn = intensity
        self.provider = provider
        self.tracker = tracker
        self.plan = plan
        self.clock = clock or _SystemClock()
        self._sleep = sleep or time.sleep
        self._prefetch_wait_s = prefetch_wait_s
        self.pauses: List[Dict[str, Any]] = []
        self.paused_s = 0.0
        self.notes: List[str] = []

    # -- the intensity, off the training thread ---------------------------------------
    def intensity(self) -> Optional[float]:
        try:
            if self._intensity_fn is not None:
                v = self._intensity_fn()
                return None if v is None else float(v)
            self.provider.prefetch()  # idempotent: its own thread, its cache
            self.provider.ready.wait(self._prefetch_wait_s)  # only the first time: bounded
            return self.provider.intensity_at(self.clock.utc_now())  # type: ignore[no-any-return]
        except Exception as err:  # never into training
            logger.warning("wattprint: carbon-aware intensity failed (%s: %s); not pausing", type(err).__name__, err)
            return None

    @property
    def signal(self) -> Optional[str]:
        latest = getattr(self.provider, "latest", None)
        fc = latest() if callable(latest) else None
        return getattr(fc, "signal", None) or ("average" if self.provider is None else None)

    def _tracker(self) -> Any:
        t = self.tracker
        if t is not None and not hasattr(t, "window") and hasattr(t, "dt"):
            t = t.dt  # a WattprintCallback: its (distributed) tracker
        return t if t is not None and getattr(t, "running", False) else None

    # -- the pause ----------------------------------------------------------------------
    def maybe_pause(self, boundary: str, save_checkpoint: Optional[Callable[[], Optional[str]]] = None) -> Optional[Dict[str, Any]]:
        """At a safe point: pause if the intensity is above the threshold (bounded). Never raises."""
        try:
            return self._maybe_pause(boundary, save_checkpoint)
        except Exception as err:
            logger.warning("wattprint: carbon-aware pause failed (%s: %s); training goes on", type(err).__name__, err)
            return None

    def over_threshold(self) -> Optional[float]:
        """The intensity now when it is above the threshold and delay budget is left, else ``None``."""
        v = self.intensity()
        if v is None or v <= self.threshold_g_per_kwh:
            return None
        if self.total_delay_s - self.paused_s <= 0:
            if "total delay budget spent" not in self.notes:
                self.notes.append("total delay budget spent")
                self._annotate()
            return None
        return v

    def _maybe_pause(self, boundary: str, save_checkpoint: Optional[Callable[[], Optional[str]]]) -> Optional[Dict[str, Any]]:
        v = self.over_threshold()
        if v is None:
            return None
        return self.pause(boundary, v, save_checkpoint)

    def pause(self, boundary: str, intensity_g_per_kwh: float, save_checkpoint: Optional[Callable[[], Optional[str]]] = None) -> Dict[str, Any]:
        checkpoint = None
        if save_checkpoint is not None:
            try:
                checkpoint = save_checkpoint()
            except Exception as err:
                logger.warning("wattprint: checkpoint before the carbon-aware pause failed (%s: %s)", type(err).__name__, err)
        budget_s = min(self.max_pause_s, self.total_delay_s - self.paused_s)
        record: Dict[str, Any] = {"boundary": boundary, "start": iso_utc(self.clock.utc_now()), "intensity_at_pause_g_per_kwh": intensity_g_per_kwh,
                                  "checkpoint": os.path.basename(checkpoint) if checkpoint else None}  # fmt: skip
        tracker = self._tracker()
        window = tracker.window(PAUSE_WINDOW) if tracker is not None else None
        t0 = self.clock.monotonic()
        ended, last = "max_pause_s", intensity_g_per_kwh
        if window is not None:
            window.__enter__()
        try:
            while True:
                left_s = budget_s - (self.clock.monotonic() - t0)
                if left_s <= 0:
                    ended = "max_pause_s" if budget_s >= self.max_pause_s else "total_delay_s"
                    break
                self._sleep(min(self.poll_s, left_s))
                now_v = self.intensity()
                if now_v is None:
                    ended = "intensity unknown"
                    break
                last = now_v
                if now_v <= self.resume_below_g_per_kwh:
                    ended = "intensity fell back"
                    break
        finally:
            if window is not None:
                window.__exit__(None, None, None)
        duration_s = self.clock.monotonic() - t0
        self.paused_s += duration_s
        record.update(duration_s=duration_s, intensity_at_resume_g_per_kwh=last, ended_by=ended)
        self.pauses.append(record)
        self._annotate()
        return record

    def close(self) -> None:
        """Stop the provider's refresher thread (at the end of training). Idempotent."""
        close = getattr(self.provider, "close", None)
        if callable(close):
            close()

    def section(self) -> Dict[str, Any]:
        base: Dict[str, Any] = {}
        if self.plan is not None and hasattr(self.plan, "section"):
            base = dict(self.plan.section())
        base.setdefault("decision", "paused" if self.pauses else "not paused")
        base.setdefault("signal", self.signal)
        base["pause"] = {
            "signal": self.signal, "threshold_g_per_kwh": self.threshold_g_per_kwh,
            "resume_below_g_per_kwh": self.resume_below_g_per_kwh, "max_pause_s": self.max_pause_s,
            "total_delay_s": self.total_delay_s, "paused_s": self.paused_s, "pauses": list(self.pauses),
            "window": PAUSE_WINDOW, "notes": list(self.notes),
            "source": getattr(self.provider, "source", None) or ("intensity callable" if self.provider is None else None),
        }  # fmt: skip
        return base

    def _annotate(self) -> None:
        tracker = self._tracker()
        if tracker is not None:
            try:
                tracker.annotate(SECTION, self.section())
            except Exception as err:
                logger.warning("wattprint: carbon_aware section not recorded (%s: %s)", type(err).__name__, err)


def _options(kw: Dict[str, Any], every: str, default: str) -> str:
    every = every or default
    if every not in ("epoch", "step"):
        raise ConfigError("every", f"must be 'epoch' or 'step', got {every!r}")
    return every


def _lightning_class() -> type:
    from lightning.pytorch.callbacks import Callback

    class LightningCarbonAware(Callback):  # type: ignore[misc]
        """Lightning: pause at an epoch (or step) boundary while the grid is above the threshold.

        Args: ``threshold_g_per_kwh`` and the :class:`PauseController` keywords; ``every``
        (``"epoch"`` default, or ``"step"``); ``checkpoint`` (save one before pausing, default on);
        ``checkpoint_dir`` (default ``trainer.default_root_dir``). ``tracker`` may be the
        ``WattprintCallback`` (found among the trainer's callbacks when not given).
        """

        def __init__(self, threshold_g_per_kwh: float, *, every: str = "epoch", checkpoint: bool = True,
                     checkpoint_dir: Optional[str] = None, **kw: Any) -> None:  # fmt: skip
            super().__init__()
            self.every = _options(kw, every, "epoch")
            self.controller = PauseController(threshold_g_per_kwh, **kw)
            self.checkpoint, self.checkpoint_dir = checkpoint, checkpoint_dir

        def _boundary(self, trainer: Any, what: str) -> None:
            c = self.controller
            if c.tracker is None:
                c.tracker = next((cb for cb in trainer.callbacks if hasattr(cb, "dt") and hasattr(cb, "session")), None)

            def save() -> Optional[str]:
                if not self.checkpoint:
                    return None
                folder = self.checkpoint_dir or trainer.default_root_dir
                path = os.path.join(folder, f"carbon-aware-pause-epoch{trainer.current_epoch}-step{trainer.global_step}.ckpt")
                trainer.save_checkpoint(path)
                return path

            c.maybe_pause(f"{what} {trainer.current_epoch if what == 'epoch' else trainer.global_step}", save)

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            if self.every == "epoch":
                self._boundary(trainer, "epoch")

        def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            if self.every == "step":
                self._boundary(trainer, "step")

        def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
            self.controller.close()

    return LightningCarbonAware


def _transformers_class() -> type:
    from transformers import TrainerCallback

    class TransformersCarbonAware(TrainerCallback):  # type: ignore[misc]
        """Hugging Face: pause at a step (or epoch) boundary while the grid is above the threshold.

        The checkpoint is the Trainer's own (``control.should_save``); the wait is in ``on_save``,
        after it is written. Args as :class:`LightningCarbonAware` (``every="step"`` by default);
        ``tracker`` is the ``WattprintCallback`` or a tracker.
        """

        def __init__(self, threshold_g_per_kwh: float, *, every: str = "step", checkpoint: bool = True, **kw: Any) -> None:
            self.every = _options(kw, every, "step")
            self.controller = PauseController(threshold_g_per_kwh, **kw)
            self.checkpoint = checkpoint
            self._pending: Optional[tuple] = None

        def _boundary(self, state: Any, control: Any, what: str) -> None:
            v = self.controller.over_threshold()
            if v is None:
                return
            where = f"{what} {state.global_step if what == 'step' else int(state.epoch or 0)}"
            if self.checkpoint:
                self._pending = (where, v)
                control.should_save = True  # the Trainer saves, then calls on_save: we wait there
            else:
                self.controller.pause(where, v)

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.every == "step":
                self._boundary(state, control, "step")

        def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self.every == "epoch":
                self._boundary(state, control, "epoch")

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.controller.close()

        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self._pending is None:
                return
            where, v = self._pending
            self._pending = None
            ckpt = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
            self.controller.pause(where, v, lambda: ckpt if os.path.isdir(ckpt) else None)

    return TransformersCarbonAware


_BUILT: Dict[str, type] = {}


def __getattr__(name: str) -> Any:  # the framework classes are built on first use (lazy imports)
    makers = {"LightningCarbonAware": _lightning_class, "TransformersCarbonAware": _transformers_class}
    if name not in makers:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if name not in _BUILT:
        _BUILT[name] = makers[name]()
    return _BUILT[name]
