"""The report's view of a footprint's ``carbon_aware`` section: one table (text and Markdown).

Rows: the decision and why, the forecast used, the expected saving (forecast over the
chosen window vs starting now) and the realised one (measured energy x observed intensity,
or forecast-only), the pauses. Every intensity row names its signal, average or marginal.
Units: gCO2e/kWh and gCO2e (shown with :func:`~wattprint.units.format_carbon`), seconds.

Failure modes: none; a footprint without the section gives no table, a missing figure ``–``.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Optional

from wattprint.report.load import document_of
from wattprint.report.tables import Table
from wattprint.units import as_float, format_carbon, format_duration

__all__ = ["carbon_aware_table"]


def _g(value: Any) -> str:
    v = as_float(value)
    return "–" if v is None else format_carbon(v / 1000.0)


def _pct(value: Any) -> str:
    v = as_float(value)
    return "–" if v is None else f"{v:.1f} %"


def _n(value: Any) -> str:
    v = as_float(value)
    return "–" if v is None else f"{v:.0f}"


def _per_kwh(value: Any) -> str:
    v = as_float(value)
    return "–" if v is None else f"{v:.0f} gCO2e/kWh"


def carbon_aware_table(fp: Any) -> Optional[Table]:
    """The carbon-aware table of ``fp`` (a footprint or its document), ``None`` without the section."""
    ca = document_of(fp).get("carbon_aware")
    if not isinstance(ca, Mapping):
        return None
    rows: List[List[str]] = [["decision", f"{ca.get('decision')}: {ca.get('reason') or ''}".rstrip(": ")]]
    if ca.get("planned_start"):
        rows.append(["start", f"waited {format_duration(as_float(ca.get('waited_s')))}: {ca.get('planned_start')} (deadline {ca.get('deadline')})"])
    fc = ca.get("forecast")
    if isinstance(fc, Mapping):
        rows.append(["forecast", f"{fc.get('signal')}, {fc.get('periods')} periods, zone {fc.get('zone') or '–'}: {fc.get('source')}"])
    exp = ca.get("expected")
    if isinstance(exp, Mapping):
        rows.append([f"expected saving ({exp.get('signal')})",
                     f"{_g(exp.get('saving_g'))} ({_pct(exp.get('saving_pct'))}), forecast: {_n(exp.get('intensity_chosen_g_per_kwh'))} "
                     f"vs {_per_kwh(exp.get('intensity_now_g_per_kwh'))} now"])  # fmt: skip
    real = ca.get("realised")
    if isinstance(real, Mapping) and real.get("basis"):
        rows.append([f"realised saving ({real.get('signal')})",
                     f"{_g(real.get('saving_g'))} ({_pct(real.get('saving_pct'))}), {real.get('basis')}: {_n(real.get('intensity_g_per_kwh'))} "
                     f"vs {_per_kwh(real.get('counterfactual_intensity_g_per_kwh'))} at once"])  # fmt: skip
    elif isinstance(real, Mapping):
        rows.append(["realised saving", f"– ({real.get('reason') or 'unknown'})"])
    pause = ca.get("pause")
    if isinstance(pause, Mapping):
        pauses = pause.get("pauses") or []
        rows.append([f"pauses ({pause.get('signal')})", f"{len(pauses)}, {format_duration(as_float(pause.get('paused_s')))} in all, "
                     f"above {_per_kwh(pause.get('threshold_g_per_kwh'))}"])  # fmt: skip
    return Table("Carbon-aware", ["", "value"], rows, ["l", "l"], ["average and marginal intensities are never mixed in one figure"])
