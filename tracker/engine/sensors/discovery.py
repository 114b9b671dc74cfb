"""Decide what will be measured, what estimated, and why.

:func:`discover` opens every source that is present and returns the open
sensors plus one :class:`SourceNote` per source saying ``measured``,
``estimated`` or ``absent`` and why (for example the exact file that was not
readable). ``wattprint sensors`` prints these notes; the footprint keeps them.

Failure modes: missing hardware, drivers or permissions never raise (they
become ``absent`` notes and estimates); a setting that was asked for and is
wrong does: an explicit ``powercap_root`` (or ``WATTPRINT_POWERCAP_ROOT`` in
``env``) that does not exist raises :class:`~wattprint.errors.ConfigError`.
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
    ``env`` (``os.environ`` when ``None``) is where every sensor reads its variables.

    Raises:
        ConfigError: ``powercap_root`` or ``WATTPRINT_POWERCAP_ROOT`` names a path that does not exist.
    """
    global _warned_rapl_permission
    from wattprint.engine.sensors.estimate import CpuEstimateSensor, RamEstimateSensor
    from wattprint.engine.sensors.nvidia import NvidiaSensor
    from wattprint.engine.sensors.rapl import RaplSensor

    sensors: List[Sensor] = []
    notes: List[SourceNote] = []
    if gpu:
        nvidia_gpus = 0
        try:
            nv = NvidiaSensor(nvml=nvml_module, env=env, power_interval_s=power_interval_s)
            sensors.append(nv)
            for c in nv.components():
                nvidia_gpus += 1
                notes.append(SourceNote("nvml", "measured", f"{c.id} {c.name} ({c.info.get('uuid')}) via {c.source}"))
        except SensorError as err:
            notes.append(SourceNote("nvml", "absent", str(err)))
        except Exception as err:  # a broken driver binding must not stop the run
            notes.append(SourceNote("nvml", "absent", f"{type(err).__name__}: {err}"))
        _discover_amd(sensors, notes, amdsmi_module, env, power_interval_s, first_index=nvidia_gpus)
    has_dram = False
    if cpu:
        reason = ""
        rapl: Optional[RaplSensor] = None
        try:
            rapl = RaplSensor(powercap_root, env=env)  # ConfigError (an explicit root that is wrong) escapes
            sensors.append(rapl)
            for c in rapl.components():
                has_dram = has_dram or c.kind == "dram"
                notes.append(SourceNote("rapl", "measured", f"{c.id} from {rapl.root}/{c.info['zone']}/energy_uj"))
        except SensorPermissionError as err:
            reason = str(err)
            if not _warned_rapl_permission:
                _warned_rapl_permission = True
                logger.warning("wattprint: %s", reason)
            notes.append(SourceNote("rapl", "absent", reason))
        except SensorError as err:
            reason = str(err)
            notes.append(SourceNote("rapl", "absent", reason))
        if rapl is None:
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
                  power_interval_s: float, first_index: int) -> None:
    """Add AMD GPUs through amdsmi when it is installed (numbered after any NVIDIA GPUs)."""
    import importlib.util

    from wattprint.engine.sensors.amd import AmdSensor

    if module is None and importlib.util.find_spec("amdsmi") is None:
        notes.append(SourceNote("amdsmi", "absent", "amdsmi is not installed (AMD GPUs need ROCm's amdsmi package)"))
        return
    try:
        amd = AmdSensor(amdsmi=module, env=env, power_interval_s=power_interval_s, first_index=first_index)
    except Exception as err:
        notes.append(SourceNote("amdsmi", "absent", str(err)))
        return
    sensors.append(amd)
    for c in amd.components():
        notes.append(SourceNote("amdsmi", "measured", f"{c.id} {c.name} ({c.info.get('uuid')}) via {c.source}"))
