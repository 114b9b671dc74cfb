"""NVIDIA GPU energy through NVML (the ``pynvml`` module of ``nvidia-ml-py``).

Per GPU, the best source the device has is chosen once at open:

1. ``nvmlDeviceGetTotalEnergyConsumption``: mJ since driver load (Volta and
   newer). Exact energy as a counter difference; source ``nvml.total_energy``.
2. ``nvmlDeviceGetFieldValues(NVML_FI_DEV_POWER_INSTANT)``: instantaneous
   mW, polled and integrated; source ``nvml.power_instant``.
3. ``nvmlDeviceGetPowerUsage``: mW, a 1 s average on Ampere and newer, polled
   and integrated; source ``nvml.power_average``.

NVML ignores ``CUDA_VISIBLE_DEVICES``; :func:`visible_gpu_selectors` and
:func:`resolve_visible_devices` map it (indices, ``GPU-`` UUIDs or unique
prefixes, ``MIG-`` UUIDs) to NVML handles by UUID. A MIG slice has no energy
sensor of its own: its parent GPU is read, and the component says so.

For attribution (:mod:`wattprint.engine.attribution`), :meth:`NvidiaSensor.gpu_usage` reads
who uses a GPU: ``nvmlDeviceGetComputeRunningProcesses`` (pid, ``usedGpuMemory``; on a MIG
handle, the processes of that instance), ``nvmlDeviceGetProcessUtilization`` (per-process
``smUtil`` samples newer than a timestamp; ``NOT_FOUND`` means none are new) and, for a MIG
instance, ``nvmlDeviceGetAttributes`` (its ``multiprocessorCount`` against the parent's, else
``gpuInstanceSliceCount`` over ``nvmlDeviceGetMaxMigDeviceCount``).

The read loop (counter or integrator, gaps, per-GPU errors) is
:class:`~wattprint.engine.sensors._channel.ChannelSensor`'s; this module
supplies the NVML calls only.

Failure modes: NVML errors are translated once, in :func:`nvml_call`: ``NOT_SUPPORTED`` →
:class:`SensorNotSupported` (capability absent), ``GPU_IS_LOST`` →
:class:`SensorLost`, ``NO_PERMISSION`` → :class:`SensorPermissionError`,
missing library or driver → :class:`SensorUnavailable`, anything else →
:class:`SensorError`.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)

from wattprint.engine.counters import EnergyCounter
from wattprint.engine.sensors._channel import ChannelSensor, GpuChannel, GpuUsage
from wattprint.engine.sensors.base import Component
from wattprint.errors import (
    SensorError,
    SensorLost,
    SensorNotSupported,
    SensorPermissionError,
    SensorUnavailable,
)

__all__ = ["NvidiaSensor", "load_nvml", "nvml_call", "resolve_visible_devices", "visible_gpu_selectors"]

T = TypeVar("T")

# NVML return codes (nvml.h); named here so a fake module needs only the values.
_NVML_ERROR_UNINITIALIZED = 1
_NVML_ERROR_NOT_SUPPORTED = 3
_NVML_ERROR_NO_PERMISSION = 4
_NVML_ERROR_NOT_FOUND = 6
_NVML_ERROR_DRIVER_NOT_LOADED = 9
_NVML_ERROR_LIBRARY_NOT_FOUND = 12
_NVML_ERROR_GPU_IS_LOST = 15
_NVML_FI_DEV_POWER_INSTANT = 186


def load_nvml(module: Any = None) -> Any:
    """Import ``pynvml`` (or take ``module``) and ``nvmlInit()`` it.

    Raises:
        SensorUnavailable: the package, the library or the driver is missing.
    """
    if module is None:
        try:
            import pynvml as module  # type: ignore[no-redef]
        except ImportError as err:
            raise SensorUnavailable("pynvml is not installed (pip install nvidia-ml-py)") from err
    nvml_call(module, module.nvmlInit)
    return module


def nvml_call(nvml: Any, fn: Callable[..., T], *args: Any) -> T:
    """Call an NVML function, translating ``NVMLError`` into wattprint's exceptions."""
    error_cls = getattr(nvml, "NVMLError", None)
    try:
        return fn(*args)
    except Exception as err:  # the NVMLError subclass set differs between versions
        if error_cls is None or not isinstance(err, error_cls):
            if isinstance(err, (OSError, AttributeError)):
                raise SensorUnavailable(f"NVML: {err}") from err
            raise
        code = getattr(err, "value", None)
        name = getattr(fn, "__name__", "nvml")
        if code == _NVML_ERROR_NOT_SUPPORTED:
            raise SensorNotSupported(f"{name}: not supported on this device") from err
        if code == _NVML_ERROR_GPU_IS_LOST:
            raise SensorLost(f"{name}: the GPU has fallen off the bus") from err
        if code == _NVML_ERROR_NO_PERMISSION:
            raise SensorPermissionError(f"{name}: no permission") from err
        if code in (_NVML_ERROR_LIBRARY_NOT_FOUND, _NVML_ERROR_DRIVER_NOT_LOADED, _NVML_ERROR_UNINITIALIZED):
            raise SensorUnavailable(f"{name}: NVIDIA driver or library not available ({err})") from err
        raise SensorError(f"{name}: {err}") from err


