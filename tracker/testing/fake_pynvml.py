"""A fake ``pynvml`` module, shaped exactly like the real one at the calls wattprint makes.

It reuses the real module's ``NVMLError`` (with its code-to-subclass mapping)
and its ctypes ``c_nvmlFieldValue_t``, so error handling and field decoding
run the same code paths as on a real GPU. Devices are :class:`FakeGpu`
objects whose counters and power the test sets directly.

Attribution: a GPU's ``processes`` are what ``nvmlDeviceGetComputeRunningProcesses`` lists
(``nvmlProcessInfo_t``-shaped objects: ``pid``, ``usedGpuMemory``, ``gpuInstanceId``,
``computeInstanceId``); ``sm_util`` (pid -> percent) is what each call of
``nvmlDeviceGetProcessUtilization`` returns as one new ``c_nvmlProcessUtilizationSample_t``
per pid (``None``: NOT_SUPPORTED, as on many consumer GPUs and on MIG); a MIG instance's
SMs are in ``mig_sms`` and its processes in ``mig_processes``.

Failure modes: calls on a ``lost`` GPU raise ``NVMLError_GPUIsLost``; an unknown
index or UUID raises NVML's invalid-argument / not-found errors; ``init_error``
makes ``nvmlInit`` raise that NVML code.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import pynvml as _real

NVMLError = _real.NVMLError


@dataclass
class FakeProcess:
    pid: int
    used_memory_bytes: Optional[int] = 1 << 30
    gpu_instance_id: int = 0xFFFFFFFF  # NVML's "not a MIG instance"
    compute_instance_id: int = 0xFFFFFFFF


@dataclass
class FakeGpu:
    uuid: str
    name: str = "NVIDIA H100 80GB HBM3"
    power_limit_mw: int = 700_000
    energy_mj: int = 10_000_000  # since "driver load"
    power_mw: int = 100_000
    has_energy_counter: bool = True
    has_instant_power: bool = True
    lost: bool = False
    energy_error: Optional[int] = None  # an NVML code raised by the energy call
    migs: List[str] = field(default_factory=list)
    calls: int = 0
    processes: List[FakeProcess] = field(default_factory=list)
    sm_util: Optional[Dict[int, int]] = field(default_factory=dict)  # pid -> smUtil %; None = not supported
    util_clock_us: int = 1_700_000_000_000_000  # the timestamp of the next utilisation sample
    processes_supported: bool = True
    multiprocessor_count: int = 132
    max_mig_devices: int = 7
    mig_sms: Dict[str, int] = field(default_factory=dict)  # MIG uuid -> its SMs
    mig_slices: Dict[str, int] = field(default_factory=dict)  # MIG uuid -> gpuInstanceSliceCount
    mig_processes: Dict[str, List[FakeProcess]] = field(default_factory=dict)


class _Handle:
    def __init__(self, gpu: FakeGpu, mig_uuid: Optional[str] = None) -> None:
        self.gpu = gpu
        self.mig_uuid = mig_uuid


def make_fake_nvml(gpus: List[FakeGpu], *, init_error: Optional[int] = None) -> types.ModuleType:
    """A module object with the pynvml functions wattprint uses."""
    m: Any = types.ModuleType("pynvml")
    m.NVMLError = NVMLError
    for name in dir(_real):
        if name.startswith("NVML_"):
            setattr(m, name, getattr(_real, name))
    m.c_nvmlFieldValue_t = _real.c_nvmlFieldValue_t
    m.gpus = gpus
    m.init_count = 0
    m.shutdown_count = 0

    def check(h: _Handle) -> FakeGpu:
        h.gpu.calls += 1
        if h.gpu.lost:
            raise NVMLError(_real.NVML_ERROR_GPU_IS_LOST)
        return h.gpu

    def nvmlInit() -> None:
        if init_error is not None:
            raise NVMLError(init_error)
        m.init_count += 1

    def nvmlShutdown() -> None:
        m.shutdown_count += 1

    def nvmlDeviceGetCount() -> int:
        return len(gpus)

    def nvmlDeviceGetHandleByIndex(i: int) -> _Handle:
        if not 0 <= i < len(gpus):
            raise NVMLError(_real.NVML_ERROR_INVALID_ARGUMENT)
        return _Handle(gpus[i])

    def nvmlDeviceGetHandleByUUID(uuid) -> _Handle:
        uuid = uuid.decode() if isinstance(uuid, bytes) else uuid
        for g in gpus:
            if g.uuid == uuid:
                return _Handle(g)
            if uuid in g.migs:
                return _Handle(g, uuid)
        raise NVMLError(_real.NVML_ERROR_NOT_FOUND)

    def nvmlDeviceGetDeviceHandleFromMigDeviceHandle(h: _Handle) -> _Handle:
        return _Handle(h.gpu)

    def nvmlDeviceGetName(h: _Handle) -> str:
        return check(h).name

    def nvmlDeviceGetUUID(h: _Handle) -> str:
        return check(h).uuid

    def nvmlDeviceGetIndex(h: _Handle) -> int:
        return gpus.index(h.gpu)

    def nvmlDeviceGetEnforcedPowerLimit(h: _Handle) -> int:
        return check(h).power_limit_mw

    def nvmlDeviceGetTotalEnergyConsumption(h: _Handle) -> int:
        g = check(h)
        if h.mig_uuid or not g.has_energy_counter:
            raise NVMLError(_real.NVML_ERROR_NOT_SUPPORTED)
        if g.energy_error is not None:
            raise NVMLError(g.energy_error)
        return g.energy_mj

    def nvmlDeviceGetPowerUsage(h: _Handle) -> int:
        return check(h).power_mw

    def nvmlDeviceGetFieldValues(h: _Handle, field_ids):
        g = check(h)
        values = (_real.c_nvmlFieldValue_t * len(field_ids))()
        for i, fid in enumerate(field_ids):
            values[i].fieldId = fid
            if fid == _real.NVML_FI_DEV_POWER_INSTANT and g.has_instant_power:
                values[i].nvmlReturn = _real.NVML_SUCCESS
                values[i].value.uiVal = g.power_mw
            else:
                values[i].nvmlReturn = _real.NVML_ERROR_NOT_SUPPORTED
        return values

    def _proc_info(p: FakeProcess) -> Any:
        c = _real.c_nvmlProcessInfo_t()
        c.pid, c.gpuInstanceId, c.computeInstanceId = p.pid, p.gpu_instance_id, p.compute_instance_id
        c.usedGpuMemory = p.used_memory_bytes if p.used_memory_bytes is not None else _real.NVML_VALUE_NOT_AVAILABLE_ulonglong.value
        obj = _real.nvmlStructToFriendlyObject(c)
        if obj.usedGpuMemory == _real.NVML_VALUE_NOT_AVAILABLE_ulonglong.value:
            obj.usedGpuMemory = None  # as the real wrapper does
        return obj

    def nvmlDeviceGetComputeRunningProcesses(h: _Handle) -> List[Any]:
        g = check(h)
        if not g.processes_supported:
            raise NVMLError(_real.NVML_ERROR_NOT_SUPPORTED)
        procs = g.mig_processes.get(h.mig_uuid, []) if h.mig_uuid else g.processes
        return [_proc_info(p) for p in procs]

    def nvmlDeviceGetProcessUtilization(h: _Handle, timeStamp: int) -> List[Any]:
        g = check(h)
        if h.mig_uuid or g.sm_util is None:
            raise NVMLError(_real.NVML_ERROR_NOT_SUPPORTED)
        g.util_clock_us += 1_000_000
        if not g.sm_util or g.util_clock_us <= timeStamp:
            raise NVMLError(_real.NVML_ERROR_NOT_FOUND)  # no sample newer than timeStamp
        out = (_real.c_nvmlProcessUtilizationSample_t * len(g.sm_util))()
        for i, (pid, sm) in enumerate(g.sm_util.items()):
            out[i].pid, out[i].timeStamp, out[i].smUtil = pid, g.util_clock_us, sm
        return out[0 : len(g.sm_util)]

    def nvmlDeviceGetAttributes(h: _Handle) -> Any:
        g = check(h)
        attrs = _real.c_nvmlDeviceAttributes()
        if h.mig_uuid:
            attrs.multiprocessorCount = g.mig_sms.get(h.mig_uuid, 0)
            attrs.gpuInstanceSliceCount = attrs.computeInstanceSliceCount = g.mig_slices.get(h.mig_uuid, 0)
        else:
            attrs.multiprocessorCount = g.multiprocessor_count
        return attrs

    def nvmlDeviceGetMaxMigDeviceCount(h: _Handle) -> int:
        return check(h).max_mig_devices

    for fn in (
        nvmlInit,
        nvmlShutdown,
        nvmlDeviceGetCount,
        nvmlDeviceGetHandleByIndex,
        nvmlDeviceGetHandleByUUID,
        nvmlDeviceGetDeviceHandleFromMigDeviceHandle,
        nvmlDeviceGetName,
        nvmlDeviceGetUUID,
        nvmlDeviceGetIndex,
        nvmlDeviceGetEnforcedPowerLimit,
        nvmlDeviceGetTotalEnergyConsumption,
        nvmlDeviceGetPowerUsage,
        nvmlDeviceGetFieldValues,
        nvmlDeviceGetComputeRunningProcesses,
        nvmlDeviceGetProcessUtilization,
        nvmlDeviceGetAttributes,
        nvmlDeviceGetMaxMigDeviceCount,
    ):
        setattr(m, fn.__name__, fn)
    return m


def two_gpus() -> List[FakeGpu]:
    return [
        FakeGpu(uuid="GPU-11111111-aaaa-bbbb-cccc-000000000000", migs=["MIG-aaaaaaaa-0000-0000-0000-000000000001"]),
        FakeGpu(uuid="GPU-22222222-aaaa-bbbb-cccc-000000000000", name="NVIDIA A100-SXM4-80GB", power_limit_mw=400_000),
    ]
