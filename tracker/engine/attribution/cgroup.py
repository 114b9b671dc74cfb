"""The job's cgroup (v2 or v1): CPU quota, cpuset, CPU usage and member processes.

The cgroup path comes from ``<proc root>/self/cgroup``; the hierarchy is under
``WATTPRINT_CGROUP_ROOT`` (tests point it at a fake tree from
:mod:`wattprint.testing.procfs`), else ``/sys/fs/cgroup``. Files read:

- v2 (line ``0::/path``; the unified tree at the root, or at ``<root>/unified`` on hybrid hosts):
  ``cpu.max`` (``"<quota_us> <period_us>"`` or ``"max <period_us>"``, the tightest on the
  path up to the root counts), ``cpuset.cpus.effective`` (``"0-3,8"``), ``cpu.stat``
  (``usage_usec``), ``cgroup.procs``.
- v1 (``N:cpu,cpuacct:/path`` and ``N:cpuset:/path``): ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us``
  (quota ``-1`` is none), ``cpuset.effective_cpus`` (or ``cpuset.cpus``), ``cpuacct.usage`` (ns),
  ``cgroup.procs``.

:func:`cpu_reservation` turns the quota, the cpuset and the SLURM allocation
(``SLURM_CPUS_ON_NODE``) into the CPUs the job reserved.

Units: CPU counts (fractional for a quota), usage in seconds.

Failure modes: none raise; a missing or unreadable file means "not limited" / "unknown".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple

__all__ = ["CGROUP_ROOT_VAR", "DEFAULT_CGROUP_ROOT", "Cgroup", "read_cgroup", "parse_cpu_list", "cpu_reservation", "cgroup_root"]

CGROUP_ROOT_VAR = "WATTPRINT_CGROUP_ROOT"
DEFAULT_CGROUP_ROOT = "/sys/fs/cgroup"


def cgroup_root(env: Optional[Mapping[str, str]] = None) -> Tuple[str, bool]:
    """``(root, injected)``: ``WATTPRINT_CGROUP_ROOT`` from ``env``, else ``/sys/fs/cgroup``."""
    raw = (os.environ if env is None else env).get(CGROUP_ROOT_VAR)
    return (raw, True) if raw else (DEFAULT_CGROUP_ROOT, False)


def _read(path: str) -> Optional[str]:
    try:
        with open(path, "r", encoding="ascii", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return None


def parse_cpu_list(text: str) -> Optional[int]:
    """The number of CPUs in a cpuset list such as ``"0-3,8,10-11"`` (``None`` if unparsable or empty)."""
    n = 0
    for part in text.replace("\n", ",").split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            n += (int(hi) - int(lo) + 1) if hi else 1
        except ValueError:
            return None
    return n or None


@dataclass
class Cgroup:
    """Where the job's cgroup is and what it limits.

    Attributes:
        version: 2 or 1.
        path: the cgroup path (``/kubepods/...``, ``/system.slice/slurmstepd.scope/job_42/step_0``).
        cpu_dir, cpuset_dir: directories holding the CPU and cpuset files.
        quota_cpus: ``quota / period`` (tightest on the path), ``None`` when unlimited.
        cpuset_cpus: CPUs in the effective cpuset, ``None`` when unknown.
    """

    version: int
    path: str
    cpu_dir: str
    cpuset_dir: str
    quota_cpus: Optional[float] = None
    cpuset_cpus: Optional[int] = None
    notes: List[str] = field(default_factory=list)

    def usage_s(self) -> Optional[float]:
        """CPU time used by every process in the cgroup since it was created, seconds."""
        if self.version == 2:
            text = _read(os.path.join(self.cpu_dir, "cpu.stat"))
            for line in (text or "").splitlines():
                if line.startswith("usage_usec"):
                    try:
                        return int(line.split()[1]) / 1e6
                    except (ValueError, IndexError):
                        return None
            return None
        text = _read(os.path.join(self.cpu_dir, "cpuacct.usage"))
        try:
            return int(text) / 1e9 if text else None
        except ValueError:
            return None

    def procs(self) -> Optional[List[int]]:
        """The pids in the cgroup (``None`` if unreadable)."""
        text = _read(os.path.join(self.cpu_dir, "cgroup.procs"))
        if text is None:
            return None
        return [int(x) for x in text.split() if x.isdigit()]

    def to_dict(self) -> Dict[str, object]:
        return {"version": self.version, "path": self.path, "quota_cpus": self.quota_cpus, "cpuset_cpus": self.cpuset_cpus}


def _parse_self_cgroup(text: str) -> Tuple[Optional[str], Dict[str, str]]:
    v2: Optional[str] = None
    v1: Dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hier, ctrls, path = parts
        if hier == "0" and ctrls == "":
            v2 = path
        else:
            for c in ctrls.split(","):
                if c:
                    v1[c] = path
    return v2, v1


def _join(root: str, path: str) -> str:
    return os.path.join(root, path.lstrip("/"))


def _tightest_quota(root: str, path: str, reader) -> Optional[float]:  # type: ignore[no-untyped-def]
    best: Optional[float] = None
    p = path
    while True:
        q = reader(_join(root, p))
        if q is not None and (best is None or q < best):
            best = q
        if p in ("", "/"):
            return best
        p = os.path.dirname(p.rstrip("/")) or "/"


def _v2_quota(d: str) -> Optional[float]:
    text = _read(os.path.join(d, "cpu.max"))
    if not text:
        return None
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        return int(parts[0]) / int(parts[1])
    except (ValueError, ZeroDivisionError):
        return None


def _v1_quota(d: str) -> Optional[float]:
    q, p = _read(os.path.join(d, "cpu.cfs_quota_us")), _read(os.path.join(d, "cpu.cfs_period_us"))
    try:
        quota, period = int(q or "-1"), int(p or "0")
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def read_cgroup(proc_root: str, root: str) -> Optional[Cgroup]:
    """The job's cgroup from ``<proc_root>/self/cgroup`` under the hierarchy at ``root`` (``None`` if none is found)."""
    text = _read(os.path.join(proc_root, "self", "cgroup"))
    if not text:
        return None
    v2, v1 = _parse_self_cgroup(text)
    cpu_path = v1.get("cpu") or v1.get("cpuacct")
    if cpu_path is not None:
        cpu_dir = next((d for d in (_join(os.path.join(root, n), cpu_path) for n in ("cpu,cpuacct", "cpu", "cpuacct"))
                        if os.path.isdir(d)), None)  # fmt: skip
        if cpu_dir is not None:
            ctrl_root = cpu_dir[: len(cpu_dir) - len(cpu_path.lstrip("/"))]
            cs_path = v1.get("cpuset", cpu_path)
            cs_dir = _join(os.path.join(root, "cpuset"), cs_path)
            cg = Cgroup(1, cpu_path, cpu_dir, cs_dir)
            cg.quota_cpus = _tightest_quota(ctrl_root, cpu_path, _v1_quota)
            cs = _read(os.path.join(cs_dir, "cpuset.effective_cpus")) or _read(os.path.join(cs_dir, "cpuset.cpus"))
            cg.cpuset_cpus = parse_cpu_list(cs) if cs else None
            return cg
    if v2 is not None:
        for unified in (root, os.path.join(root, "unified")):
            d = _join(unified, v2)
            if os.path.isdir(d) and (os.path.exists(os.path.join(d, "cgroup.procs")) or os.path.exists(os.path.join(d, "cpu.stat"))):
                cg = Cgroup(2, v2, d, d)
                cg.quota_cpus = _tightest_quota(unified, v2, _v2_quota)
                cs = _read(os.path.join(d, "cpuset.cpus.effective"))
                cg.cpuset_cpus = parse_cpu_list(cs) if cs else None
                return cg
    return None


def cpu_reservation(cg: Optional[Cgroup], env: Mapping[str, str], n_cpus: int) -> Optional[Tuple[float, str]]:
    """``(cpus, source)`` the job reserved on this node, or ``None`` when nothing says so.

    The tightest of the cgroup's quota, its cpuset and SLURM's ``SLURM_CPUS_ON_NODE``; a
    reservation of the whole node (or more) is no reservation.
    """
    found: List[Tuple[float, str]] = []
    if cg is not None and cg.quota_cpus is not None:
        found.append((cg.quota_cpus, "cgroup cpu quota"))
    if cg is not None and cg.cpuset_cpus is not None:
        found.append((float(cg.cpuset_cpus), "cgroup cpuset"))
    raw = env.get("SLURM_CPUS_ON_NODE")
    if raw and env.get("SLURM_JOB_ID"):
        try:
            found.append((float(int(raw)), "SLURM allocation (SLURM_CPUS_ON_NODE)"))
        except ValueError:
            pass
    found = [f for f in found if 0 < f[0] < n_cpus]
    return min(found) if found else None
