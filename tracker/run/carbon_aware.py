"""Carbon-aware start: pick the greenest start inside a window, wait for it, report the saving.

Units: intensities gCO2e/kWh, energy kWh (the facility energy, IT x PUE, the energy the grid
supplies), emissions gCO2e, durations seconds, times aware UTC.

:func:`plan_start` is the planner: over the forecast, the start ``s`` in
``[now, now + within_s]`` minimising ∫ intensity over ``[s, s + expect_s)``. The forecast is
piecewise constant, so that integral is piecewise linear in ``s`` and its minimum lies where
``s`` or ``s + expect_s`` meets a period boundary (or at ``now``/the deadline): those are the
candidates, all of them tried (exact, not sampled). Ties go to the earliest start.
:func:`wait_for_greener` plans, prints the plan, and sleeps (injectable ``sleep`` and clock)
until the start, with a live status line; the hard deadline always wins (it never sleeps
past ``now + within_s``). :meth:`Plan.section` is the footprint's ``carbon_aware`` section;
:meth:`Plan.finish` adds the realised figures: the measured energy priced with the observed
intensity over the run and over the counterfactual run that started at once (``basis:
observed``) where the provider publishes history, else with the forecast (``basis:
forecast-only``). Every figure carries its ``signal`` (``average`` or ``marginal``).

Failure modes: bad ``within``/``expect`` raise :class:`~wattprint.errors.ConfigError` naming
them. No provider, a failed fetch, a forecast not covering the run from now: the plan is
``run_now`` with the reason; nothing raises. A failed history fetch leaves ``forecast-only``.
"""

from __future__ import annotations

import csv
import datetime as _dt
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, TextIO, Tuple

from wattprint.errors import ConfigError
from wattprint.run.forecast.base import Forecast, ForecastProvider
from wattprint.units import iso_utc, parse_utc

__all__ = ["Plan", "plan_start", "plan_run", "wait_for_greener", "parse_duration", "previous_run", "SECTION"]

SECTION = "carbon_aware"
_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")


