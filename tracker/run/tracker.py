"""The Tracker: lifecycle, windows, work counts, and the footprint on disk.

Use it as a context manager, a decorator (:func:`track`), or by hand::

    t = Tracker(project="gpt-mini"); t.start(); ...; fp = t.stop()

``start()`` opens the sensors and reads every counter; ``stop()`` reads them
again, builds the :class:`~wattprint.footprint.Footprint`, writes
``<output_dir>/<run_id>.json`` (atomically) and one row of
``<output_dir>/runs.csv``, then hands it to the exporters. Both are idempotent.
A window's energy is the difference of two synchronous readings.
``step()`` only counts (no sensor read), so it is cheap enough for every step.

Failure modes: bad settings raise :class:`~wattprint.errors.ConfigError` in
``__init__``. After that nothing raises into the caller's code: sensor
failures become recorded gaps (status ``partial``), write and exporter failures
are logged. An exception inside ``with`` writes the footprint with status
``failed``; SIGTERM/SIGINT write it with status ``partial`` and then let the
previous handler run; a checkpoint is written every ``checkpoint_interval_s``
so that even SIGKILL leaves a footprint behind.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as _dt
import functools
import logging
import math
import os
import signal
import threading
import time
import uuid
import weakref
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    TypeVar,
    overload,
)

from wattprint import _io
from wattprint import settings as config
from wattprint.engine.clock import SYSTEM_CLOCK, Clock
from wattprint.engine.host import host_info
from wattprint.engine.ledger import Ledger
from wattprint.engine.sampler import Sampler, WaitEvent
from wattprint.engine.sensors.base import Sensor
from wattprint.engine.sensors.discovery import SourceNote, discover
from wattprint.errors import WattprintError
from wattprint.footprint.accounting import account
from wattprint.footprint.hardware import lookup_cpu
from wattprint.footprint.model import CSV_FIELDS, SCHEMA_ID, Footprint
from wattprint.run.exporting import ExporterRunner, finish_all
from wattprint.run.grid_live import resolve_run_factors
from wattprint.units import iso_utc

__all__ = ["Tracker", "track", "new_run_id"]

logger = logging.getLogger("wattprint")
F = TypeVar("F", bound=Callable[..., Any])

_ACTIVE: "weakref.WeakSet[Tracker]" = weakref.WeakSet()
_ACTIVE_LOCK = threading.Lock()


class Tracker:
    """Measures one run.

    Args:
        project: a name grouping runs (``WATTPRINT_PROJECT``; default ``"default"``).
        run_id: unique id of this run (default: UTC time plus random hex).
        output_dir: folder for ``<run_id>.json`` and ``runs.csv``
            (``WATTPRINT_OUTPUT_DIR``; default ``./wattprint-runs``).
        save: write the JSON and CSV files (``WATTPRINT_SAVE``; default ``True``).
        region: grid / facility region code (``WATTPRINT_REGION``), e.g. ``"IE"``, ``"US-VA"``, ``"aws:us-east-1"``.
        pue, wue_l_per_kwh, ewif_l_per_kwh, intensity_g_per_kwh: explicit factors.
        interval_s: counter sampling period, seconds, > 0; ``math.inf`` runs no thread (default 1).
        power_interval_s: polling period of power-only sensors, seconds, >= 0.01 (default 0.1).
        checkpoint_interval_s: how often the partial footprint is written, seconds, > 0 or inf (default 60).
        cpu_tdp_w: CPU TDP in watts for the CPU estimate, > 0.
        powercap_root: RAPL sysfs root (``WATTPRINT_POWERCAP_ROOT``).
        gpu, cpu, ram: measure these component families (default all).
        sensors: explicit sensors instead of discovery (e.g. a :class:`ReplaySensor`).
        exporters: objects with ``export(footprint)`` (see :mod:`wattprint.run.exporting`).
        handle_signals: write a ``partial`` footprint on SIGTERM/SIGINT (default ``True``).
        max_timeline_points: bound on the stored timeline (>= 4, default 2048).
        export_timeout_s: how long ``stop()`` waits for each exporter, seconds (default 10).
        total_steps: steps the run will take, if known; live footprints then carry a ``forecast``.
        accounting_options: extra keyword arguments for :func:`wattprint.footprint.accounting.resolve_factors`.
        clock, event: injected clock and sampler stop event (tests).
        env: environment mapping to read ``WATTPRINT_*`` from (default ``os.environ``).

    Raises:
        ConfigError: any setting out of range, naming it.
    """

    def __init__(
        self,
        project: Optional[str] = None,
        *,
        run_id: Optional[str] = None,
        output_dir: Optional[str] = None,
        save: Optional[bool] = None,
        region: Optional[str] = None,
        pue: Optional[float] = None,
        wue_l_per_kwh: Optional[float] = None,
        ewif_l_per_kwh: Optional[float] = None,
        intensity_g_per_kwh: Optional[float] = None,
        interval_s: Optional[float] = None,
        power_interval_s: Optional[float] = None,
        checkpoint_interval_s: Optional[float] = None,
        cpu_tdp_w: Optional[float] = None,
        powercap_root: Optional[str] = None,
        gpu: bool = True,
        cpu: bool = True,
        ram: bool = True,
        sensors: Optional[Sequence[Sensor]] = None,
        exporters: Sequence[Any] = (),
        handle_signals: bool = True,
        max_timeline_points: int = 2048,
        export_timeout_s: float = 10.0,
        clock: Optional[Clock] = None,
        event: Optional[WaitEvent] = None,
        env: Optional[Mapping[str, str]] = None,
        accounting_options: Optional[Mapping[str, Any]] = None,
        total_steps: Optional[int] = None,
    ) -> None:
        env = os.environ if env is None else env
        self.settings = config.TrackerSettings.resolve(
            env=env, project=project, run_id=run_id, output_dir=output_dir, save=save,
            region=region, pue=pue, wue_l_per_kwh=wue_l_per_kwh, ewif_l_per_kwh=ewif_l_per_kwh,
            intensity_g_per_kwh=intensity_g_per_kwh, interval_s=interval_s, power_interval_s=power_interval_s,
            checkpoint_interval_s=checkpoint_interval_s, cpu_tdp_w=cpu_tdp_w, powercap_root=powercap_root,
            gpu=gpu, cpu=cpu, ram=ram, exporters=exporters, handle_signals=handle_signals,
            max_timeline_points=max_timeline_points, export_timeout_s=export_timeout_s,
            accounting_options=accounting_options, total_steps=total_steps,
        )  # fmt: skip
        s = self.settings
        self.project, self.run_id, self.save, self.output_dir = s.project, s.run_id or new_run_id(), s.save, s.output_dir
        self.interval_s, self.power_interval_s, self.checkpoint_interval_s = s.interval_s, s.power_interval_s, s.checkpoint_interval_s
        self.cpu_tdp_w, self.powercap_root = s.cpu_tdp_w, s.powercap_root
        self.factors = resolve_run_factors(env=env, **s.factor_args)
        self.total_steps: Optional[int] = s.total_steps
        self._families = {"gpu": s.gpu, "cpu": s.cpu, "ram": s.ram}
        self._given_sensors = list(sensors) if sensors is not None else None
        self._exporters = list(exporters)
        self._handle_signals = s.handle_signals
        self._max_points = s.max_timeline_points
        self._export_timeout_s = s.export_timeout_s
        self._clock: Clock = clock or SYSTEM_CLOCK
        self._event = event
        self._env = env

        self._lock = threading.RLock()
        self._state = "new"  # new -> running -> stopped
        self._pid = os.getpid()
        self._ledger: Optional[Ledger] = None
        self._sampler: Optional[Sampler] = None
        self._runners: List[ExporterRunner] = []
        self._source_notes: List[SourceNote] = []
        self._baseline: Dict[str, float] = {}
        self._t0 = 0.0
        self._started_at = None
        self._windows: List[Dict[str, Any]] = []
        self._open_windows = 0
        self._steps = 0
        self._samples = 0
        self._tokens = 0
        self._flops = 0.0
        self._flops_given = False
        self._annotations: Dict[str, Any] = {}
        self._notes: List[str] = []
        self._last_timeline_s = -math.inf
        self._last_checkpoint_s = 0.0
        self._interrupted: Optional[str] = None
        self.footprint: Optional[Footprint] = None

    # -- lifecycle ------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._state == "running"

    def start(self) -> "Tracker":
        """Open the sensors, read every counter, start the sampler. Idempotent."""
        with self._lock:
            if self._state != "new":
                return self
            if self._given_sensors is not None:
                sensors = self._given_sensors
                self._source_notes = [
                    SourceNote(s.name, "measured" if all(c.measured for c in s.components()) else "estimated", "given by the caller")
                    for s in sensors
                ]
            else:
                sensors, self._source_notes = discover(
                    gpu=self._families["gpu"],
                    cpu=self._families["cpu"],
                    ram=self._families["ram"],
                    powercap_root=self.powercap_root,
                    cpu_tdp_w=self.cpu_tdp_w,
                    power_interval_s=self.power_interval_s,
                    env=self._env,
                    cpu_lookup=lookup_cpu,
                )
            self._ledger = Ledger(sensors, self._max_points)
            self._t0 = self._clock.monotonic()
            self._started_at = self._clock.utc_now()
            self._ledger.read(self._t0)
            self._baseline = self._ledger.snapshot()
            self._last_checkpoint_s = self._t0
            self._append_timeline(self._t0)
            self._sampler = Sampler(
                self._ledger,
                interval_s=self.interval_s,
                power_interval_s=self.power_interval_s,
                on_tick=self._on_tick,
                clock=self._clock,
                event=self._event,
            )
            self._runners = [ExporterRunner(e) for e in self._exporters]
            _call_optional(self.factors, "start")  # e.g. live grid intensity, fetched off this thread
            self._state = "running"
            self._sampler.start()
            _register(self)
        return self

    def stop(self, status: Optional[str] = None) -> Optional[Footprint]:
        """Read the counters, build and write the footprint, run the exporters. Idempotent.

        Args:
            status: ``"completed"`` (default), ``"partial"`` or ``"failed"``. The
                status becomes ``partial`` when a sensor gap was recorded or the
                run was interrupted by a signal, unless it is ``failed``.

        Returns:
            The footprint (``None`` in a forked child or when never started).
        """
        if status not in (None, "completed", "partial", "failed"):
            raise ValueError("status must be 'completed', 'partial' or 'failed'")
        with self._lock:
            if self._state == "stopped":
                return self.footprint
            if self._state == "new" or self._pid != os.getpid():
                self._state = "stopped"
                return None
            self._state = "stopped"
            _unregister(self)
        assert self._sampler is not None and self._ledger is not None
        self._sampler.stop()
        now = self._clock.monotonic()
        self._ledger.read(now)
        self._append_timeline(now, force=True)
        _call_optional(self.factors, "stop")
        fp = self._build(now, status or "completed", final=True)
        self.footprint = fp
        self._write_files(fp)
        finish_all(self._runners, fp, self._export_timeout_s)
        self._ledger.close()
        return fp

    def __enter__(self) -> "Tracker":
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop("failed" if exc_type is not None and not issubclass(exc_type, (KeyboardInterrupt, SystemExit)) else None)

    # -- work and windows -------------------------------------------------
    def step(self, n: int = 1, *, samples: Optional[int] = None, tokens: Optional[int] = None, flops: Optional[float] = None) -> None:
        """Count ``n`` steps (and the samples, tokens, FLOPs they did). Reads no sensor; thread-safe."""
        with self._lock:
            self._steps += n
            if samples:
                self._samples += samples
            if tokens:
                self._tokens += tokens
            if flops:
                self._flops += flops
                self._flops_given = True

    @contextlib.contextmanager
    def window(self, name: str) -> Iterator[Dict[str, Any]]:
        """Measure a named span; nestable and usable from several threads.

        Yields a dict that is filled, on exit, with ``duration_s``,
        ``energy_j`` and ``components`` (joules per component id).
        """
        if self._state != "running" or self._ledger is None:
            raise WattprintError("window() needs a started tracker: call start() or use `with Tracker():` first")
        ledger = self._ledger
        t_start = self._clock.monotonic()
        ledger.read(t_start)
        before = ledger.snapshot()
        steps_before = self._steps
        record: Dict[str, Any] = {"name": str(name), "start_s": t_start - self._t0}
        with self._lock:
            self._open_windows += 1
            record["depth"] = self._open_windows - 1
        try:
            yield record
        finally:
            t_end = self._clock.monotonic()
            ledger.read(t_end)
            after = ledger.snapshot()
            per = {cid: after[cid] - before[cid] for cid in after}
            record.update(
                duration_s=t_end - t_start,
                energy_j=sum(per.values()),
                components=per,
                steps=self._steps - steps_before,
            )
            with self._lock:
                self._open_windows -= 1
                self._windows.append(record)

    def set_total_steps(self, total_steps: Any) -> bool:
        """Say how many steps the run will take, enabling the ``forecast`` (e.g. from a trainer's plan).

        Returns ``True`` if accepted; a value that is not a positive finite number is ignored
        (``False``), since a trainer's plan may legitimately be unknown (infinite).
        """
        try:
            n = float(total_steps)
        except (TypeError, ValueError):
            return False
        if not math.isfinite(n) or n < 1:
            return False
        self.total_steps = int(n)
        return True

    def annotate(self, key: str, value: Any) -> None:
        """Add a JSON-serialisable top-level section to the footprint (e.g. ``distributed``)."""
        with self._lock:
            self._annotations[key] = value

    def sample_now(self) -> None:
        """Read every sensor now (outside the sampler's schedule). Never raises."""
        if self._sampler is not None and self._state == "running":
            self._sampler.tick(force=True)

    def snapshot(self) -> Optional[Footprint]:
        """A partial footprint of the run so far, without reading sensors or writing files."""
        if self._ledger is None or self._state != "running":
            return self.footprint
        return self._build(self._clock.monotonic(), "partial", final=False)

    @property
    def energy_j(self) -> float:
        """IT energy so far (at the last reading), joules."""
        if self._ledger is None:
            return 0.0
        snap = self._ledger.snapshot()
        return sum(snap[c] - self._baseline.get(c, 0.0) for c in snap)

    @property
    def steps(self) -> int:
        return self._steps

    # -- sampler hook -------------------------------------------------------
    def _on_tick(self, now: float) -> None:
        if not self._append_timeline(now):
            return
        live = [r for r in self._runners if getattr(r.exporter, "on_sample", None) is not None]
        checkpoint_due = self.save and now - self._last_checkpoint_s >= (self.checkpoint_interval_s or math.inf)
        if not live and not checkpoint_due:
            return
        fp = self._build(now, "partial", final=False)
        for runner in live:
            runner.submit_sample(fp)
        if checkpoint_due and self._state == "running":  # never overwrite the final footprint
            self._last_checkpoint_s = now
            self._write_json(fp)

    def _append_timeline(self, now: float, force: bool = False) -> bool:
        assert self._ledger is not None
        if not force and now - self._last_timeline_s < (self.interval_s if math.isfinite(self.interval_s or 1) else 1.0) * 0.999:
            return False
        self._last_timeline_s = now
        snap = self._ledger.snapshot()
        self._ledger.timeline.append(now - self._t0, self._steps, [snap[c] - self._baseline.get(c, 0.0) for c in self._ledger.ids])
        return True

    # -- the footprint --------------------------------------------------------
    def _build(self, now: float, status: str, final: bool) -> Footprint:
        ledger = self._ledger
        assert ledger is not None and self._started_at is not None
        duration_s = max(0.0, now - self._t0)
        snap = ledger.snapshot()
        comps: List[Dict[str, Any]] = []
        for comp in ledger.components:
            e = max(0.0, snap[comp.id] - self._baseline.get(comp.id, 0.0))
            comps.append(
                {
                    "id": comp.id,
                    "kind": comp.kind,
                    "name": comp.name,
                    "source": comp.source,
                    "measured": comp.measured,
                    "energy_j": e,
                    "mean_power_w": e / duration_s if duration_s > 0 else 0.0,
                    "peak_power_w": ledger.peak_power_w.get(comp.id, 0.0),
                    "uncertainty_rel": comp.uncertainty_rel,
                    "scope": comp.scope,
                    "info": dict(comp.info),
                }
            )
        gaps = [
            {
                "component": g.component_id,
                "start_s": max(0.0, g.start_s - self._t0),
                "end_s": max(0.0, g.end_s - self._t0),
                "duration_s": max(0.0, g.end_s - g.start_s),
                "reason": g.reason,
            }
            for g in ledger.all_gaps(now)
        ]
        with self._lock:
            work = {
                "steps": self._steps,
                "samples": self._samples,
                "tokens": self._tokens,
                "flops": self._flops if self._flops_given else None,
            }
            windows = [dict(w) for w in self._windows]
            annotations = dict(self._annotations)
            notes = list(self._notes)
        if final and status != "failed" and (gaps or self._interrupted):
            status = "partial"
        if self._interrupted:
            notes.append(f"interrupted by {self._interrupted}")
        if gaps:
            missing = sorted({g["component"] for g in gaps})
            notes.append(f"energy missing for part of the run on: {', '.join(missing)} (see gaps)")
        ended_at = self._started_at + _dt.timedelta(seconds=duration_s)
        doc: Dict[str, Any] = {
            "schema": SCHEMA_ID,
            "run_id": self.run_id,
            "project": self.project,
            "status": status,
            "started_at": iso_utc(self._started_at),
            "ended_at": iso_utc(ended_at),
            "duration_s": duration_s,
            "host": host_info(),
            "components": comps,
        }
        timeline = ledger.timeline.view()  # built into a dict only if someone reads it
        acc = account(
            components=comps,
            duration_s=duration_s,
            work=work,
            factors=self.factors,
            started_at=self._started_at,
            timeline=timeline,
        )
        doc.update(acc)
        doc["forecast"] = self._forecast(doc, duration_s, work["steps"], final)
        doc["windows"] = windows
        doc["gaps"] = gaps
        doc["sources"] = [n.to_dict() for n in self._source_notes]
        doc["notes"] = notes
        doc.update(annotations)
        return Footprint(doc, timeline)

    def _forecast(self, doc: Dict[str, Any], duration_s: float, steps: int, final: bool) -> Optional[Dict[str, Any]]:
        """Linear projection of the final energy, carbon and water from the steps done so far (``None`` when unknown)."""
        total = self.total_steps
        if final or not total or steps <= 0:
            return None
        share = min(1.0, steps / total)
        carbon_kg = (doc.get("carbon") or {}).get("total_kg")
        water_l = (doc.get("water") or {}).get("total_l")
        return {
            "total_steps": total,
            "progress": share,
            "energy_j": doc["energy"]["it_j"] / share,
            "duration_s": duration_s / share,
            "carbon_kg": carbon_kg / share if carbon_kg is not None else None,
            "water_l": water_l / share if water_l is not None else None,
            "method": "linear in steps",
        }

    # -- files -----------------------------------------------------------------
    @property
    def json_path(self) -> str:
        return os.path.join(self.output_dir, f"{self.run_id}.json")

    @property
    def csv_path(self) -> str:
        return os.path.join(self.output_dir, "runs.csv")

    def _write_json(self, fp: Footprint) -> bool:
        try:
            fp.save(self.json_path)
            return True
        except Exception as err:
            logger.error("wattprint: could not write %s (%s); the footprint is still returned by stop()", self.json_path, err)
            return False

    def _write_files(self, fp: Footprint) -> None:
        if not self.save:
            return
        self._write_json(fp)  # the JSON footprint is written first
        try:
            _io.append_csv_row(self.csv_path, CSV_FIELDS, fp.csv_row())
        except Exception as err:
            logger.error("wattprint: could not append to %s (%s)", self.csv_path, err)

    # -- interruption ------------------------------------------------------------
    def _interrupt(self, reason: str) -> None:
        """Stop with status ``partial`` (from a signal handler or at exit)."""
        self._interrupted = reason
        try:
            self.stop("partial")
        except Exception:
            logger.exception("wattprint: could not write the footprint on %s", reason)

    def _forked(self) -> None:
        """In a forked child: this tracker belongs to the parent; do nothing here."""
        self._state = "stopped"
        self._sampler = None


# -- helpers -------------------------------------------------------------------


def _call_optional(obj: Any, method: str) -> None:
    fn = getattr(obj, method, None)
    if callable(fn):
        try:
            fn()
        except Exception:
            logger.exception("wattprint: %s.%s failed; continuing", type(obj).__name__, method)


def new_run_id() -> str:
    """A new run id: UTC time to the second plus 8 random hex digits, e.g. ``20261128T151100Z-1a2b3c4d``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]


# -- process-wide hooks: signals, exit, fork ------------------------------------

_prev_handlers: Dict[int, Any] = {}
_our_handler_installed = False


def _signal_handler(signum: int, frame: Any) -> None:
    name = signal.Signals(signum).name
    prev = _prev_handlers.get(signum, signal.SIG_DFL)  # before stop() restores the handlers
    for t in list(_ACTIVE):
        if t._handle_signals:
            t._interrupt(name)
    if callable(prev):
        prev(signum, frame)
    elif prev == signal.SIG_DFL:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    # SIG_IGN: the signal was being ignored; keep ignoring it.


def _install_signals() -> None:
    global _our_handler_installed
    if _our_handler_installed or threading.current_thread() is not threading.main_thread():
        return
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            _prev_handlers[sig] = signal.getsignal(sig)
            signal.signal(sig, _signal_handler)
        _our_handler_installed = True
    except (ValueError, OSError):  # not the main interpreter, or signals unavailable
        pass


def _restore_signals() -> None:
    global _our_handler_installed
    if not _our_handler_installed or threading.current_thread() is not threading.main_thread():
        return
    for sig, prev in _prev_handlers.items():
        try:
            if signal.getsignal(sig) is _signal_handler:
                signal.signal(sig, prev if prev is not None else signal.SIG_DFL)
        except (ValueError, OSError):
            pass
    _prev_handlers.clear()
    _our_handler_installed = False


def _register(t: Tracker) -> None:
    with _ACTIVE_LOCK:
        _ACTIVE.add(t)
        if t._handle_signals:
            _install_signals()


def _unregister(t: Tracker) -> None:
    with _ACTIVE_LOCK:
        _ACTIVE.discard(t)
        if not any(x._handle_signals for x in _ACTIVE):
            _restore_signals()


@atexit.register
def _at_exit() -> None:
    for t in list(_ACTIVE):
        t._notes.append("stopped at interpreter exit (stop() was not called)")
        try:
            t.stop()
        except Exception:
            logger.exception("wattprint: could not write the footprint at exit")


def _after_fork_in_child() -> None:
    global _our_handler_installed
    for t in list(_ACTIVE):
        t._forked()
    _ACTIVE.clear()
    _our_handler_installed = False
    _prev_handlers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def check_settings(*, env: Optional[Mapping[str, str]] = None, **tracker_kwargs: Any) -> config.TrackerSettings:
    """Check a :class:`Tracker`'s keyword arguments, factors included, without building one.

    Raises:
        ConfigError: a setting out of range, naming it. TypeError: an unknown keyword.
    """
    settings = config.TrackerSettings.resolve(env=env, **tracker_kwargs)
    resolve_run_factors(env=os.environ if env is None else env, **settings.factor_args)
    return settings


# -- decorator ---------------------------------------------------------------------


@overload
def track(fn: F) -> F: ...


@overload
def track(fn: None = None, **kwargs: Any) -> Callable[[F], F]: ...


def track(fn: Optional[F] = None, **kwargs: Any) -> Any:
    """Track each call of a function: ``@track`` or ``@track(region="US-VA", ...)``.

    Each call gets a fresh :class:`Tracker` built with ``kwargs`` (settings are
    checked once, when decorating). The last call's footprint is on
    ``wrapper.footprint``.
    """
    check_settings(**kwargs)  # check the settings now, at decoration time

    def decorate(func: F) -> F:
        def _wrapper_tracked(*args: Any, **kw: Any) -> Any:
            tracker = Tracker(**kwargs)
            try:
                with tracker:
                    return func(*args, **kw)
            finally:
                _wrapper_tracked.footprint = tracker.footprint  # type: ignore[attr-defined]

        functools.update_wrapper(_wrapper_tracked, func)
        _wrapper_tracked.footprint = None  # type: ignore[attr-defined]
        return _wrapper_tracked  # type: ignore[return-value]

    return decorate(fn) if fn is not None else decorate
