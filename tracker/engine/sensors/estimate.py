"""Estimated CPU and RAM power where nothing can be measured.

CPU: ``P = TDP_share × (IDLE_FRACTION + (1 − IDLE_FRACTION) × u)`` with ``u``
the system-wide utilisation since the previous read, and
``TDP_share`` the package TDP scaled to the logical CPUs this machine has
(a VM slice of a large server gets its share). The TDP comes from
``cpu_tdp_w`` when given, else the bundled CPU table by model name, else
``DEFAULT_W_PER_THREAD`` × logical CPUs.

RAM: ``P = W_PER_GB × total GB``.

Both are always marked ``measured=False`` with ±50 % uncertainty. Energy is
integrated exactly for the model (average utilisation over each interval times
its length), so the estimate does not depend on the sampling rate.

Utilisation is ``busy / total`` of the sensor's own ``psutil.cpu_times()``
snapshots (busy excludes idle and iowait; guest time is already inside user),
so it does not depend on which thread reads: psutil's ``cpu_percent`` keeps
its state per thread, and the sampler thread's first value would be 0 %.

Failure modes: when no CPU time has elapsed between two reads (reads closer
than the kernel's tick), the previous utilisation is kept. Opening fails only
if psutil is missing (``ImportError``).
"""

from __future__ import annotations

import os
from typing import Any, Callable, List, Mapping, Optional, Tuple

from wattprint.engine.sensors.base import UNCERTAINTY_ESTIMATE, Component, Sensor

__all__ = ["CpuEstimateSensor", "RamEstimateSensor", "IDLE_FRACTION", "W_PER_GB", "DEFAULT_W_PER_THREAD"]

IDLE_FRACTION = 0.3  # an idle server package draws roughly a third of its TDP
W_PER_GB = 0.375  # about 3 W per 8 GB DDR4/DDR5 module
DEFAULT_W_PER_THREAD = 5.0


class CpuEstimateSensor(Sensor):
    """CPU power from utilisation and a TDP.

    Args:
        cpu_tdp_w: package TDP in watts, overriding the bundled table.
        cpu_lookup: the bundled CPU table's lookup (``wattprint.footprint.hardware.lookup_cpu``);
            without it and without ``cpu_tdp_w`` the TDP is a per-thread default.
        model_name: the CPU model (defaults to /proc/cpuinfo's).
        reason: why this estimate is used (e.g. the RAPL file that was unreadable);
            it is kept in the component's ``info``.
        cpu_times: the system-wide CPU-times source, a callable returning psutil's
            ``scputimes`` shape (fields ``idle``, optional ``iowait``, ``guest``,
            ``guest_nice``; seconds summed over CPUs); ``psutil.cpu_times`` by default.
    """

    name = "estimate.cpu"
    poll_interval_s = 1.0

    def __init__(
        self,
        cpu_tdp_w: Optional[float] = None,
        model_name: Optional[str] = None,
        reason: str = "",
        cpu_lookup: Optional[Callable[[str], Any]] = None,
        cpu_times: Optional[Callable[[], Any]] = None,
    ) -> None:
        import psutil
        from wattprint.engine.host import cpu_model_name

        super().__init__()
        self._cpu_times = psutil.cpu_times if cpu_times is None else cpu_times
        self.model_name = model_name or cpu_model_name()
        logical = psutil.cpu_count(logical=True) or os.cpu_count() or 1
        # the TDP table lives in the footprint layer: the caller hands its lookup in
        # (model name -> spec with tdp_w, threads, model, source; or None)
        spec = cpu_lookup(self.model_name) if cpu_lookup is not None else None
        if cpu_tdp_w is not None:
            self.tdp_w, self.tdp_source = float(cpu_tdp_w), "user (cpu_tdp_w)"
            share = 1.0
        elif spec is not None:
            self.tdp_w, self.tdp_source = spec.tdp_w, f"table: {spec.model} ({spec.source})"
            share = min(1.0, logical / spec.threads) if spec.threads else 1.0
        else:
            self.tdp_w, self.tdp_source = DEFAULT_W_PER_THREAD * logical, f"default {DEFAULT_W_PER_THREAD} W per logical CPU"
            share = 1.0
        self.power_max_w = self.tdp_w * share
        self.reason = reason
        self._energy_j = 0.0
        self._last_t: Optional[float] = None
        self._last_times = _busy_total_s(self._cpu_times())
        self.last_utilisation = 0.0
        self.last_power_w = 0.0  # watts at the latest read

    def power_w(self, utilisation: float) -> float:
        """Modelled power at utilisation ``utilisation`` (0..1), watts."""
        u = min(max(utilisation, 0.0), 1.0)
        return self.power_max_w * (IDLE_FRACTION + (1.0 - IDLE_FRACTION) * u)

    def components(self) -> List[Component]:
        return [
            Component(
                id="cpu",
                kind="cpu",
                name=self.model_name,
                source="estimate.tdp",
                measured=False,
                uncertainty_rel=UNCERTAINTY_ESTIMATE,
                scope="node",
                info={"tdp_w": self.tdp_w, "tdp_source": self.tdp_source, "modelled_max_w": self.power_max_w,
                      "reason": self.reason},
            )
        ]

    def _utilisation(self) -> float:
        """Busy share of CPU time since the previous call (0..1); the previous value when none elapsed."""
        busy_s, total_s = _busy_total_s(self._cpu_times())
        d_busy_s, d_total_s = busy_s - self._last_times[0], total_s - self._last_times[1]
        self._last_times = (busy_s, total_s)
        if d_total_s > 0:
            self.last_utilisation = min(max(d_busy_s / d_total_s, 0.0), 1.0)
        return self.last_utilisation

    def read(self, now_s: float) -> Mapping[str, float]:
        self.last_power_w = self.power_w(self._utilisation())
        if self._last_t is not None and now_s > self._last_t:
            self._energy_j += self.last_power_w * (now_s - self._last_t)
        self._last_t = now_s
        return {"cpu": self._energy_j}


def _busy_total_s(times: Any) -> Tuple[float, float]:
    """``(busy, total)`` seconds of a ``cpu_times()`` result, as psutil's ``cpu_percent`` counts them."""
    total_s = float(sum(times)) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    busy_s = total_s - times.idle - getattr(times, "iowait", 0.0)
    return busy_s, total_s


class RamEstimateSensor(Sensor):
    """RAM power from installed memory: ``W_PER_GB`` × total GB."""

    name = "estimate.ram"
    poll_interval_s = 1.0

    def __init__(self, total_bytes: Optional[int] = None, w_per_gb: float = W_PER_GB) -> None:
        if total_bytes is None:
            import psutil

            total_bytes = int(psutil.virtual_memory().total)
        super().__init__()
        self.total_gb = total_bytes / 1e9
        self.power_w = w_per_gb * self.total_gb
        self.w_per_gb = w_per_gb
        self._t0: Optional[float] = None

    def components(self) -> List[Component]:
        return [
            Component(
                id="ram",
                kind="ram",
                name=f"{self.total_gb:.1f} GB",
                source="estimate.w_per_gb",
                measured=False,
                uncertainty_rel=UNCERTAINTY_ESTIMATE,
                scope="node",
                info={"w_per_gb": self.w_per_gb, "total_gb": round(self.total_gb, 3)},
            )
        ]

    def read(self, now_s: float) -> Mapping[str, float]:
        if self._t0 is None:
            self._t0 = now_s
        return {"ram": self.power_w * (now_s - self._t0)}
