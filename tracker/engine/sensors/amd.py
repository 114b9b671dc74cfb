"""AMD GPU energy through ``amdsmi`` (ROCm ≥ 6), when it is installed.

Per GPU, the best source the device has is chosen once at open:

1. ``amdsmi_get_energy_count``: a 64-bit accumulator times its
   ``counter_resolution`` (µJ, about 15.3 µJ per tick). Exact energy as a
   counter difference; source ``amdsmi.energy_count``.
2. ``amdsmi_get_power_info``: ``current_socket_power`` (W), else
   ``average_socket_power``, polled and integrated; source ``amdsmi.power``.

Visible devices: ``HIP_VISIBLE_DEVICES``, else ``ROCR_VISIBLE_DEVICES``, else
``CUDA_VISIBLE_DEVICES`` (indices only), taken as positions in amdsmi's
device order (PCI order; HIP's order can differ on some MI300-series systems:
check ``wattprint sensors``). Known hardware quirk: on MI250/MI250X the odd
GCDs report no power and the even one reports both dies.

Errors are translated once in :func:`amd_call`: ``NOT_SUPPORTED`` →
:class:`SensorNotSupported`, no permission → :class:`SensorPermissionError`,
library or driver missing → :class:`SensorUnavailable`, else :class:`SensorError`.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, TypeVar

from wattprint.engine.counters import EnergyCounter
from wattprint.engine.sensors.base import (
    UNCERTAINTY_COUNTER,
    UNCERTAINTY_POLLED,
    Component,
    PowerIntegrator,
    Sensor,
)
from wattprint.errors import (
    SensorError,
    SensorNotSupported,
    SensorPermissionError,
    SensorUnavailable,
)

__all__ = ["AmdSensor", "amd_call"]

T = TypeVar("T")
_NOT_SUPPORTED = 2
_NO_PERM = 10
_INIT_ERROR = 18
_DRIVER_NOT_LOADED = 34


def amd_call(fn: Callable[..., T], *args: Any) -> T:
    """Call an amdsmi function, translating its exceptions into wattprint's."""
    try:
        return fn(*args)
    except SensorError:
        raise
    except Exception as err:
        code = getattr(err, "err_code", None)
        name = getattr(fn, "__name__", "amdsmi")
        if code == _NOT_SUPPORTED:
            raise SensorNotSupported(f"{name}: not supported on this device") from err
        if code == _NO_PERM:
            raise SensorPermissionError(f"{name}: no permission (add the user to the 'render' and 'video' groups)") from err
        if code in (_INIT_ERROR, _DRIVER_NOT_LOADED) or isinstance(err, (OSError, ImportError)):
            raise SensorUnavailable(f"{name}: AMD driver or library not available ({err})") from err
        raise SensorError(f"{name}: {type(err).__name__}: {err}") from err


def _visible(env: Mapping[str, str]) -> Optional[List[int]]:
    for var in ("HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES"):
        raw = env.get(var)
        if raw is not None:
            out = []
            for part in raw.split(","):
                part = part.strip()
                if not part.isdigit():
                    break  # like the runtimes, stop at the first entry that is not an index
                out.append(int(part))
            return out
    return None


def _number(value: Any) -> Optional[float]:
    try:
        v = float(value)
    except (TypeError, ValueError):  # amdsmi reports "N/A" for missing readings
        return None
    return v if v > 0 else None


