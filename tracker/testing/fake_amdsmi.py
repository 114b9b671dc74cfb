"""A fake ``amdsmi`` module, shaped like ROCm's amdsmi 6/7 at the calls wattprint makes.

Readings come back as the real module returns them: dicts, with ``"N/A"`` for a
missing power value; failures as an exception carrying ``err_code`` like
``amdsmi.AmdSmiLibraryException``.

Failure modes: a GPU with ``error`` set raises ``AmdSmiLibraryException(error)``
on every call; one without a counter raises it with ``AMDSMI_STATUS_NOT_SUPPORTED``.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any, List, Optional

AMDSMI_STATUS_NOT_SUPPORTED = 2


class AmdSmiLibraryException(Exception):
    def __init__(self, err_code: int) -> None:
        super().__init__(err_code)
        self.err_code = err_code


@dataclass
class FakeAmdGpu:
    name: str = "AMD Instinct MI300X"
    uuid: str = "00ff74a1-0000-1000-80ec-8c4ba2f2f66b"
    accumulator: int = 1_000_000
    resolution_uj: float = 15.3
    power_w: object = 300
    power_limit_w: int = 750
    has_counter: bool = True
    error: Optional[int] = None


def make_fake_amdsmi(gpus: List[FakeAmdGpu]) -> types.ModuleType:
    m: Any = types.ModuleType("amdsmi")
    m.AmdSmiLibraryException = AmdSmiLibraryException
    m.shut_down = 0

    def check(h: FakeAmdGpu) -> FakeAmdGpu:
        if h.error is not None:
            raise AmdSmiLibraryException(h.error)
        return h

    def amdsmi_init(flag=None) -> None:
        pass

    def amdsmi_shut_down() -> None:
        m.shut_down += 1

    def amdsmi_get_processor_handles():
        return list(gpus)

    def amdsmi_get_gpu_asic_info(h):
        return {"market_name": check(h).name, "vendor_name": "Advanced Micro Devices Inc. [AMD/ATI]"}

    def amdsmi_get_gpu_device_uuid(h):
        return check(h).uuid

    def amdsmi_get_power_info(h):
        g = check(h)
        return {"socket_power": g.power_w, "current_socket_power": g.power_w, "average_socket_power": "N/A",
                "gfx_voltage": "N/A", "soc_voltage": "N/A", "mem_voltage": "N/A", "power_limit": g.power_limit_w}

    def amdsmi_get_energy_count(h):
        g = check(h)
        if not g.has_counter:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
        return {"energy_accumulator": g.accumulator, "counter_resolution": g.resolution_uj, "timestamp": 0}

    for fn in (amdsmi_init, amdsmi_shut_down, amdsmi_get_processor_handles, amdsmi_get_gpu_asic_info,
               amdsmi_get_gpu_device_uuid, amdsmi_get_power_info, amdsmi_get_energy_count):
        setattr(m, fn.__name__, fn)
    return m
