"""The Tracker: lifecycle, windows, work counts, and the footprint on disk.

Use it as a context manager, a decorator (:func:`track`), or by hand::

    t = Tracker(project="gpt-mini"); t.start(); ...; fp = t.stop()

``start()`` opens the sensors and reads every counter; ``stop()`` reads them
again, builds the :class:`~wattprint.footprint.Footprint`, writes
``<output_dir>/<run_id>.json`` (atomically) and one row of
``<output_dir>/runs.csv``, then hands it to the exporters. Both are idempotent.
A window's energy is the difference of its two edge readings (see :mod:`wattprint.run.lifecycle`).
``step()`` only counts (no sensor read), so it is cheap enough for every step.

Settings are resolved by :class:`wattprint.settings.TrackerSettings`, the
document by :func:`wattprint.footprint.build.assemble`, the files by
:mod:`wattprint.run.outputs`, signals/exit/fork by :mod:`wattprint.run.hooks`.

Failure modes: bad settings raise :class:`~wattprint.errors.ConfigError` in
``__init__``. After that nothing raises into the caller's code: sensor
failures become recorded gaps (status ``partial``), write failures are logged,
exporter failures are logged once with their traceback, listed in
:attr:`Tracker.export_errors` and noted in the footprint's ``notes``. An exception inside ``with`` writes the footprint with status
``failed``; SIGTERM/SIGINT write it with status ``partial`` and then let the
previous handler run; a checkpoint is written every ``checkpoint_interval_s``
so that even SIGKILL leaves a footprint behind.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import math
import os
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from wattprint.engine.clock import SYSTEM_CLOCK, Clock
from wattprint.engine.host import host_info
from wattprint.engine.ledger import Ledger
from wattprint.engine.sampler import Sampler, WaitEvent
from wattprint.engine.sensors.base import Sensor
from wattprint.engine.sensors.discovery import SourceNote, discover
from wattprint.footprint.build import WorkCounts, assemble, check_annotation, status_notes
from wattprint.footprint.hardware import lookup_cpu
from wattprint.footprint.model import SCHEMA_ID, Footprint
from wattprint.run import attribution as run_attribution, hooks, outputs
from wattprint.run import job as job_run, serving_gate  # serving itself loads at the first request
from wattprint.run.decorator import check_settings, track
from wattprint.run.exporting import ExporterRunner, error_notes, finish_all
from wattprint.run.grid_live import resolve_run_factors
from wattprint.run.lifecycle import StopGate, WindowRecorder, exit_status
from wattprint.settings import TrackerSettings, new_run_id
from wattprint.units import iso_utc

__all__ = ["Tracker", "track", "new_run_id", "check_settings"]

logger = logging.getLogger("wattprint")


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
        water_source, task_stage: ``potable|non-potable|recycled|unknown`` and ``training|fine-tuning|inference|development``.
        market_intensity_g_per_kwh, renewable_share: supplier factor or renewable share: market-based scope 2 only.
        requests_log: file name in ``output_dir`` for one JSON line per served request (see :meth:`request`).
        request_retention_s, prefill_token_weight, decode_token_weight: request attribution (:mod:`wattprint.run.requests`).
        job: the job this run is a rank of: ``None`` reads it from the environment (``WATTPRINT_JOB``; :mod:`wattprint.run.job`), ``False`` none, or a :class:`~wattprint.JobContext`.
        attribution, idle_power_w: ``"job"`` (default; ``WATTPRINT_ATTRIBUTION``) puts the job's share of shared GPUs/CPU/RAM in ``energy_j``, ``"node"`` the whole node's; idle watts by id or kind (``WATTPRINT_IDLE_POWER_W``; docs/attribution.md).
        clock, event: injected clock and sampler stop event (tests).
        env: environment mapping to read ``WATTPRINT_*`` from (default ``os.environ``).

    Attributes:
        settings: the resolved :class:`~wattprint.settings.TrackerSettings`.
        footprint: the final footprint, once stopped.

    Raises:
        ConfigError: any setting out of range, naming it.
    """

    def __init__(
        self, project: Optional[str] = None, *, run_id: Optional[str] = None, output_dir: Optional[str] = None,
        save: Optional[bool] = None, region: Optional[str] = None, pue: Optional[float] = None,
        wue_l_per_kwh: Optional[float] = None, ewif_l_per_kwh: Optional[float] = None,
        intensity_g_per_kwh: Optional[float] = None, interval_s: Optional[float] = None,
        power_interval_s: Optional[float] = None, checkpoint_interval_s: Optional[float] = None,
        cpu_tdp_w: Optional[float] = None, powercap_root: Optional[str] = None, gpu: bool = True, cpu: bool = True,
        ram: bool = True, sensors: Optional[Sequence[Sensor]] = None, exporters: Sequence[Any] = (),
        handle_signals: bool = True, max_timeline_points: int = 2048, export_timeout_s: float = 10.0,
        clock: Optional[Clock] = None, event: Optional[WaitEvent] = None, env: Optional[Mapping[str, str]] = None,
        accounting_options: Optional[Mapping[str, Any]] = None, total_steps: Optional[int] = None,
        requests_log: Optional[str] = None,
        request_retention_s: Optional[float] = None,
        prefill_token_weight: Optional[float] = None,
        decode_token_weight: Optional[float] = None,
        job: Any = None,
        attribution: Optional[str] = None,
        idle_power_w: Optional[Mapping[str, float]] = None,
        water_source: Optional[str] = None, task_stage: Optional[str] = None,
        market_intensity_g_per_kwh: Optional[float] = None, renewable_share: Optional[float] = None,
    ) -> None:  # fmt: skip
        settings_args = {k: v for k, v in locals().items() if k not in ("self", "sensors", "clock", "event")}
        self.settings = s = TrackerSettings.resolve(**settings_args)  # every setting is checked here, or raises
        env = os.environ if env is None else env
        self.job = job_run.attach(s, env, job)  # outside a job a no-op; in one: <job>-rank<k>, node parts on local rank 0
        self.settings = s = self.job.settings
        self.project, self.run_id, self.save, self.output_dir = s.project, s.run_id or new_run_id(), s.save, s.output_dir
        self.interval_s, self.power_interval_s, self.checkpoint_interval_s = s.interval_s, s.power_interval_s, s.checkpoint_interval_s
        self.cpu_tdp_w, self.powercap_root, self.handles_signals = s.cpu_tdp_w, s.powercap_root, s.handle_signals
        self.factors = resolve_run_factors(env=env, **s.factor_args)
        self._files = outputs.RunFiles(self.output_dir, self.run_id, self.save)
        self.total_steps: Optional[int] = s.total_steps
        self._given_sensors = list(sensors) if sensors is not None else None
        self._exporters = list(exporters)
        self._clock: Clock = clock or SYSTEM_CLOCK
        self._event, self._env = event, env
        self._lock = threading.RLock()
        self._state = "new"  # new -> running -> stopped
        self._pid = os.getpid()
        self._ledger: Optional[Ledger] = None
        self._sampler: Optional[Sampler] = None
        self._runners: List[ExporterRunner] = []
        self._source_notes: List[SourceNote] = []
        self._sources_doc: Optional[List[Dict[str, Any]]] = None  # the notes as dicts, made once (they never change after start)
        self._started_at: Optional[_dt.datetime] = None
        self._windows = WindowRecorder(lambda: self._work.steps)
        self._stop_gate = StopGate()
        self._work = WorkCounts()
        self._annotations: Dict[str, Any] = self.job.sections()  # job, distributed (empty outside a job)
        self._notes: List[str] = []
        self._last_checkpoint_s = 0.0
        self._interrupted: Optional[str] = None
        self.footprint: Optional[Footprint] = None
        self._requests: Optional[serving_gate.RequestGate] = None

    @property
    def running(self) -> bool:
        return self._state == "running"

    def start(self) -> "Tracker":
        """Open the sensors, read every counter, start the sampler. Idempotent."""
        with self._lock:
            if self._state != "new":
                return self
            s = self.settings
            if self._given_sensors is not None:
                sensors = self._given_sensors
                measured = {id(x): all(c.measured for c in x.components()) for x in sensors}
                self._source_notes = [SourceNote(x.name, "measured" if measured[id(x)] else "estimated", "given by the caller") for x in sensors]
            else:
                sensors, self._source_notes = discover(
                    gpu=s.gpu, cpu=s.cpu, ram=s.ram, powercap_root=s.powercap_root, cpu_tdp_w=s.cpu_tdp_w,
                    power_interval_s=s.power_interval_s, env=self._env, cpu_lookup=lookup_cpu,
                )  # fmt: skip
            self._ledger, self._attributor = run_attribution.open_ledger(sensors, s, self._env, self._clock is not SYSTEM_CLOCK)
            self._started_at = self._clock.utc_now()
            self._last_checkpoint_s = now = self._clock.monotonic()
            self._ledger.start(now)
            self._requests = serving_gate.open_ledger(s, self._ledger, now, self._clock.monotonic, self.factors, self._exporters)
            self._sampler = Sampler(self._ledger, interval_s=self.interval_s, power_interval_s=self.power_interval_s,
                                    on_tick=self._on_tick, clock=self._clock, event=self._event)  # fmt: skip
            self._runners = [ExporterRunner(e) for e in self._exporters]
            _guarded(self.factors.start)  # e.g. live grid intensity, fetched off this thread
            self._state = "running"
            self._sampler.start()
            hooks.register(self)
        return self

    def stop(self, status: Optional[str] = None, reason: Optional[str] = None) -> Optional[Footprint]:
        """Read the counters, build and write the footprint, run the exporters. Idempotent.

        Args:
            status: ``"completed"`` (default), ``"partial"`` or ``"failed"``. The
                status becomes ``partial`` when a sensor gap was recorded or the
                run was interrupted, unless it is ``failed``.
            reason: what interrupted the run (e.g. ``"SIGTERM"``), noted as
                ``"interrupted by <reason>"``; the status is then ``partial`` unless ``failed``.

        Returns:
            The footprint (``None`` in a forked child or when never started).
        """
        if status not in (None, "completed", "partial", "failed"):
            raise ValueError("status must be 'completed', 'partial' or 'failed'")
        with self._lock:
            if reason is not None and self._state != "stopped":
                self._interrupted = str(reason)
            if self._state == "stopped":
                self._stop_gate.wait(self.settings.export_timeout_s + 30.0)  # another thread's stop: its footprint
                return self.footprint
            if self._state == "new" or self._pid != os.getpid():
                self._state = "stopped"
                return None
            self._state = "stopped"
            self._stop_gate.claim()
            hooks.unregister(self)
        assert self._sampler is not None and self._ledger is not None
        self._sampler.stop()
        self._windows.settle()  # the windows' pending edge readings come before the stop reading (bounded)
        now = self._clock.monotonic()
        self._ledger.read(now)
        self._windows.close_open(self._ledger.snapshot(), now)  # a window open at stop is kept, marked open_at_stop
        serving_gate.finish(self._requests, self._ledger, now)
        self._ledger.append_point(now, self._work.steps)
        _guarded(self.factors.stop)
        self.footprint = fp = self._build(now, status or "completed", final=True)
        self._files.write_final(fp)
        finish_all(self._runners, fp, self.settings.export_timeout_s)
        if self.export_errors:  # the exporters' failures go into the footprint's notes, and its file
            self.footprint = fp = self._build(now, status or "completed", final=True)
            if self.save:
                self._files.write_json(fp)
        self._ledger.close()
        self.job.finish(fp, self.factors, self._interrupted)  # the job footprint (self.job.footprint), on the last rank
        self._stop_gate.done()
        return fp

    def __enter__(self) -> "Tracker":
        return self.start()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.stop(*exit_status(exc_type, exc))  # an exception or sys.exit(3): failed; Ctrl-C: partial

    def step(self, n: int = 1, *, samples: Optional[int] = None, tokens: Optional[int] = None, flops: Optional[float] = None) -> None:
        """Count ``n`` steps (and the samples, tokens, FLOPs they did). Reads no sensor; thread-safe."""
        with self._lock:
            self._work.add(n, samples, tokens, flops)

    def window(self, name: str) -> "contextlib.AbstractContextManager[Dict[str, Any]]":
        """Measure a named span; nestable and usable from several threads.

        Yields a dict that is filled, on exit, with ``duration_s``, ``energy_j`` and
        ``components`` (joules per component id). The footprint keeps the last
        :data:`~wattprint.footprint.build.MAX_RAW_WINDOWS` windows and totals per name;
        a window still open at ``stop()`` is closed there and kept (``open_at_stop``).
        """
        return self._windows.measure(self._ledger, self._clock, name, self._state == "running")

    def request(self, tokens_in: Optional[int] = None, model: Optional[str] = None, endpoint: Optional[str] = None) -> Any:
        """A context manager around one served request, yielding its record: set ``tokens_out`` (and
        ``tokens_in``), call ``first_token()`` at the first output token. Reads no sensor; thread-safe."""
        return serving_gate.request(self._requests, self.running, tokens_in, model, endpoint)

    def record_request(self, tokens_in: Optional[int], tokens_out: Optional[int], start_s: float, end_s: float,
                       first_token_s: Optional[float] = None, model: Optional[str] = None, endpoint: Optional[str] = None) -> Any:  # fmt: skip
        """A request timed elsewhere (seconds on this tracker's clock, ``time.monotonic()`` by default); returns its record."""
        return serving_gate.record(self._requests, self.running, tokens_in, tokens_out, start_s, end_s, first_token_s, model, endpoint)

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
        """Add a JSON-serialisable top-level section (e.g. ``distributed``); raises for a core key or a non-JSON value."""
        check_annotation(key, value)  # ValueError / TypeError naming the key (see footprint.build.check_annotation)
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
        """The devices' measured IT energy so far (at the last reading), joules: the node's, read without
        building anything; the job's attributed share is ``snapshot().energy_j``."""
        return sum(self._ledger.energy_since_start_j().values()) if self._ledger is not None else 0.0

    @property
    def steps(self) -> int:
        return self._work.steps

    @property
    def export_errors(self) -> List[str]:
        """Every exporter failure so far, ``"<Exporter> <method>: <Error>: <message>"``, oldest first."""
        return [f"{r.name} {e}" for r in self._runners for e in list(r.errors)]

    def _on_tick(self, now: float) -> None:
        assert self._ledger is not None
        serving_gate.tick(self._requests, self._ledger, now)
        min_gap_s = (self.interval_s if math.isfinite(self.interval_s) else 1.0) * 0.999
        if not self._ledger.append_point(now, self._work.steps, min_gap_s):
            return
        live = [r for r in self._runners if getattr(r.exporter, "on_sample", None) is not None]
        checkpoint_due = self.save and now - self._last_checkpoint_s >= self.checkpoint_interval_s
        if not live and not checkpoint_due:
            return
        # a checkpoint alone needs no timeline copy (the journal drains the ledger); live exporters and a live grid read it
        fp = self._build(now, "partial", final=False, timeline=bool(live) or self.factors.live is not None)
        for runner in live:
            runner.submit_sample(fp)
        if checkpoint_due and self._state == "running":  # never overwrite the final footprint
            self._last_checkpoint_s = now
            self._files.write_checkpoint(fp, self._ledger)  # the document, plus new points onto the timeline journal

    def _build(self, now: float, status: str, final: bool, timeline: bool = True) -> Footprint:
        """The footprint at ``now``; ``timeline=False`` leaves the timeline out (``Footprint.timeline`` is then empty)."""
        ledger = self._ledger
        assert ledger is not None and self._started_at is not None
        duration_s = max(0.0, now - ledger.t0_s)
        gaps = ledger.gap_records(now)
        with self._lock:
            work = self._work.to_dict()
            windows, totals = self._windows.raw(), self._windows.totals()
            annotations, notes = dict(self._annotations), list(self._notes)
        comps = run_attribution.attributed_components(ledger, self._attributor, duration_s, annotations)  # job's shares
        status = status_notes(status, final, gaps, self._interrupted, notes)
        notes += error_notes(self._runners)
        header = {"schema": SCHEMA_ID, "run_id": self.run_id, "project": self.project, "status": status,
                  "started_at": iso_utc(self._started_at), "ended_at": iso_utc(self._started_at + _dt.timedelta(seconds=duration_s)),
                  "duration_s": duration_s, "host": host_info()}  # fmt: skip
        view = ledger.view() if timeline else None  # built into a dict only if someone reads it
        doc = assemble(header, comps, duration_s=duration_s, work=work, factors=self.factors, started_at=self._started_at,
                       timeline=view, windows=windows, window_totals=totals, gaps=gaps, live=self.factors.live_readings(),
                       sources=self._sources(), notes=notes, with_forecast=True,
                       total_steps=None if final else self.total_steps, sections=annotations,
                       inference=self._requests.summary() if self._requests is not None else None)  # fmt: skip
        return Footprint(doc, view)

    def _sources(self) -> List[Dict[str, Any]]:
        """The source notes as dicts, built once (a footprint never mutates its document; accessors copy)."""
        if self._sources_doc is None:
            self._sources_doc = [n.to_dict() for n in self._source_notes]
        return self._sources_doc

    @property
    def json_path(self) -> str:
        return self._files.json_path

    @property
    def csv_path(self) -> str:
        return self._files.csv_path

    def _on_signal(self, name: str) -> None:
        """Stop with status ``partial`` (a signal handler)."""
        self.stop("partial", reason=name)

    def _on_exit(self) -> None:
        with self._lock:
            self._notes.append("stopped at interpreter exit (stop() was not called)")
        self.stop()

    def _after_fork(self) -> None:
        """In a forked child: this run belongs to the parent. Fresh locks (the parent's sampler may have
        held them at fork time); the tracker goes inert (``stop()`` returns ``None``)."""
        self._lock = threading.RLock()
        if self._ledger is not None:
            self._ledger.reinit_after_fork()
        self._state = "stopped"
        self._sampler = None


# -- helpers -------------------------------------------------------------------


def _guarded(fn: Callable[[], None]) -> None:
    """Call ``fn``; a failure (e.g. the live grid's thread) is logged with its traceback, never raised."""
    try:
        fn()
    except Exception:
        logger.exception("wattprint: %s failed; continuing", getattr(fn, "__qualname__", fn))