def parse_duration(value: Any, setting: str) -> float:
    """Seconds from ``3h``, ``90m``, ``1h30m``, ``45s``, ``2d`` or a number of seconds (> 0)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip().lower().replace(" ", "")
        m = _DURATION.match(text) if text else None
        if text and re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        elif m and any(m.groups()):
            seconds = sum(float(g) * u for g, u in zip(m.groups(), _UNITS.values(), strict=True) if g)
        else:
            raise ConfigError(setting, f"a duration like 12h, 90m, 1h30m or seconds, got {value!r}")
    if not seconds > 0 or seconds == float("inf"):
        raise ConfigError(setting, f"must be a positive duration, got {value!r}")
    return seconds


def plan_start(forecast: Forecast, now: _dt.datetime, within_s: float, expect_s: float) -> Optional[Tuple[_dt.datetime, float, float]]:
    """``(start, mean_now, mean_chosen)``: the start in ``[now, now + within_s]`` minimising the mean
    forecast intensity over ``[start, start + expect_s)``; ``None`` when the forecast does not cover
    ``[now, now + expect_s)``. Candidates whose run outruns the forecast are skipped."""
    mean_now = forecast.mean(now, now + _dt.timedelta(seconds=expect_s))
    if mean_now is None:
        return None
    deadline = now + _dt.timedelta(seconds=within_s)
    run = _dt.timedelta(seconds=expect_s)
    candidates = {now, deadline}
    for start, end, _ in forecast.periods:
        for edge in (start, end):
            candidates.update((edge, edge - run))
    best = (mean_now, now)
    for s in sorted(c for c in candidates if now <= c <= deadline):
        m = forecast.mean(s, s + run)
        if m is not None and m < best[0] - 1e-9:
            best = (m, s)
    return best[1], mean_now, best[0]


def previous_run(output_dir: str, project: Optional[str]) -> Optional[Dict[str, Any]]:
    """The last completed run of ``project`` in ``<output_dir>/runs.csv``: ``run_id``, ``duration_s``,
    ``energy_kwh`` (facility); ``None`` when there is none (or the file is unreadable)."""
    path = os.path.join(output_dir, "runs.csv")
    found: Optional[Dict[str, Any]] = None
    try:
        with open(path, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                if row.get("project") != (project or "default") or row.get("status") != "completed":
                    continue
                try:
                    duration_s = float(row.get("duration_s") or "")
                except ValueError:
                    continue
                energy = row.get("energy.facility_kwh") or ""
                found = {"run_id": row.get("run_id"), "duration_s": duration_s,
                         "energy_kwh": float(energy) if re.fullmatch(r"[0-9.eE+-]+", energy) else None}  # fmt: skip
    except (OSError, csv.Error, UnicodeDecodeError):
        return None
    return found if found and found["duration_s"] > 0 else None


def _pct(saving: Optional[float], base: Optional[float]) -> Optional[float]:
    return None if saving is None or not base else 100.0 * saving / base


@dataclass
class Plan:
    """A carbon-aware start decision (see :meth:`section` for what the footprint records)."""

    decision: str  # "delay" or "run_now"
    reason: str
    decided_at: _dt.datetime
    start_at: _dt.datetime
    within_s: float
    expect_s: Optional[float]
    expect_source: str
    forecast: Optional[Forecast] = None
    mean_now_g_per_kwh: Optional[float] = None
    mean_chosen_g_per_kwh: Optional[float] = None
    energy_kwh: Optional[float] = None  # expected energy (a previous run), for a saving in gCO2e
    energy_basis: Optional[str] = None
    waited_s: float = 0.0
    provider: Optional[ForecastProvider] = field(default=None, repr=False)
    realised: Optional[Dict[str, Any]] = None

    @property
    def signal(self) -> Optional[str]:
        return self.forecast.signal if self.forecast is not None else None

    def expected(self, energy_kwh: Optional[float] = None, basis: Optional[str] = None) -> Optional[Dict[str, Any]]:
        """The expected saving (forecast over the chosen window vs starting now); gCO2e with an energy."""
        if self.mean_now_g_per_kwh is None or self.mean_chosen_g_per_kwh is None:
            return None
        per_kwh = self.mean_now_g_per_kwh - self.mean_chosen_g_per_kwh
        e = self.energy_kwh if energy_kwh is None else energy_kwh
        return {
            "signal": self.signal, "basis": "forecast",
            "intensity_now_g_per_kwh": self.mean_now_g_per_kwh, "intensity_chosen_g_per_kwh": self.mean_chosen_g_per_kwh,
            "saving_g_per_kwh": per_kwh, "saving_pct": _pct(per_kwh, self.mean_now_g_per_kwh),
            "energy_kwh": e, "energy_basis": (basis if energy_kwh is not None else self.energy_basis) if e is not None else None,
            "saving_g": per_kwh * e if e is not None else None,
        }  # fmt: skip

    def section(self) -> Dict[str, Any]:
        """The footprint's ``carbon_aware`` section."""
        out: Dict[str, Any] = {
            "decision": self.decision, "reason": self.reason, "signal": self.signal,
            "decided_at": iso_utc(self.decided_at), "planned_start": iso_utc(self.start_at),
            "within_s": self.within_s, "deadline": iso_utc(self.decided_at + _dt.timedelta(seconds=self.within_s)),
            "expect_s": self.expect_s, "expect_source": self.expect_source, "waited_s": self.waited_s,
            "forecast": self.forecast.describe() if self.forecast is not None else None,
            "expected": self.expected(),
        }  # fmt: skip
        if self.realised is not None:
            out["realised"] = self.realised
            if self.realised.get("energy_kwh") is not None:  # the expected saving priced with the measured energy
                out["expected"] = self.expected(self.realised["energy_kwh"], "measured") or out["expected"]
        return out

    def describe(self) -> str:
        """One paragraph for people: the decision, the start and the expected saving."""
        if self.decision == "run_now" and self.mean_chosen_g_per_kwh is None:
            return f"wattprint: starting now ({self.reason})"
        exp = self.expected() or {}
        when = "now" if self.decision == "run_now" else f"at {iso_utc(self.start_at)} (in {_hm(self.wait_s)})"
        text = (f"wattprint: start {when}: forecast {self.mean_chosen_g_per_kwh:.0f} gCO2e/kWh ({self.signal}) over "
                f"{_hm(self.expect_s or 0)} vs {self.mean_now_g_per_kwh:.0f} starting now: saving "
                f"{exp.get('saving_g_per_kwh', 0):.0f} g/kWh ({exp.get('saving_pct') or 0:.1f} %)")  # fmt: skip
        if exp.get("saving_g") is not None:
            text += f", {exp['saving_g']:.0f} gCO2e for {exp['energy_kwh']:.3g} kWh ({exp['energy_basis']})"
        return text + f"; {self.reason}"

    @property
    def wait_s(self) -> float:
        return max(0.0, (self.start_at - self.decided_at).total_seconds())

    def attach(self, tracker: Any) -> None:
        """Put the section into a tracker's footprint (``tracker.annotate``)."""
        tracker.annotate(SECTION, self.section())

    def finish(self, tracker: Any) -> Dict[str, Any]:
        """Price the run's measured energy so far (call before ``stop()``) and annotate the section."""
        try:
            tracker.sample_now()
            snap = tracker.snapshot()
            self.realised = realise(self, snap.to_dict() if snap is not None else {})
        except Exception as err:  # never lose the footprint over the saving
            self.realised = {"basis": None, "reason": f"{type(err).__name__}: {err}"}
        section = self.section()
        tracker.annotate(SECTION, section)
        return section