def _code(err: BaseException) -> Optional[int]:
    """The NVML return code behind a translated error, if any."""
    cause = err.__cause__
    return getattr(cause, "value", None) if cause is not None else None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def visible_gpu_selectors(env: Optional[Mapping[str, str]] = None) -> Optional[List[str]]:
    """The entries of ``CUDA_VISIBLE_DEVICES``, or ``None`` when it is unset (all GPUs)."""
    env = os.environ if env is None else env
    raw = env.get("CUDA_VISIBLE_DEVICES")
    if raw is None:
        return None
    return [s.strip() for s in raw.split(",") if s.strip()]


@dataclass
class _Gpu:
    index: int  # the position among the GPUs this process sees (cuda:index)
    nvml_index: int
    handle: Any
    name: str
    uuid: str
    mig_uuid: Optional[str]
    power_limit_w: Optional[float]
    mig_cache: Optional[Tuple[Any, Optional[float]]] = None  # (MIG handle, share of the parent's SMs)


def resolve_visible_devices(nvml: Any, selectors: Optional[Sequence[str]]) -> List[Tuple[Any, Optional[str]]]:
    """Map CUDA_VISIBLE_DEVICES entries to NVML device handles.

    Integers are NVML indices (CUDA's order equals NVML's with
    ``CUDA_DEVICE_ORDER=PCI_BUS_ID``); ``GPU-...`` entries are UUIDs or unique
    prefixes; ``MIG-...`` entries map to their parent GPU. As CUDA does,
    resolution stops at the first entry that matches nothing.

    Returns:
        ``[(handle, mig_uuid_or_None), ...]`` in the order CUDA numbers them.
    """
    count = nvml_call(nvml, nvml.nvmlDeviceGetCount)
    if selectors is None:
        return [(nvml_call(nvml, nvml.nvmlDeviceGetHandleByIndex, i), None) for i in range(count)]
    uuids = None
    out: List[Tuple[Any, Optional[str]]] = []
    for sel in selectors:
        if sel.lstrip("-").isdigit():
            idx = int(sel)
            if not 0 <= idx < count:
                break
            out.append((nvml_call(nvml, nvml.nvmlDeviceGetHandleByIndex, idx), None))
        elif sel.startswith("MIG-"):
            try:
                mig = nvml_call(nvml, nvml.nvmlDeviceGetHandleByUUID, sel)
                parent = nvml_call(nvml, nvml.nvmlDeviceGetDeviceHandleFromMigDeviceHandle, mig)
            except SensorError:
                break
            out.append((parent, sel))
        elif sel.startswith("GPU-"):
            if uuids is None:
                uuids = []
                for i in range(count):
                    h = nvml_call(nvml, nvml.nvmlDeviceGetHandleByIndex, i)
                    uuids.append((_text(nvml_call(nvml, nvml.nvmlDeviceGetUUID, h)), h))
            matches = [h for u, h in uuids if u.startswith(sel)]
            if len(matches) != 1:
                break
            out.append((matches[0], None))
        else:
            break
    return out


