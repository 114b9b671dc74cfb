"""Decide what will be measured, what estimated, and why.

:func:`discover` opens every source that is present and returns the open
sensors plus one :class:`SourceNote` per source saying ``measured``,
``estimated`` or ``absent`` and why (for example the exact file that was not
readable). ``wattprint sensors`` prints these notes; the footprint keeps them.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Callable, List, Mapping, Optional, Tuple

from wattprint.engine.sensors.base import Sensor
from wattprint.errors import SensorError, SensorPermissionError

__all__ = ["SourceNote", "discover"]

logger = logging.getLogger("wattprint")
_warned_rapl_permission = False


@dataclass
class SourceNote:
    source: str  # "nvml", "rapl", "estimate.cpu", "estimate.ram", "amdsmi"
    status: str  # "measured" | "estimated" | "absent"
    detail: str

    def to_dict(self) -> dict:
        return asdict(self)


def discover(
    *,
    gpu: bool = True,
    cpu: bool = True,
    ram: bool = True,
    powercap_root: Optional[str] = None,
    cpu_tdp_w: Optional[float] = None,
    power_interval_s: float = 0.1,
    nvml_module: Any = None,
    amdsmi_module: Any = None,
    env: Optional[Mapping[str, str]] = None,
    cpu_lookup: Optional[Callable[[str], Any]] = None,
) -> Tuple[List[Sensor], List[SourceNote]]:
    """Open the available sensors. Never raises for missing hardware.

    ``cpu_lookup`` is the CPU table's lookup (model name -> spec), handed to the CPU estimate.
    """
    global _warned_rapl_permission
    from wattprint.engine.sensors.estimate import CpuEstimateSensor, RamEstimateSensor
    from wattprint.engine.sensors.nvidia import NvidiaSensor
    from wattprint.engine.sensors.rapl import RaplSensor
    from wattprint.engine.sensors.rapl import powercap_root as _root

    sensors: List[Sensor] = []
    notes: List[SourceNote] = []
    if gpu:
        try:
            nv = NvidiaSensor(nvml=nvml_module, env=env, power_interval_s=power_interval_s)
            sensors.append(nv)
            for c in nv.components():
                notes.append(SourceNote("nvml", "measured", f"{c.id} {c.name} ({c.info.get('uuid')}) via {c.source}"))
        except SensorError as err:
            notes.append(SourceNote("nvml", "absent", str(err)))
        except Exception as err:  # a broken driver binding must not stop the run
            notes.append(SourceNote("nvml", "absent", f"{type(err).__name__}: {err}"))
        _discover_amd(sensors, notes, amdsmi_module, env, power_interval_s)
    has_dram = False
    if cpu:
        root = _root(powercap_root)
        reason = ""
        try:
            rapl = RaplSensor(root)
            sensors.append(rapl)
            for c in rapl.components():
                has_dram = has_dram or c.kind == "dram"
                notes.append(SourceNote("rapl", "measured", f"{c.id} from {root}/{c.info['zone']}/energy_uj"))
        except SensorPermissionError as err:
            reason = str(err)
            if not _warned_rapl_permission:
                _warned_rapl_permission = True
                logger.warning("wattprint: %s", reason)
            notes.append(SourceNote("rapl", "absent", reason))
        except SensorError as err:
            reason = str(err)
            notes.append(SourceNote("rapl", "absent", reason))
        if not any(s.name == "rapl" for s in sensors):
            est = CpuEstimateSensor(cpu_tdp_w=cpu_tdp_w, reason=reason, cpu_lookup=cpu_lookup)
            sensors.append(est)
            notes.append(
                SourceNote("estimate.cpu", "estimated", f"{est.model_name}: TDP {est.tdp_w:g} W ({est.tdp_source}) × utilisation")
            )
    if ram and not has_dram:
        r = RamEstimateSensor()
        sensors.append(r)
        notes.append(SourceNote("estimate.ram", "estimated", f"{r.total_gb:.1f} GB × {r.w_per_gb} W/GB (no RAPL dram zone)"))
    return sensors, notes


def _discover_amd(sensors: List[Sensor], notes: List[SourceNote], module: Any, env: Optional[Mapping[str, str]],
                  power_interval_s: float) -> None:
    """Add AMD GPUs through amdsmi when it is installed (numbered after any NVIDIA GPUs)."""
    import importlib.util

    from wattprint.engine.sensors.amd import AmdSensor

    if module is None and importlib.util.find_spec("amdsmi") is None:
        notes.append(SourceNote("amdsmi", "absent", "amdsmi is not installed (AMD GPUs need ROCm's amdsmi package)"))
        return
    first = sum(len(s.components()) for s in sensors if s.name == "nvml")
    try:
        amd = AmdSensor(amdsmi=module, env=env, power_interval_s=power_interval_s, first_index=first)
    except Exception as err:
        notes.append(SourceNote("amdsmi", "absent", str(err)))
        return
    sensors.append(amd)
    for c in amd.components():
        notes.append(SourceNote("amdsmi", "measured", f"{c.id} {c.name} ({c.info.get('uuid')}) via {c.source}"))