def realise(plan: Plan, doc: Dict[str, Any]) -> Dict[str, Any]:
    """The realised figures of a run (footprint ``doc``): measured energy x observed (else forecast) intensity."""
    energy_kwh = (doc.get("energy") or {}).get("facility_kwh")
    started, ended = parse_utc(doc.get("started_at")), parse_utc(doc.get("ended_at"))
    out: Dict[str, Any] = {"signal": plan.signal, "energy_kwh": energy_kwh, "basis": None, "source": None, "reason": None}
    if plan.forecast is None or started is None or ended is None or energy_kwh is None:
        out["reason"] = "no forecast was used" if plan.forecast is None else "the run has no start, end or energy"
        return out
    span = ended - started
    counter = (plan.decided_at, plan.decided_at + span)  # the same run, started at once
    series: Optional[Forecast] = None
    provider = plan.provider
    if provider is not None and provider.has_history:
        hist = provider.history(min(counter[0], started), max(counter[1], ended))
        if hist is not None and hist.signal == plan.signal and hist.mean(started, ended) is not None and hist.mean(*counter) is not None:
            series, out["basis"], out["source"] = hist, "observed", hist.source
        else:
            out["reason"] = provider.reason or "the observed history does not cover the run"
    elif provider is not None:
        out["reason"] = f"{provider.source} publishes no observed history"
    if series is None:
        series, out["basis"], out["source"] = plan.forecast, "forecast-only", plan.forecast.source
    run_i, counter_i = series.mean(started, ended), series.mean(*counter)
    emissions = run_i * energy_kwh if run_i is not None else None
    counter_e = counter_i * energy_kwh if counter_i is not None else None
    saving = counter_e - emissions if emissions is not None and counter_e is not None else None
    out.update(intensity_g_per_kwh=run_i, counterfactual_intensity_g_per_kwh=counter_i, emissions_g=emissions,
               counterfactual_emissions_g=counter_e, saving_g=saving, saving_pct=_pct(saving, counter_e))  # fmt: skip
    if run_i is None or counter_i is None:
        out["reason"] = "the forecast does not cover the whole run"
    return out


def plan_run(provider: Optional[ForecastProvider], *, within: Any, expect: Any = None, project: Optional[str] = None,
             output_dir: Optional[str] = None, now: Optional[_dt.datetime] = None) -> Plan:  # fmt: skip
    """Decide when to start (no waiting). ``expect`` defaults to the last completed run of ``project``.

    Raises:
        ConfigError: a bad ``within`` (``--within``) or ``expect`` (``--expect``).
    """
    within_s = parse_duration(within, "within")
    now = now or _dt.datetime.now(_dt.timezone.utc)
    prev = previous_run(output_dir or "wattprint-runs", project) if output_dir is not None or expect is None else None
    if expect is not None:
        expect_s: Optional[float] = parse_duration(expect, "expect")
        source = "given (--expect)"
    elif prev is not None:
        expect_s, source = prev["duration_s"], f"previous run {prev['run_id']} of project {project or 'default'}"
    else:
        expect_s, source = None, "unknown"
    energy = prev.get("energy_kwh") if prev else None
    plan = Plan("run_now", "", now, now, within_s, expect_s, source, provider=provider,
                energy_kwh=energy, energy_basis=f"previous run {prev['run_id']}" if energy is not None and prev else None)  # fmt: skip
    if provider is None:
        plan.reason = "no forecast provider configured"
        return plan
    if expect_s is None:
        plan.reason = "no expected duration: give --expect, or run the project once first"
        return plan
    forecast = provider.get(now)
    if forecast is None:
        plan.reason = f"no forecast: {provider.reason or 'unavailable'}"
        return plan
    plan.forecast = forecast
    chosen = plan_start(forecast, now, within_s, expect_s)
    if chosen is None:
        plan.reason = f"the forecast ({forecast.describe()['first']} to {forecast.describe()['last']}) does not cover a run starting now"
        return plan
    plan.start_at, plan.mean_now_g_per_kwh, plan.mean_chosen_g_per_kwh = chosen
    if plan.start_at > now:
        plan.decision, plan.reason = "delay", f"the greenest start within {_hm(within_s)} of the {forecast.signal} forecast"
    else:
        plan.reason = f"starting now is already the greenest within {_hm(within_s)}"
    return plan