class NvidiaSensor(ChannelSensor):
    """Energy of the GPUs this process sees.

    Args:
        nvml: a ``pynvml``-shaped module (tests pass a fake); imported when ``None``.
        env: environment for ``CUDA_VISIBLE_DEVICES`` (defaults to ``os.environ``).
        power_interval_s: polling period for GPUs without an energy counter, seconds.

    Raises:
        SensorUnavailable: no NVML, no driver, or no visible GPU.
    """

    name = "nvml"
    gap_label = "nvml"

    def __init__(self, nvml: Any = None, env: Optional[Mapping[str, str]] = None, power_interval_s: float = 0.1) -> None:
        self._nvml = load_nvml(nvml)
        # the field list of the instant-power read, made once (the poll runs at up to 10 Hz per GPU)
        self._power_fields = [getattr(self._nvml, "NVML_FI_DEV_POWER_INSTANT", _NVML_FI_DEV_POWER_INSTANT)]
        pairs = resolve_visible_devices(self._nvml, visible_gpu_selectors(env))
        if not pairs:
            self._shutdown()
            raise SensorUnavailable("no NVIDIA GPU visible to this process")
        channels = []
        for pos, (handle, mig) in enumerate(pairs):
            gpu = self._describe(pos, handle, mig)
            source = self._pick_source(handle)
            counter = None
            if source == "nvml.total_energy":
                limit_w = gpu.power_limit_w or 1_500.0
                counter = EnergyCounter(scale_j=1e-3, max_range=None, max_power_w=max(limit_w, 100.0) * 1.5)
            channels.append(GpuChannel(f"gpu:{pos}", source, gpu, counter))
            if counter is not None:  # the tick's hot path: the energy call on the kept handle, no wrapper frames
                channels[-1].fast_raw = functools.partial(self._nvml.nvmlDeviceGetTotalEnergyConsumption, handle)
        super().__init__(channels, power_interval_s)

    def _describe(self, pos: int, handle: Any, mig: Optional[str]) -> _Gpu:
        nv = self._nvml
        name = _text(nvml_call(nv, nv.nvmlDeviceGetName, handle))
        uuid = _text(nvml_call(nv, nv.nvmlDeviceGetUUID, handle))
        try:
            nvml_index = int(nvml_call(nv, nv.nvmlDeviceGetIndex, handle))
        except (SensorError, AttributeError):
            nvml_index = pos
        try:
            limit_w: Optional[float] = nvml_call(nv, nv.nvmlDeviceGetEnforcedPowerLimit, handle) / 1000.0
        except (SensorError, AttributeError):
            limit_w = None
        return _Gpu(pos, nvml_index, handle, name, uuid, mig, limit_w)

    def _pick_source(self, handle: Any) -> str:
        nv = self._nvml
        try:
            nvml_call(nv, nv.nvmlDeviceGetTotalEnergyConsumption, handle)
            return "nvml.total_energy"
        except SensorError:
            pass
        if self._instant_power_mw(handle) is not None:
            return "nvml.power_instant"
        nvml_call(nv, nv.nvmlDeviceGetPowerUsage, handle)  # raises if no power reading at all
        return "nvml.power_average"

    def _instant_power_mw(self, handle: Any) -> Optional[float]:
        nv = self._nvml
        try:
            values = nvml_call(nv, nv.nvmlDeviceGetFieldValues, handle, self._power_fields)
        except (SensorError, AttributeError):
            return None
        if not values or getattr(values[0], "nvmlReturn", 0) != 0:
            return None
        value = values[0].value
        mw = getattr(value, "uiVal", None)
        return float(mw) if mw else None

    def components(self) -> List[Component]:
        out = []
        for ch in self._channels:
            g: _Gpu = ch.device
            info: Dict[str, Any] = {"uuid": g.uuid, "nvml_index": g.nvml_index, "power_limit_w": g.power_limit_w}
            if g.mig_uuid:
                info["mig_uuid"] = g.mig_uuid
                info["note"] = "MIG slice: NVML meters only the whole GPU, so the parent GPU's energy is reported"
            out.append(self.gpu_component(ch, g.name, info))
        return out

    def read_raw(self, channel: GpuChannel) -> float:
        """The total-energy counter in mJ, else the instant or average power in W."""
        nv, handle = self._nvml, channel.device.handle
        if channel.source == "nvml.total_energy":
            return int(nvml_call(nv, nv.nvmlDeviceGetTotalEnergyConsumption, handle))
        if channel.source == "nvml.power_instant":
            mw = self._instant_power_mw(handle)
            if mw is None:
                raise SensorNotSupported("instant power field stopped answering")
        else:
            mw = float(nvml_call(nv, nv.nvmlDeviceGetPowerUsage, handle))
        return mw / 1000.0

    def gpu_usage(self, component_id: str, since_us: int) -> Optional[GpuUsage]:
        """Processes on this GPU (or MIG instance), their SM utilisation since ``since_us``, the MIG slice."""
        ch = self.channel(component_id)
        if ch is None or self._closed:
            return None
        g: _Gpu = ch.device
        nv = self._nvml
        with self._lock:
            handle = g.handle
            mig_slice: Optional[float] = None
            if g.mig_uuid:
                handle, mig_slice = self._mig(g)
            procs: Optional[List[Tuple[int, Optional[int]]]] = []
            try:
                for p in nvml_call(nv, nv.nvmlDeviceGetComputeRunningProcesses, handle):  # a loop: no comprehension frame
                    procs.append((int(p.pid), getattr(p, "usedGpuMemory", None)))  # type: ignore[union-attr]
            except (SensorError, AttributeError):
                procs = None
            util: Optional[Dict[int, float]] = None
            last = since_us
            if not g.mig_uuid and (procs is None or len(procs) > 1):  # only a shared GPU needs it; MIG has none
                try:
                    util = {}
                    samples = nvml_call(nv, nv.nvmlDeviceGetProcessUtilization, handle, since_us)
                    get_pid, get_sm, get_ts = _sample_fields(type(samples[0])) if samples else _SAMPLE_ATTRS
                    for smp in samples:
                        pid, sm, ts = get_pid(smp), get_sm(smp), get_ts(smp)
                        util[pid] = util.get(pid, 0.0) + sm
                        if ts > last:
                            last = ts
                except SensorError as err:
                    util = {} if _code(err) == _NVML_ERROR_NOT_FOUND else None
                except AttributeError:
                    util = None
        return GpuUsage(procs, util, last, mig_slice, mig=bool(g.mig_uuid))

    def _mig(self, g: _Gpu) -> Tuple[Any, Optional[float]]:
        """The MIG instance's handle and its share of the parent's SMs (cached on the record)."""
        if g.mig_cache is not None:
            return g.mig_cache
        nv = self._nvml
        try:
            mig = nvml_call(nv, nv.nvmlDeviceGetHandleByUUID, g.mig_uuid)
        except SensorError:
            return g.handle, None
        share: Optional[float] = None
        try:
            mine = nvml_call(nv, nv.nvmlDeviceGetAttributes, mig)
            try:
                whole = nvml_call(nv, nv.nvmlDeviceGetAttributes, g.handle).multiprocessorCount
            except (SensorError, AttributeError):
                whole = 0
            if whole and mine.multiprocessorCount:
                share = min(1.0, mine.multiprocessorCount / whole)
            else:
                slices = nvml_call(nv, nv.nvmlDeviceGetMaxMigDeviceCount, g.handle)
                share = min(1.0, mine.gpuInstanceSliceCount / slices) if slices else None
        except (SensorError, AttributeError, ZeroDivisionError):
            share = None
        g.mig_cache = (mig, share)
        return g.mig_cache

    def _shutdown(self) -> None:
        try:
            self._nvml.nvmlShutdown()
        except Exception:  # shutting down a broken driver must not raise
            pass

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._shutdown()


_SAMPLE_ATTRS: Tuple[Callable[[Any], Any], ...] = (lambda s: s.pid, lambda s: s.smUtil, lambda s: s.timeStamp)
_SAMPLE_FIELDS: Dict[type, Tuple[Callable[[Any], Any], ...]] = {}


def _sample_fields(cls: type) -> Tuple[Callable[[Any], Any], ...]:
    """Readers of a utilisation sample's ``pid``, ``smUtil`` and ``timeStamp``: the ctypes fields' own
    descriptors where the class has them (pynvml's structures route every attribute read through a Python
    ``__getattribute__`` that only decodes bytes; these fields are integers), else plain attribute reads."""
    got = _SAMPLE_FIELDS.get(cls)
    if got is None:
        try:
            fields = [getattr(cls, name) for name in ("pid", "smUtil", "timeStamp")]
            got = tuple(f.__get__ for f in fields) if all(type(f).__name__ == "CField" for f in fields) else _SAMPLE_ATTRS
        except AttributeError:
            got = _SAMPLE_ATTRS
        _SAMPLE_FIELDS[cls] = got
    return got
