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

The read loop is :class:`~wattprint.engine.sensors._channel.ChannelSensor`'s;
this module supplies the amdsmi calls only.

The system ``amdsmi`` is tried once per process (import and ``amdsmi_init``, with
stdout and stderr silenced: amdsmi prints when ROCm is missing); a failure is
remembered, so later trackers skip AMD at once and print nothing.

Failure modes: errors are translated once in :func:`amd_call`: ``NOT_SUPPORTED`` →
:class:`SensorNotSupported`, no permission → :class:`SensorPermissionError`,
library or driver missing → :class:`SensorUnavailable`, else :class:`SensorError`.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, Mapping, Optional, Tuple, TypeVar

from wattprint.engine.counters import EnergyCounter
from wattprint.engine.sensors._channel import ChannelSensor, GpuChannel
from wattprint.engine.sensors.base import Component
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


_IMPORTED: Optional[Tuple[Any, Optional[str]]] = None  # (module or None, why not): the one try of this process
_IMPORT_LOCK = threading.Lock()


def _system_amdsmi() -> Any:
    """The installed ``amdsmi``, imported and initialised once per process, quietly.

    Its import and ``amdsmi_init`` print to the process's stdout/stderr when ROCm is
    missing (what installing Zeus leaves); both run with those descriptors pointed at
    ``/dev/null``, and a failure is remembered, so later trackers neither retry nor print.

    Raises:
        SensorUnavailable: amdsmi is missing or unusable (the first failure, every time).
    """
    global _IMPORTED
    with _IMPORT_LOCK:
        if _IMPORTED is None:
            try:
                with _quiet():
                    import amdsmi  # type: ignore[import-not-found]

                    amd_call(amdsmi.amdsmi_init)  # the driver's there? (the sensor initialises it again)
                    try:
                        amdsmi.amdsmi_shut_down()
                    except Exception:
                        pass
                _IMPORTED = (amdsmi, None)
            except Exception as err:  # ImportError, the shared library failing to load, no driver
                _IMPORTED = (None, f"amdsmi is not usable ({type(err).__name__}: {err})")
        module, why = _IMPORTED
    if module is None:
        raise SensorUnavailable(why or "amdsmi is not usable")
    return module


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """stdout and stderr (Python's and the C library's) to /dev/null for the block."""
    saved: List[int] = []
    try:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            for fd in (1, 2):
                saved.append(os.dup(fd))
                os.dup2(devnull, fd)
        finally:
            os.close(devnull)
    except OSError:
        pass  # no descriptors to redirect: go on unredirected
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        for fd, old in zip((1, 2), saved, strict=False):
            os.dup2(old, fd)
            os.close(old)


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


@dataclass
class _AmdGpu:
    handle: Any
    name: str
    uuid: Optional[str]
    power_limit_w: Optional[float]


class AmdSensor(ChannelSensor):
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
    gap_label = "amdsmi"

    def __init__(self, amdsmi: Any = None, env: Optional[Mapping[str, str]] = None, power_interval_s: float = 0.1,
                 first_index: int = 0) -> None:
        if amdsmi is None:
            amdsmi = _system_amdsmi()
        self._amd = amdsmi
        amd_call(amdsmi.amdsmi_init)
        handles = list(amd_call(amdsmi.amdsmi_get_processor_handles))
        visible = _visible(os.environ if env is None else env)
        if visible is not None:
            handles = [handles[i] for i in visible if 0 <= i < len(handles)]
        if not handles:
            self.close()
            raise SensorUnavailable("no AMD GPU visible to this process")
        channels = [self._open_channel(f"gpu:{first_index + pos}", handle) for pos, handle in enumerate(handles)]
        super().__init__(channels, power_interval_s)

    def _open_channel(self, cid: str, handle: Any) -> GpuChannel:
        amd = self._amd
        try:
            name = str(amd_call(amd.amdsmi_get_gpu_asic_info, handle).get("market_name") or "AMD GPU")
        except SensorError:
            name = "AMD GPU"
        try:
            uuid: Optional[str] = str(amd_call(amd.amdsmi_get_gpu_device_uuid, handle))
        except SensorError:
            uuid = None
        try:
            power = amd_call(amd.amdsmi_get_power_info, handle)
        except SensorError:
            power = {}
        gpu = _AmdGpu(handle, name, uuid, _number(power.get("power_limit")))
        try:
            count = amd_call(amd.amdsmi_get_energy_count, handle)
            resolution_uj = _number(count.get("counter_resolution"))
            if resolution_uj is None:
                raise SensorNotSupported("no counter resolution")
        except SensorError:
            if _number(power.get("current_socket_power")) is None and _number(power.get("average_socket_power")) is None:
                raise SensorUnavailable(f"{name}: neither an energy counter nor a power reading") from None
            return GpuChannel(cid, "amdsmi.power", gpu)
        limit_w = gpu.power_limit_w or 1_500.0
        counter = EnergyCounter(scale_j=resolution_uj * 1e-6, max_power_w=limit_w * 1.5)
        return GpuChannel(cid, "amdsmi.energy_count", gpu, counter)

    def components(self) -> List[Component]:
        out = []
        for ch in self._channels:
            g: _AmdGpu = ch.device
            out.append(self.gpu_component(ch, g.name, {"uuid": g.uuid, "power_limit_w": g.power_limit_w, "vendor": "amd"}))
        return out

    def read_raw(self, channel: GpuChannel) -> float:
        """The energy accumulator in counter ticks, else the socket power in W."""
        amd, handle = self._amd, channel.device.handle
        if channel.counter is not None:
            return int(amd_call(amd.amdsmi_get_energy_count, handle)["energy_accumulator"])
        info = amd_call(amd.amdsmi_get_power_info, handle)
        watts = _number(info.get("current_socket_power")) or _number(info.get("average_socket_power"))
        if watts is None:
            raise SensorNotSupported("power reading answered N/A")
        return watts

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._amd.amdsmi_shut_down()
        except Exception:  # shutting down a broken driver must not raise
            pass