def _hm(seconds: float) -> str:
    m = int(round(seconds / 60.0))
    return f"{m // 60}h{m % 60:02d}m" if m >= 60 else f"{m}m" if m else f"{seconds:.0f}s"


def wait_for_greener(within: Any = "12h", expect: Any = None, *, provider: Optional[ForecastProvider] = None,
                     forecast_provider: Optional[str] = None, zone: Optional[str] = None, token: Optional[str] = None,
                     url: Optional[str] = None, path: Optional[str] = None, project: Optional[str] = None,
                     output_dir: Optional[str] = None, dry_run: bool = False, clock: Any = None,
                     sleep: Optional[Callable[[float], Any]] = None, stream: Optional[TextIO] = None,
                     poll_s: float = 60.0, env: Optional[Dict[str, str]] = None) -> Plan:  # fmt: skip
    """Wait until the greenest start inside ``within`` for a job of ``expect`` (then return the plan).

    Args:
        within: the hard deadline for the start (``"12h"``, seconds); never waited past.
        expect: the job's expected duration (default: the last completed run of ``project`` in ``output_dir``).
        provider: a ready forecast provider; else one is built from ``forecast_provider``/``zone``/
            ``token``/``url``/``path`` or ``WATTPRINT_FORECAST*`` (none configured: start now, no network).
        dry_run: plan and print, do not wait.
        clock: an object with ``utc_now()`` (default: the system clock); sleep: ``sleep(seconds)``
            (default ``time.sleep``); both injectable (e.g. ``ManualClock`` and its ``advance``).
        stream: where the status line goes (default ``sys.stderr``; a terminal gets it rewritten in place).
        poll_s: how often the status line is refreshed while waiting, seconds.

    Returns:
        The :class:`Plan` (``plan.attach(tracker)`` / ``plan.finish(tracker)`` record it in a footprint).

    Raises:
        ConfigError: a bad ``within``/``expect`` or a bad provider setting.
    """
    if provider is None:
        from wattprint.run.forecast.registry import make_provider

        provider = make_provider(forecast_provider, zone=zone, token=token, url=url, path=path, env=env)
    utc_now: Callable[[], _dt.datetime] = clock.utc_now if clock is not None else (lambda: _dt.datetime.now(_dt.timezone.utc))
    if sleep is None:
        import time

        sleep = time.sleep
    out = stream if stream is not None else sys.stderr
    plan = plan_run(provider, within=within, expect=expect, project=project, output_dir=output_dir, now=utc_now())
    print(plan.describe(), file=out, flush=True)
    if dry_run or plan.decision != "delay":
        return plan
    deadline = plan.decided_at + _dt.timedelta(seconds=plan.within_s)
    target = min(plan.start_at, deadline)  # the hard deadline always wins
    tty = bool(getattr(out, "isatty", lambda: False)())
    last_line = None
    while True:
        now = utc_now()
        left_s = (target - now).total_seconds()
        if left_s <= 0:
            break
        if tty or last_line is None or (now - last_line).total_seconds() >= 1800:
            line = f"wattprint: waiting for a greener grid, starting at {iso_utc(target)} (in {_hm(left_s)})"
            print(("\r" + line) if tty else line, end="" if tty else "\n", file=out, flush=True)
            last_line = now
        sleep(max(0.0, min(poll_s, left_s)))
    if tty:
        print(file=out)
    plan.waited_s = max(0.0, (utc_now() - plan.decided_at).total_seconds())
    return plan


