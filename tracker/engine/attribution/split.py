"""One component's attributed energy: the per-interval split, kept as a few running sums.

For each interval ``k`` (length ``Δt_k`` s, node energy ``ΔE_k`` J) the attributor gives the
job's usage share ``s_k`` (CPU time, SM utilisation, resident memory...) and its idle share
``r_k`` (what it reserved, else ``s_k``). With the component's idle power ``P`` (watts)::

    idle_k     = P·Δt_k                      (static power, the node's)
    job_k      = s_k·(ΔE_k − idle_k) + r_k·idle_k
    unattr_k   = ΔE_k − job_k                (the OS, other jobs, or nobody)

so ``job_k + unattr_k = ΔE_k`` exactly, for every ``P``. Summed over the run the job's energy
is linear in ``P``: ``Σ job_k = A + P·(C − B)`` with ``A = Σ s_k·ΔE_k``, ``B = Σ s_k·Δt_k``,
``C = Σ r_k·Δt_k``. That lets ``P`` be the *lowest power seen over the whole run* (or a
configured idle power, whichever is lower) when the figures are read, not only the lowest
seen so far. ``P`` never exceeds any long interval's mean power, so no interval's idle part
exceeds its energy.

Bounds on the job's energy: its figure for ``P`` anywhere in ``[0, P]`` (the idle baseline is
uncertain), widened by the methods' own relative uncertainty (energy-weighted), then by the
measurement's.

Failure modes: none raise; ``add`` clamps shares to ``[0, 1]`` and ignores non-positive
intervals; a run with no interval reports zeros.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional

__all__ = ["ComponentAccount", "METHOD_UNCERTAINTY", "BASELINE_MIN_INTERVAL_S"]

#: relative uncertainty (±) that each attribution method adds to the job's share.
METHOD_UNCERTAINTY = {
    "exclusive": 0.0,
    "node": 0.0,
    "cgroup": 0.05,
    "process-share": 0.10,
    "sm-share": 0.10,
    "mig-slice": 0.20,
    "equal-split": 0.50,
}
BASELINE_MIN_INTERVAL_S = 0.5  # the lowest power is judged over intervals at least this long (when there are any)


def _clamp01(x: float) -> float:
    return 0.0 if not x > 0 else (1.0 if x > 1 else float(x))


class ComponentAccount:
    """Running sums of one component's split. Not thread-safe (the attributor locks).

    Args:
        idle_w: a configured (or modelled) idle power, watts; ``None`` means "lowest seen".
        idle_source: where ``idle_w`` comes from, for the footprint (``"configured"``, ``"model"``).
    """

    __slots__ = ("idle_w", "idle_source", "e_j", "a_j", "b_s", "c_s", "t_s", "min_w", "min_w_short", "methods_j",
                 "u_weighted_j", "used", "notes")  # fmt: skip

    def __init__(self, idle_w: Optional[float] = None, idle_source: str = "lowest seen") -> None:
        self.idle_w = idle_w
        self.idle_source = idle_source if idle_w is not None else "lowest seen"
        self.e_j = self.a_j = self.b_s = self.c_s = self.t_s = 0.0
        self.min_w = math.inf  # over intervals >= BASELINE_MIN_INTERVAL_S
        self.min_w_short = math.inf  # over all intervals
        self.methods_j: Dict[str, float] = {}
        self.u_weighted_j = 0.0
        self.used = False
        self.notes: set = set()

    def add(self, delta_j: float, dt_s: float, share: float, reserved: Optional[float], method: str,
            u_rel: Optional[float] = None) -> None:  # fmt: skip
        """One interval: node energy ``delta_j`` over ``dt_s``; job's usage ``share`` and idle share ``reserved``
        (``None``: the usage share)."""
        if not dt_s > 0 or not delta_j < math.inf:  # also false for NaN
            return
        if delta_j < 0.0:
            delta_j = 0.0
        if share == 1.0 and reserved is None:  # the job's whole (exclusive, node): no clamping; x * 1.0 is x exactly
            s = r = 1.0
        else:
            s = _clamp01(share)
            r = s if reserved is None else _clamp01(reserved)
        self.e_j += delta_j
        self.a_j += s * delta_j
        self.b_s += s * dt_s
        self.c_s += r * dt_s
        self.t_s += dt_s
        power_w = delta_j / dt_s
        if power_w < self.min_w_short:
            self.min_w_short = power_w
        if dt_s >= BASELINE_MIN_INTERVAL_S and power_w < self.min_w:
            self.min_w = power_w
        methods = self.methods_j
        methods[method] = methods.get(method, 0.0) + delta_j
        u = METHOD_UNCERTAINTY.get(method, 0.1) if u_rel is None else u_rel
        if u:
            self.u_weighted_j += u * (s if s > r else r) * delta_j
        if s > 0 or r > 0:
            self.used = True

    def idle_power_w(self) -> float:
        """The idle power used: the configured one, capped at the lowest level seen."""
        seen = self.min_w if math.isfinite(self.min_w) else self.min_w_short
        if not math.isfinite(seen):
            seen = 0.0
        return seen if self.idle_w is None else min(self.idle_w, seen)

    def job_j(self, idle_w: float) -> float:
        return min(self.e_j, max(0.0, self.a_j + idle_w * (self.c_s - self.b_s)))

    def method(self) -> str:
        """The method that split the most node energy (``exclusive`` before any interval)."""
        if not self.methods_j:
            return "exclusive"
        return max(self.methods_j.items(), key=lambda kv: kv[1])[0]

    def figures(self, u_measured: float) -> Dict[str, Any]:
        """The job's figures: ``energy_j``, ``node_energy_j``, ``idle_energy_j``, ``unattributed_j``, bounds..."""
        p = self.idle_power_w()
        job = self.job_j(p)
        base_lo, base_hi = sorted((self.job_j(0.0), job))
        u_attr = self.u_weighted_j / max(job, 1e-12) if job > 0 else 0.0
        u_attr = min(u_attr, 1.0)
        lo = max(0.0, base_lo * (1.0 - u_attr)) * max(0.0, 1.0 - u_measured)
        hi = min(self.e_j, base_hi * (1.0 + u_attr)) * (1.0 + u_measured)
        u_total = max(hi / job - 1.0, 1.0 - lo / job) if job > 0 else u_measured
        return {
            "energy_j": job,
            "node_energy_j": self.e_j,
            "idle_energy_j": min(job, p * self.c_s),
            "node_idle_energy_j": min(self.e_j, p * self.t_s),
            "unattributed_j": self.e_j - job,
            "share": job / self.e_j if self.e_j > 0 else (1.0 if not self.methods_j else 0.0),
            "idle_power_w": p,
            "idle_source": self.idle_source,
            "method": self.method(),
            "methods_j": dict(self.methods_j),
            "uncertainty_rel": max(u_total, u_measured),
            "attribution_uncertainty_rel": u_attr,
            "bounds_j": [lo, max(hi, lo)],
            "used": self.used,
            "notes": sorted(self.notes),
        }
