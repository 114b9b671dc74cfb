"""A fake powercap sysfs tree, laid out like /sys/class/powercap on a two-socket server.

    intel-rapl:0/{name=package-0, energy_uj, max_energy_range_uj}
    intel-rapl:0/intel-rapl:0:0/{name=core, ...}
    intel-rapl:0/intel-rapl:0:1/{name=dram, ...}
    intel-rapl:1/...                       (package-1 and its dram)
    intel-rapl:2/{name=psys, ...}          (platform: must never be added)
    intel-rapl-mmio:0/{name=package-0}     (MMIO mirror: must never be added)

Counters are microjoules (``energy_uj``), as in sysfs.

Failure modes: ``get``/``set`` of an unknown zone key raise ``KeyError``; after
``remove(key)`` the zone's ``energy_uj`` is gone, as when a zone disappears.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict


class FakePowercap:
    def __init__(self, root: Path, *, sockets: int = 2, dram: bool = True, psys: bool = True,
                 core: bool = True, mmio: bool = True, max_range_uj: int = 262_143_328_850) -> None:
        self.root = Path(root)
        self.max_range_uj = max_range_uj
        self.zones: Dict[str, Path] = {}
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "intel-rapl").mkdir(exist_ok=True)  # the control-type dir has no energy_uj
        for s in range(sockets):
            pkg = self._zone(self.root / f"intel-rapl:{s}", f"package-{s}", f"cpu:package-{s}")
            if core:
                self._zone(pkg / f"intel-rapl:{s}:0", "core", f"core:{s}")
            if dram:
                self._zone(pkg / f"intel-rapl:{s}:1", "dram", f"dram:{s}")
        if psys:
            self._zone(self.root / f"intel-rapl:{sockets}", "psys", "psys")
        if mmio:
            self._zone(self.root / "intel-rapl-mmio:0", "package-0", "mmio")

    def _zone(self, path: Path, name: str, key: str) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        (path / "name").write_text(name + "\n")
        (path / "max_energy_range_uj").write_text(f"{self.max_range_uj}\n")
        (path / "energy_uj").write_text("1000000\n")
        self.zones[key] = path
        return path

    def get(self, key: str) -> int:
        return int((self.zones[key] / "energy_uj").read_text())

    def set(self, key: str, uj: int) -> None:
        (self.zones[key] / "energy_uj").write_text(f"{uj}\n")

    def add_j(self, key: str, joules: float) -> None:
        """Advance a zone's counter by ``joules``, wrapping at max_energy_range_uj like the kernel."""
        new = self.get(key) + int(round(joules * 1e6))
        if new > self.max_range_uj:
            new -= self.max_range_uj
        self.set(key, new)

    def remove(self, key: str) -> None:
        """The zone goes away: an open descriptor then reads nothing (sysfs answers ENODEV), and the file is gone."""
        path = self.zones[key] / "energy_uj"
        path.write_text("")
        os.unlink(path)
