"""The one footprint builder: header, components, work, windows, gaps, notes, accounting.

:func:`assemble` is used by the :class:`~wattprint.Tracker` (live, checkpoint
and final footprints), by :func:`wattprint.estimate` and by
:func:`wattprint.footprint.merge.merge_footprints`, so the three documents
share one layout and one accounting call. :class:`WindowLog` keeps a run's
windows bounded: totals per name (``window_totals``) plus the last
:data:`MAX_RAW_WINDOWS` raw windows (``windows``), so memory and build time do
not grow with the run's length.

Energies are joules, durations seconds, power watts.

Failure modes: :func:`assemble` raises what ``account`` raises for impossible
inputs (a programming error); nothing here reads a sensor or a file.
"""

from __future__ import annotations

import collections
import datetime as _dt
import json
import math
import operator
from typing import Any, Deque, Dict, Iterable, List, Mapping, Optional, Sequence

from wattprint.footprint.accounting import account
from wattprint.footprint.inference import inference_section

__all__ = ["MAX_RAW_WINDOWS", "WindowLog", "WorkCounts", "assemble", "component_entry", "forecast", "status_notes"]

MAX_RAW_WINDOWS = 100  # raw windows kept in the footprint; all of them are counted in window_totals


class WindowLog:
    """Windows of a run: totals per name, and the last ``keep`` raw windows. Not thread-safe (the caller locks).

    A window record has ``name``, ``duration_s``, ``energy_j``, ``steps`` and
    ``components`` (joules per component id).
    """

    def __init__(self, keep: int = MAX_RAW_WINDOWS) -> None:
        self._raw: Deque[Dict[str, Any]] = collections.deque(maxlen=keep)
        self._totals: Dict[str, Dict[str, Any]] = {}

    def add(self, record: Mapping[str, Any]) -> None:
        self._raw.append(dict(record))
        name = str(record.get("name"))
        tot = self._totals.get(name)
        if tot is None:
            tot = self._totals[name] = {"name": name, "count": 0, "duration_s": 0.0, "energy_j": 0.0, "steps": 0, "components": {}}
        tot["count"] += 1
        tot["duration_s"] += float(record.get("duration_s") or 0.0)
        tot["energy_j"] += float(record.get("energy_j") or 0.0)
        tot["steps"] += int(record.get("steps") or 0)
        comps = tot["components"]
        for cid, e in (record.get("components") or {}).items():
            comps[cid] = comps.get(cid, 0.0) + float(e)

    def raw(self) -> List[Dict[str, Any]]:
        """Copies of the last raw windows, oldest first."""
        return [dict(w, components=dict(w.get("components") or {})) for w in self._raw]

    def totals(self) -> List[Dict[str, Any]]:
        """Copies of the totals per window name, in order of first appearance."""
        return [dict(t, components=dict(t["components"])) for t in self._totals.values()]

    def __len__(self) -> int:
        return sum(t["count"] for t in self._totals.values())


class WorkCounts:
    """Steps, samples, tokens and FLOPs counted so far. Not thread-safe (the caller locks)."""

    def __init__(self) -> None:
        self.steps = self.samples = self.tokens = 0
        self.flops = 0.0
        self.flops_given = False

    def add(self, steps: int = 1, samples: Optional[int] = None, tokens: Optional[int] = None, flops: Optional[float] = None) -> None:
        """Count work. Raises ``ValueError`` (negative, NaN or infinite) or ``TypeError`` (not a number),
        naming the argument, before anything is counted: such a count would break the footprint."""
        n, k, t = _amount("n", steps), _amount("samples", samples), _amount("tokens", tokens)
        f = _amount("flops", flops, integral=False)
        self.steps += n
        self.samples += k
        self.tokens += t
        if f:
            self.flops += f
            self.flops_given = True

    def to_dict(self) -> Dict[str, Any]:
        """The footprint's ``work`` counts (``flops`` ``None`` when none were counted)."""
        return {"steps": self.steps, "samples": self.samples, "tokens": self.tokens, "flops": self.flops if self.flops_given else None}


