"""One measured training session, shared by the Lightning and Hugging Face callbacks (framework-neutral).

A callback maps its framework's hooks onto a :class:`TrainingSession`::

    begin(make)      -> start a rank-aware tracker (never raises)
    guard(what)      -> count steps, samples, tokens inside it (a failure is logged once per cause)
    open_epoch(name) / close_epoch() -> one window per epoch
    update_totals()  -> the job's energy and carbon so far, summed over ranks (a collective), cached
    finish(status)   -> the resume section, the stop, the gather

The totals are cached at the last point where every rank summed them (an
epoch end, a log step, the end), so a getter such as a checkpoint's
``state_dict()`` answers without a collective: a rank that saves alone never
waits for the others.

Also here: :func:`is_failure` (an exception that means ``failed``, not an
interruption), :class:`WarnOnce` and :func:`cuda_synchronize`.

Failure modes: nothing here raises into training. A failing step is logged with its traceback once per
cause (what failed and the exception type), then counted; the counts are
logged once at :meth:`TrainingSession.finish`.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Type

from wattprint import Footprint
from wattprint.exporters._names import log_name
from wattprint.integrations._collectives import all_reduce_sum
from wattprint.units import J_PER_KWH

if TYPE_CHECKING:
    from wattprint.integrations.distributed import DistributedTracker

__all__ = ["TrainingSession", "SessionAttributes", "Totals", "WarnOnce", "is_failure", "cuda_synchronize"]

logger = logging.getLogger("wattprint")

ENERGY_KWH = log_name("energy.it_kwh")  # "wattprint.energy.it_kwh": one name per figure in every output
CARBON_KG = log_name("carbon.total_kg")  # "wattprint.carbon.total_kg"


def is_failure(exc_type: Optional[Type[BaseException]]) -> bool:
    """Whether an exception of this type means the run failed (``KeyboardInterrupt`` and ``SystemExit`` interrupt it)."""
    return exc_type is not None and not issubclass(exc_type, (KeyboardInterrupt, SystemExit))


def cuda_synchronize() -> None:
    """``torch.cuda.synchronize()`` when CUDA is initialised; nothing otherwise (CPU runs). Never raises."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    try:
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            torch.cuda.synchronize()
    except Exception:  # a sync failure must not break the step
        logger.debug("wattprint: torch.cuda.synchronize() failed", exc_info=True)


class WarnOnce:
    """Logs a failure with its traceback once per cause (what failed, exception type), and counts the repeats.

    Attributes:
        counts: failures per cause, e.g. ``{"counting a step: RuntimeError": 12}``.
    """

    def __init__(self) -> None:
        self.counts: Dict[str, int] = {}

    def failed(self, what: str, exc: BaseException) -> None:
        cause = f"{what}: {type(exc).__name__}"
        self.counts[cause] = self.counts.get(cause, 0) + 1
        if self.counts[cause] == 1:
            logger.warning("wattprint: %s failed; training goes on (further failures of this kind are counted, not logged)",
                           what, exc_info=(type(exc), exc, exc.__traceback__))

    @contextlib.contextmanager
    def guard(self, what: str) -> Iterator[None]:
        """Run the block; an ``Exception`` in it is recorded by :meth:`failed` and swallowed."""
        try:
            yield
        except Exception as exc:
            self.failed(what, exc)

    def log_repeats(self) -> None:
        """One line for the causes that failed more than once."""
        repeats = {cause: n for cause, n in self.counts.items() if n > 1}
        if repeats:
            logger.warning("wattprint: failures during the run: %s", ", ".join(f"{c} ({n} times)" for c, n in repeats.items()))


@dataclass(frozen=True)
class Totals:
    """The job's figures so far: summed over ranks, earlier (resumed) runs included.

    Attributes:
        energy_j: IT energy, joules.
        carbon_kg: carbon, kg CO2e.
        steps: optimizer steps (every rank counts the same global steps, so these are not summed).
    """

    energy_j: float = 0.0
    carbon_kg: float = 0.0
    steps: int = 0


