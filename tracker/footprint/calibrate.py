"""Calibrate a plan with a measured run: scale its J/token (or J/step) to the planned work.

Units: J, kWh, tokens, steps.

``from_run(run, tokens=D)`` reads a footprint (a run's JSON file or its dict), takes its
measured IT energy per token (``work.j_per_token``; with ``steps=`` its ``work.j_per_step``)
and returns the planned IT energy ``J/token x D``, with the measured run's own relative
bounds (``bounds["work.j_per_token"]``) carried over, plus the run's region and hardware so
the plan is priced where the pilot ran unless told otherwise. The pilot replaces the TDP guess.

Scaling assumes the planned run uses the same model, hardware and batch shape as the pilot
(energy per token is then about constant); a larger model or another accelerator needs its
own pilot.

Failure modes: a missing or unreadable file, a document without the needed per-unit figure
or an input missing raise :class:`~wattprint.errors.ConfigError` naming ``from_run``,
``tokens`` or ``steps``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Union

from wattprint.errors import ConfigError

__all__ = ["Calibration", "from_run"]


@dataclass(frozen=True)
class Calibration:
    """A measured rate scaled to a plan: IT energy (J) with relative low/high, and where it came from."""

    it_j: float
    low_rel: float
    high_rel: float
    unit: str  # "token" or "step"
    j_per_unit: float
    count: float
    region: Optional[str]
    run_id: Optional[str]
    hardware: Optional[str]


def _load(run: Union[str, "os.PathLike[str]", Mapping[str, Any]]) -> Dict[str, Any]:
    if isinstance(run, Mapping):
        return dict(run)
    try:
        with open(os.fspath(run), encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as err:
        raise ConfigError("from_run", f"cannot read the measured run {os.fspath(run)!r}: {err}") from None
    if not isinstance(doc, dict):
        raise ConfigError("from_run", "the measured run is not a footprint document (a JSON object)")
    return doc


def from_run(run: Any, *, tokens: Optional[float] = None, steps: Optional[float] = None) -> Calibration:
    """Scale a measured run's J/token (``tokens``) or J/step (``steps``) to a planned count."""
    doc = _load(run)
    if (tokens is None) == (steps is None):
        raise ConfigError("tokens", "calibrating from a run needs the planned tokens (or steps instead), one of them")
    unit, count = ("token", tokens) if tokens is not None else ("step", steps)
    work = doc.get("work") or {}
    rate = work.get(f"j_per_{unit}")
    if not isinstance(rate, (int, float)) or rate <= 0:
        done = work.get(f"{unit}s")
        raise ConfigError(
            "from_run", f"the measured run has no J/{unit} (it counted {done or 0} {unit}s); "
            f"count {unit}s in the pilot (tracker.step(tokens=...)) or plan by {'steps' if unit == 'token' else 'tokens'}"
        )
    lo_hi = (doc.get("bounds") or {}).get(f"work.j_per_{unit}") or [rate, rate]
    low_rel = max(0.0, 1.0 - float(lo_hi[0]) / rate)
    high_rel = max(0.0, float(lo_hi[1]) / rate - 1.0)
    gpus = [c.get("name") for c in doc.get("components") or [] if c.get("kind") == "gpu"]
    return Calibration(
        it_j=float(rate) * float(count or 0.0), low_rel=low_rel, high_rel=high_rel, unit=unit, j_per_unit=float(rate),
        count=float(count or 0.0), region=doc.get("region") if isinstance(doc.get("region"), str) else None,
        run_id=doc.get("run_id"), hardware=", ".join(str(g) for g in gpus) or None,
    )
