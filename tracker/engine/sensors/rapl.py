"""CPU package and DRAM energy from Linux RAPL through the powercap sysfs tree.

Layout read (Intel, and AMD through the same driver)::

    <root>/intel-rapl:0/name            "package-0"
    <root>/intel-rapl:0/energy_uj       cumulative µJ, wraps at max_energy_range_uj
    <root>/intel-rapl:0/intel-rapl:0:2/name   "dram"
    <root>/intel-rapl:1/name            "psys"   (platform: a superset, never added)

Counted: every ``package-N`` zone and its ``dram`` subzone. Skipped: ``psys``
(it already contains the packages), ``core`` and ``uncore`` (subsets of the
package), and the ``intel-rapl-mmio`` mirror of the same package counters.

The root is the ``root`` argument, else ``WATTPRINT_POWERCAP_ROOT`` from the
injected ``env``, else :data:`DEFAULT_POWERCAP_ROOT`.

Failure modes: a root that was asked for (the argument or the variable) and
does not exist raises :class:`~wattprint.errors.ConfigError` naming the setting
and the path; the default root missing, or a root without a package zone,
raises :class:`~wattprint.errors.SensorUnavailable` (discovery then estimates).
Since Linux 5.10 ``energy_uj`` is readable by root only; opening the sensor
then raises :class:`~wattprint.errors.SensorPermissionError` whose message
names the file and the fix. A file that disappears mid-run drops that
component from one reading (the ledger records a gap).

Cost: each zone's ``energy_uj`` is opened once and kept open; a read is one
``os.pread`` on the kept descriptor (sysfs regenerates the value at offset 0).
A read that fails or returns no number closes the descriptor, and the next read
opens the file again (a zone that comes back is read again). :meth:`RaplSensor.close`
closes them all.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Dict, Iterator, List, Mapping, Optional, Tuple

from wattprint.engine.counters import CounterStep, EnergyCounter
from wattprint.engine.host import cpu_model_name
from wattprint.engine.sensors.base import UNCERTAINTY_COUNTER, Component, Sensor
from wattprint.errors import ConfigError, SensorPermissionError, SensorUnavailable

__all__ = [
    "RaplSensor", "DEFAULT_POWERCAP_ROOT", "POWERCAP_ROOT_VAR", "powercap_root", "resolve_powercap_root", "check_powercap_root",
    "find_rapl_zones", "RaplZone", "zone_summary",
]

DEFAULT_POWERCAP_ROOT = "/sys/class/powercap"
POWERCAP_ROOT_VAR = "WATTPRINT_POWERCAP_ROOT"
_ZONE_RE = re.compile(r"^(?:intel|amd)-rapl:(\d+)$")
_SUBZONE_RE = re.compile(r"^(?:intel|amd)-rapl:(\d+):(\d+)$")
_MAX_PACKAGE_W = 1_500.0  # a generous ceiling for the impossible-jump check
_MAX_DRAM_W = 600.0

PERMISSION_FIX = (
    "RAPL energy counters are readable only by root since Linux 5.10. Fix: run as root, or "
    "grant read access once with `sudo chmod -R a+r /sys/class/powercap/intel-rapl*` (or a udev rule); "
    "until then CPU and DRAM energy are estimated."
)


def resolve_powercap_root(root: Optional[str] = None, env: Optional[Mapping[str, str]] = None) -> Tuple[str, Optional[str]]:
    """``(path, setting)``: the argument (setting ``"powercap_root"``), else ``WATTPRINT_POWERCAP_ROOT``
    from ``env`` (``os.environ`` when ``None``), else the default root (setting ``None``)."""
    if root:
        return root, "powercap_root"
    from_env = (os.environ if env is None else env).get(POWERCAP_ROOT_VAR)
    if from_env:
        return from_env, POWERCAP_ROOT_VAR
    return DEFAULT_POWERCAP_ROOT, None


def powercap_root(root: Optional[str] = None, env: Optional[Mapping[str, str]] = None) -> str:
    """The powercap root: the argument, else ``WATTPRINT_POWERCAP_ROOT`` in ``env``, else the default."""
    return resolve_powercap_root(root, env)[0]


def check_powercap_root(root: Optional[str] = None, env: Optional[Mapping[str, str]] = None) -> str:
    """The resolved root, checked: a root that was asked for must be a directory.

    Raises:
        ConfigError: the argument or ``WATTPRINT_POWERCAP_ROOT`` names a path that is not a directory.
        SensorUnavailable: the default root does not exist (no powercap on this host).
    """
    path, setting = resolve_powercap_root(root, env)
    if os.path.isdir(path):
        return path
    if setting is None:
        raise SensorUnavailable(f"no powercap tree at {path} (no RAPL on this host)")
    what = "is not a directory" if os.path.exists(path) else "does not exist"
    raise ConfigError(setting, f"powercap root {path!r} {what}; give the sysfs powercap directory "
                               f"(default {DEFAULT_POWERCAP_ROOT}) or leave it unset")


@dataclass(frozen=True)
class RaplZone:
    component_id: str
    kind: str  # "cpu" or "dram"
    name: str
    path: str  # the zone directory

    @property
    def energy_file(self) -> str:
        return os.path.join(self.path, "energy_uj")


def _read_text(path: str) -> str:
    with open(path, "r", encoding="ascii") as fh:
        return fh.read().strip()


def _named_zones(parent: str, pattern: "re.Pattern[str]") -> Iterator[Tuple["re.Match[str]", str, str]]:
    """``(match, zone dir, zone name)`` for each entry of ``parent`` matching ``pattern``; unreadable ones skipped."""
    try:
        entries = sorted(os.listdir(parent))
    except OSError:
        return
    for entry in entries:
        m = pattern.match(entry)
        if not m:
            continue
        zone_dir = os.path.join(parent, entry)
        try:
            yield m, zone_dir, _read_text(os.path.join(zone_dir, "name"))
        except OSError:
            continue


def find_rapl_zones(root: str) -> List[RaplZone]:
    """The package and DRAM zones under ``root``, sorted by id. No reads of energy."""
    zones: List[RaplZone] = []
    for m, zone_dir, name in _named_zones(root, _ZONE_RE):
        if name.startswith("package-"):
            socket = name.split("-", 1)[1]
            zones.append(RaplZone(f"cpu:package-{socket}", "cpu", name, zone_dir))
            for _sm, sub_dir, sub_name in _named_zones(zone_dir, _SUBZONE_RE):
                if sub_name == "dram":
                    zones.append(RaplZone(f"dram:{socket}", "dram", f"dram (package-{socket})", sub_dir))
        elif name == "dram":  # some platforms expose DRAM as a top-level zone
            zones.append(RaplZone(f"dram:{m.group(1)}", "dram", "dram", zone_dir))
        # psys, and anything else at top level, is a superset or unknown: not counted.
    return zones


class RaplSensor(Sensor):
    """Energy of CPU packages and DRAM from RAPL counters.

    Args:
        root: powercap root; else ``WATTPRINT_POWERCAP_ROOT`` in ``env``, else the default.
        env: environment to read the variable from (``os.environ`` when ``None``).

    Raises:
        ConfigError: ``root`` or the variable names a path that does not exist.
        SensorUnavailable: the default root is missing, or no package zone under the root.
        SensorPermissionError: ``energy_uj`` exists but is not readable.
    """

    name = "rapl"
    mode = "counter"

    def __init__(self, root: Optional[str] = None, env: Optional[Mapping[str, str]] = None) -> None:
        super().__init__()
        self.root = check_powercap_root(root, env)
        self._zones = find_rapl_zones(self.root)
        if not any(z.kind == "cpu" for z in self._zones):
            raise SensorUnavailable(f"no RAPL package zone under {self.root}")
        self._counters: Dict[str, EnergyCounter] = {}
        self._energy_j: Dict[str, float] = {}
        self._last_ok_s: Dict[str, float] = {}
        self._fds: Dict[str, int] = {}  # component id -> kept descriptor of its energy_uj
        for zone in self._zones:
            try:
                max_range = int(_read_text(os.path.join(zone.path, "max_energy_range_uj")))
            except (OSError, ValueError):
                max_range = 2**32 - 1
            if max_range <= 0:  # a broken zone (0 or negative): the common 32-bit range, never a crash at start
                max_range = 2**32 - 1
            try:
                _read_text(zone.energy_file)
            except PermissionError as err:
                raise SensorPermissionError(f"cannot read {zone.energy_file}. {PERMISSION_FIX}") from err
            limit = _MAX_PACKAGE_W if zone.kind == "cpu" else _MAX_DRAM_W
            self._counters[zone.component_id] = EnergyCounter(scale_j=1e-6, max_range=max_range, max_power_w=limit)
            self._energy_j[zone.component_id] = 0.0

    def components(self) -> List[Component]:
        return [
            Component(
                id=z.component_id,
                kind=z.kind,
                name=z.name if z.kind == "dram" else cpu_model_name(),
                source="rapl",
                measured=True,
                uncertainty_rel=UNCERTAINTY_COUNTER,
                scope="node",
                info={"zone": os.path.basename(z.path)},
            )
            for z in self._zones
        ]

    def _fd(self, zone: RaplZone) -> int:
        fd = self._fds.get(zone.component_id)
        if fd is None:
            fd = self._fds[zone.component_id] = os.open(zone.energy_file, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        return fd

    def _drop_fd(self, cid: str) -> None:
        fd = self._fds.pop(cid, None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def read(self, now_s: float) -> Mapping[str, float]:
        out: Dict[str, float] = {}
        pread, fds = os.pread, self._fds
        for zone in self._zones:
            cid = zone.component_id
            try:
                fd = fds.get(cid)
                raw = int(pread(fd if fd is not None else self._fd(zone), 32, 0))
            except (OSError, ValueError):
                self._drop_fd(cid)  # reopened next time
                continue  # missing this time: the sampler records the gap
            step = self._counters[cid].update_fast(raw, now_s)
            if isinstance(step, CounterStep):
                if step.is_gap:
                    self.record_gap(cid, self._last_ok_s.get(cid, now_s), now_s, f"rapl counter {step.event}")
                delta_j = step.delta_j
            else:
                delta_j = step
            out[cid] = energy_j = self._energy_j[cid] + delta_j
            self._energy_j[cid] = energy_j
            self._last_ok_s[cid] = now_s
        return out

    def close(self) -> None:
        for cid in list(self._fds):
            self._drop_fd(cid)
        super().close()

    def __del__(self) -> None:
        try:
            for fd in self._fds.values():
                os.close(fd)
        except Exception:
            pass


def zone_summary(root: Optional[str] = None, env: Optional[Mapping[str, str]] = None) -> Tuple[str, List[RaplZone]]:
    """``(root, zones)`` for a report (``benchmarks/run.py``); reads nothing but names."""
    r = powercap_root(root, env)
    return r, find_rapl_zones(r)