class TrainingSession:
    """A rank-aware tracker driven by a trainer's hooks (see the module docstring).

    Args:
        sync: call ``torch.cuda.synchronize()`` at each epoch edge, so queued GPU work lands in the right epoch.

    Attributes:
        dt: the running (or last) tracker, ``None`` before :meth:`begin` or when it could not start.
        footprint: the last run's footprint (the job footprint on global rank 0).
        previous: totals of the runs before a resume (zero when not resumed).
        resume: the framework's own resume details; empty when not resumed.
        totals: the job totals at the last :meth:`update_totals`.
        warnings: the warn-once record of failed hooks.
    """

    def __init__(self, *, sync: bool = False) -> None:
        self.sync = bool(sync)
        self.dt: Optional["DistributedTracker"] = None
        self.footprint: Optional[Footprint] = None
        self.previous = Totals()
        self.resume: Dict[str, Any] = {}
        self.totals = Totals()
        self.warnings = WarnOnce()
        self._epoch: Optional[Tuple[Any, Dict[str, Any]]] = None

    @property
    def running(self) -> bool:
        return self.dt is not None and self.dt.running

    # -- lifecycle ---------------------------------------------------------------
    def begin(self, make: Callable[[], "DistributedTracker"], section: Tuple[str, Dict[str, Any]]) -> bool:
        """Build (``make()``), annotate and start a tracker; ``False`` (logged) if that fails. Not while running."""
        if self.running:
            return False
        try:
            dt = make()
            dt.annotate(*section)
            dt.start()
        except Exception:
            logger.exception("wattprint: could not start measuring; training goes on without it")
            self.dt = None
            return False
        self.dt = dt
        self.warnings = WarnOnce()
        self.totals = self.previous
        return True

    def plan(self, total_steps: Any) -> None:
        """Give the trainer's planned steps to the tracker unless it has its own (enables the forecast). Never raises."""
        dt = self.dt
        if dt is not None and dt.total_steps is None:
            dt.set_total_steps(total_steps)  # an unknown (inf, 0) plan is ignored

    def restore(self, previous: Totals, resume: Mapping[str, Any]) -> None:
        """Totals of the runs before this one (from a checkpoint), and the framework's resume details."""
        self.previous = previous
        self.resume = dict(resume)
        if not self.running:
            self.totals = previous
        else:  # restored after start (Lightning restores callbacks after setup): add what this run has counted
            t = self.totals
            self.totals = Totals(previous.energy_j + t.energy_j, previous.carbon_kg + t.carbon_kg, previous.steps + t.steps)

    def finish(self, status: Optional[str], *, gather: bool, section: Tuple[str, Dict[str, Any]]) -> Optional[Footprint]:
        """Close the epoch, annotate, stop (gathering the job footprint when ``gather``). Idempotent; never raises.

        With ``gather`` every rank must call it (the totals and the gather are collectives); without it
        (after a failure) a distributed run keeps the totals of the last collective point.
        """
        dt = self.dt
        if dt is None or not dt.running:
            return self.footprint
        try:
            self.close_epoch()
            dt.annotate(*section)
            self.update_totals(collective=gather)
            if self.resumed:
                dt.annotate("resume", self.resume_section())
            self.footprint = dt.stop(status, gather=gather)
        except Exception:
            logger.exception("wattprint: could not finish the footprint")
        self.warnings.log_repeats()
        return self.footprint

    # -- counting and epochs ---------------------------------------------------------
    def guard(self, what: str) -> "contextlib.AbstractContextManager[None]":
        """``with session.guard("counting a batch"): ...``: a failure is logged once per cause, then counted."""
        return self.warnings.guard(what)

    def open_epoch(self, name: str) -> None:
        """Close the open epoch, then open a window called ``name``. Never raises."""
        self.close_epoch()
        dt = self.dt
        if dt is None or not dt.running:
            return
        with self.guard("opening the epoch window"):
            cm = dt.window(name)
            self._epoch = (cm, cm.__enter__())

    def close_epoch(self) -> Optional[Dict[str, Any]]:
        """Close the open epoch window (after a CUDA sync when ``sync``); its record (``energy_j``...) or ``None``."""
        epoch, self._epoch = self._epoch, None
        if self.sync:
            cuda_synchronize()
        if epoch is None:
            return None
        with self.guard("closing the epoch window"):
            epoch[0].__exit__(None, None, None)
        return epoch[1]

    # -- totals --------------------------------------------------------------------
    @property
    def resumed(self) -> bool:
        return bool(self.resume)

    def update_totals(self, extra: Sequence[float] = (), *, collective: bool = True, read: bool = True) -> Optional[List[float]]:
        """Set :attr:`totals` to the job's figures now; returns ``extra`` summed over ranks the same way.

        Args:
            extra: more per-rank figures to sum with the totals (one collective for all).
            collective: may all-reduce. Under a distributed job this is a collective: every rank must
                call it at the same point. With ``False`` a distributed job keeps the cached totals
                (and returns ``None``); a single process needs no collective and is always updated.
            read: read the counters first (``False`` right after an epoch window closed: it just read them).

        Returns ``None`` when nothing was updated (not measuring, or no collective allowed).
        """
        dt = self.dt
        if dt is None or (dt.info.distributed and not collective):
            return None
        if read and dt.running:
            dt.sample_now()
        snap = dt.snapshot()
        carbon_kg = float((snap.get("carbon.total_kg") or 0.0) if snap is not None else 0.0)
        local = [dt.energy_j, carbon_kg, *[float(x) for x in extra]]
        summed = all_reduce_sum(local) if dt.info.distributed else local
        p = self.previous
        self.totals = Totals(p.energy_j + summed[0], p.carbon_kg + summed[1], p.steps + dt.steps)
        return summed[2:]

    def figures(self) -> Dict[str, float]:
        """The cached totals as the logged figures (``wattprint.energy.it_kwh``, ``wattprint.carbon.total_kg``)."""
        return {ENERGY_KWH: self.totals.energy_j / J_PER_KWH, CARBON_KG: self.totals.carbon_kg}

    def resume_section(self) -> Dict[str, Any]:
        """The footprint's ``resume`` section: the framework's details plus previous and cumulative figures."""
        p, t = self.previous, self.totals
        return dict(
            self.resume,
            previous_energy_j=p.energy_j,
            previous_carbon_kg=p.carbon_kg,
            previous_steps=p.steps,
            cumulative_energy_j=t.energy_j,
            cumulative_steps=t.steps,
        )


class SessionAttributes:
    """The attributes a callback shows of its :attr:`session`: ``dt``, ``footprint``, ``sync``."""

    session: TrainingSession
    _given: Any
    _kwargs: Dict[str, Any]

    def _open_session(self, tracker: Any, sync: bool, tracker_kwargs: Mapping[str, Any]) -> None:
        """Keep the given tracker or the arguments for one; check those arguments now (no tracker built)."""
        self.session = TrainingSession(sync=sync)
        self._given = tracker
        self._kwargs = dict(tracker_kwargs)
        if tracker is None:
            from wattprint.integrations.distributed import check_settings

            check_settings(**self._kwargs)

    @property
    def dt(self) -> Optional["DistributedTracker"]:
        """The rank-aware tracker of the current (or last) run."""
        return self.session.dt

    @property
    def footprint(self) -> Optional[Footprint]:
        """The last run's footprint (the job footprint on global rank 0)."""
        return self.session.footprint

    @property
    def sync(self) -> bool:
        """Call ``torch.cuda.synchronize()`` at each epoch edge."""
        return self.session.sync

    @sync.setter
    def sync(self, value: bool) -> None:
        self.session.sync = bool(value)