def _amount(name: str, value: Any, *, integral: bool = True) -> Any:
    """A work count: ``None`` is 0; ints (numpy's too) as they are; other numbers finite and >= 0."""
    if value is None:
        return 0
    if isinstance(value, bool):
        raise TypeError(f"step(): {name} must be a number, got {value!r}")
    try:
        x: Any = operator.index(value)  # int, numpy integer: exact
    except TypeError:
        x = None
    if x is None:
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"step(): {name} must be a number, got {value!r}") from None
        if not math.isfinite(x):
            raise ValueError(f"step(): {name} must be finite, got {value!r}")
        x = int(x) if integral else x
    if x < 0:
        raise ValueError(f"step(): {name} must be >= 0, got {value!r}")
    return x if integral else float(x)


def component_entry(comp: Any, energy_j: float, duration_s: float, peak_power_w: float,
                    attribution: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:  # fmt: skip
    """The footprint entry of a measured component (an object with the sensor ``Component`` fields).

    ``energy_j`` is what the device or socket drew. With ``attribution`` (an attributor's figures:
    ``energy_j`` the job's share, ``idle_energy_j``, ``method``, ``uncertainty_rel``, ``bounds_j``...)
    the entry's ``energy_j`` is the job's (unless ``method`` is ``node``), ``node_energy_j`` the drawn
    figure, and the uncertainty is widened by the attribution's (docs/attribution.md).
    """
    energy_j = max(0.0, energy_j)
    node_j, u_rel = energy_j, comp.uncertainty_rel
    extra: Dict[str, Any] = {}
    info = dict(comp.info)
    if attribution is not None:
        method = str(attribution.get("method") or "node")
        if method != "node":
            energy_j = max(0.0, min(node_j, float(attribution.get("energy_j") or 0.0)))
            u_rel = max(u_rel, float(attribution.get("uncertainty_rel") or 0.0))
            lo, hi = attribution.get("bounds_j") or (energy_j * (1 - u_rel), energy_j * (1 + u_rel))
        else:
            lo, hi = node_j * max(0.0, 1 - u_rel), node_j * (1 + u_rel)
        extra = {"node_energy_j": node_j, "idle_energy_j": max(0.0, min(energy_j, float(attribution.get("idle_energy_j") or 0.0))),
                 "attribution": method, "bounds_j": [max(0.0, float(lo)), max(float(lo), float(hi))]}  # fmt: skip
        info["attribution"] = {k: v for k, v in attribution.items() if k not in ("energy_j", "node_energy_j", "idle_energy_j",
                                                                                  "method", "bounds_j", "uncertainty_rel")}  # fmt: skip
        if method != "node":
            info["attribution"]["unattributed_j"] = max(0.0, node_j - energy_j)
    return {
        "id": comp.id,
        "kind": comp.kind,
        "name": comp.name,
        "source": comp.source,
        "measured": comp.measured,
        "energy_j": energy_j,
        "mean_power_w": energy_j / duration_s if duration_s > 0 else 0.0,
        "peak_power_w": peak_power_w,
        "uncertainty_rel": u_rel,
        "scope": comp.scope,
        **extra,
        "info": info,
    }


def status_notes(status: str, final: bool, gaps: Sequence[Mapping[str, Any]], interrupted: Optional[str], notes: List[str]) -> str:
    """The run's status after gaps and interruptions (``partial`` unless ``failed``); appends the notes that say why."""
    if final and status != "failed" and (gaps or interrupted):
        status = "partial"
    if interrupted:
        notes.append(f"interrupted by {interrupted}")
    if gaps:
        missing = sorted({str(g["component"]) for g in gaps})
        notes.append(f"energy missing for part of the run on: {', '.join(missing)} (see gaps)")
    return status


def forecast(doc: Mapping[str, Any], duration_s: float, steps: int, total_steps: Optional[int]) -> Optional[Dict[str, Any]]:
    """Linear projection of the final energy, carbon and water from the steps done so far (``None`` when unknown)."""
    if not total_steps or steps <= 0:
        return None
    share = min(1.0, steps / total_steps)
    carbon_kg = (doc.get("carbon") or {}).get("total_kg")
    water_l = (doc.get("water") or {}).get("total_l")
    return {
        "total_steps": total_steps,
        "progress": share,
        "energy_j": doc["energy"]["it_j"] / share,
        "duration_s": duration_s / share,
        "carbon_kg": carbon_kg / share if carbon_kg is not None else None,
        "water_l": water_l / share if water_l is not None else None,
        "method": "linear in steps",
    }


def assemble(
    header: Mapping[str, Any],
    components: Sequence[Dict[str, Any]],
    *,
    duration_s: float,
    work: Dict[str, Any],
    factors: Any,
    started_at: Optional[_dt.datetime] = None,
    timeline: Optional[Mapping[str, Any]] = None,
    live: Any = None,
    windows: Optional[Sequence[Dict[str, Any]]] = None,
    window_totals: Optional[Sequence[Dict[str, Any]]] = None,
    gaps: Optional[Sequence[Dict[str, Any]]] = None,
    sources: Optional[Sequence[Any]] = None,
    notes: Iterable[str] = (),
    with_forecast: bool = False,
    total_steps: Optional[int] = None,
    sections: Optional[Mapping[str, Any]] = None,
    inference: Optional[Mapping[str, Any]] = None,
) -> Dict[str, Any]:
    """A footprint document, in the documented key order.

    Args:
        header: the first keys (``schema``, ``run_id``, ... or an estimate's ``kind``/``inputs``).
        components: the component entries (see :func:`component_entry`).
        duration_s, work, factors, started_at, timeline, live: passed to ``account``.
        windows, window_totals, gaps, sources: their sections; a ``None`` one is left out
            (``window_totals`` is left out when empty, too).
        with_forecast: add ``forecast`` (``None`` unless ``total_steps`` and some steps are known).
        sections: extra top-level sections (annotations), added last.
        inference: a request ledger's raw totals; adds the ``inference`` section (see :mod:`wattprint.footprint.inference`).
    """
    doc: Dict[str, Any] = dict(header)
    doc["components"] = list(components)
    extra: Dict[str, Any] = {"live": live} if live is not None else {}
    doc.update(account(components=doc["components"], duration_s=duration_s, work=work, factors=factors,
                       started_at=started_at, timeline=timeline, **extra))  # fmt: skip
    if with_forecast:
        doc["forecast"] = forecast(doc, duration_s, int(work.get("steps") or 0), total_steps)
    if windows is not None:
        doc["windows"] = list(windows)
    if window_totals:
        doc["window_totals"] = list(window_totals)
    if gaps is not None:
        doc["gaps"] = list(gaps)
    if sources is not None:
        doc["sources"] = list(sources)
    doc["notes"] = list(notes)
    if inference is not None:
        doc["inference"] = inference_section(inference, doc["components"], doc, factors, live)
    for key, value in (sections or {}).items():  # an annotation never replaces what was measured or derived
        if key in doc:
            doc["notes"].append(f"annotation {key!r} ignored: {key!r} is a key the footprint itself writes")
        else:
            doc[key] = value
    return doc


#: Top-level keys the builder writes; :meth:`wattprint.Tracker.annotate` refuses them up front
#: (:func:`assemble` also ignores any annotation whose key the document already has).
CORE_KEYS = frozenset({
    "schema", "run_id", "project", "status", "started_at", "ended_at", "duration_s", "host", "components", "region",
    "region_name", "energy", "factors", "carbon", "water", "work", "bounds", "embodied", "task_stage", "forecast",
    "windows", "window_totals", "gaps", "sources", "notes", "timeline", "inference", "attribution", "kind", "inputs",
})  # fmt: skip


def check_annotation(key: Any, value: Any) -> None:
    """Check a footprint annotation before it is kept (see :meth:`wattprint.Tracker.annotate`).

    Raises:
        ValueError: ``key`` is not a non-empty string, is in :data:`CORE_KEYS`, or ``value`` holds NaN/inf.
        TypeError: ``value`` is not JSON-serialisable (it would otherwise stop the file being written).
    """
    if not isinstance(key, str) or not key:
        raise ValueError(f"annotate: key must be a non-empty string, got {key!r}")
    if key in CORE_KEYS:
        raise ValueError(f"annotate: {key!r} is a key the footprint writes itself; choose another name")
    try:
        json.dumps(value, allow_nan=False)
    except ValueError as err:
        if "ircular" in str(err):
            raise ValueError(f"annotate({key!r}): the value must not contain itself (circular reference)") from None
        raise ValueError(f"annotate({key!r}): the value must be finite JSON (no NaN or infinity): {err}") from None
    except TypeError as err:
        raise TypeError(f"annotate({key!r}): the value must be JSON-serialisable: {err}") from None