class AmdSensor(Sensor):
    """Energy of the AMD GPUs this process sees.

    Args:
        amdsmi: an ``amdsmi``-shaped module (tests pass a fake); imported when ``None``.
        env: environment for the visible-devices variables (default ``os.environ``).
        power_interval_s: polling period for GPUs without an energy counter, seconds.
        first_index: number of the first component (``gpu:<first_index>``), after any NVIDIA GPUs.

    Raises:
        SensorUnavailable: amdsmi or the driver is missing, or no AMD GPU is visible.
    """

    name = "amdsmi"

    def __init__(self, amdsmi: Any = None, env: Optional[Mapping[str, str]] = None, power_interval_s: float = 0.1, first_index: int = 0) -> None:
        if amdsmi is None:
            try:
                import amdsmi  # type: ignore[no-redef]
            except Exception as err:  # ImportError, or the shared library failing to load
                raise SensorUnavailable(f"amdsmi is not usable ({type(err).__name__}: {err})") from err
        self._amd = amdsmi
        amd_call(amdsmi.amdsmi_init)
        self._lock = threading.Lock()
        handles = list(amd_call(amdsmi.amdsmi_get_processor_handles))
        visible = _visible(os.environ if env is None else env)
        if visible is not None:
            handles = [handles[i] for i in visible if 0 <= i < len(handles)]
        if not handles:
            self.close()
            raise SensorUnavailable("no AMD GPU visible to this process")
        self._gpus: List[Dict[str, Any]] = []
        self._counters: Dict[str, EnergyCounter] = {}
        self._integrators: Dict[str, PowerIntegrator] = {}
        self._energy_j: Dict[str, float] = {}
        self._last_ok_s: Dict[str, float] = {}
        self._errors: Dict[str, str] = {}
        for pos, handle in enumerate(handles):
            cid = f"gpu:{first_index + pos}"
            gpu = self._describe(cid, handle)
            self._gpus.append(gpu)
            limit_w = gpu["power_limit_w"] or 1_500.0
            if gpu["source"] == "amdsmi.energy_count":
                self._counters[cid] = EnergyCounter(scale_j=gpu["resolution_uj"] * 1e-6, max_power_w=limit_w * 1.5)
            self._integrators[cid] = PowerIntegrator()
            self._energy_j[cid] = 0.0
        polled = any(g["source"] != "amdsmi.energy_count" for g in self._gpus)
        self.poll_interval_s = power_interval_s if polled else 1.0

    def _describe(self, cid: str, handle: Any) -> Dict[str, Any]:
        amd = self._amd
        try:
            name = str(amd_call(amd.amdsmi_get_gpu_asic_info, handle).get("market_name") or "AMD GPU")
        except SensorError:
            name = "AMD GPU"
        try:
            uuid = str(amd_call(amd.amdsmi_get_gpu_device_uuid, handle))
        except SensorError:
            uuid = None
        try:
            power = amd_call(amd.amdsmi_get_power_info, handle)
        except SensorError:
            power = {}
        gpu: Dict[str, Any] = {"cid": cid, "handle": handle, "name": name, "uuid": uuid,
                               "power_limit_w": _number(power.get("power_limit"))}
        try:
            count = amd_call(amd.amdsmi_get_energy_count, handle)
            resolution = _number(count.get("counter_resolution"))
            if resolution is None:
                raise SensorNotSupported("no counter resolution")
            gpu.update(source="amdsmi.energy_count", resolution_uj=resolution)
        except SensorError:
            if _number(power.get("current_socket_power")) is None and _number(power.get("average_socket_power")) is None:
                raise SensorUnavailable(f"{name}: neither an energy counter nor a power reading")
            gpu.update(source="amdsmi.power")
        return gpu

    def components(self) -> List[Component]:
        return [
            Component(
                id=g["cid"],
                kind="gpu",
                name=g["name"],
                source=g["source"],
                measured=True,
                uncertainty_rel=UNCERTAINTY_COUNTER if g["source"] == "amdsmi.energy_count" else UNCERTAINTY_POLLED,
                scope="device",
                info={"uuid": g["uuid"], "power_limit_w": g["power_limit_w"], "vendor": "amd"},
            )
            for g in self._gpus
        ]

    def read(self, now_s: float) -> Mapping[str, float]:
        out: Dict[str, float] = {}
        amd = self._amd
        with self._lock:
            for g in self._gpus:
                cid = g["cid"]
                try:
                    if g["source"] == "amdsmi.energy_count":
                        raw = int(amd_call(amd.amdsmi_get_energy_count, g["handle"])["energy_accumulator"])
                        step = self._counters[cid].update(raw, now_s)
                        if step.is_gap:
                            self._record_gap(cid, self._last_ok_s.get(cid, now_s), now_s, f"amdsmi counter {step.event}")
                        self._energy_j[cid] += step.delta_j
                    else:
                        info = amd_call(amd.amdsmi_get_power_info, g["handle"])
                        watts = _number(info.get("current_socket_power")) or _number(info.get("average_socket_power"))
                        if watts is None:
                            raise SensorNotSupported("power reading answered N/A")
                        self._energy_j[cid] = self._integrators[cid].add(watts, now_s)
                except SensorError as err:
                    self._integrators[cid].drop()
                    self._errors[cid] = str(err)
                    continue
                self._last_ok_s[cid] = now_s
                out[cid] = self._energy_j[cid]
        return out

    def last_error(self, component_id: str) -> Optional[str]:
        return self._errors.get(component_id)

    def close(self) -> None:
        if getattr(self, "_closed", False):
            return
        self._closed = True
        try:
            self._amd.amdsmi_shut_down()
        except Exception:
            pass
