"""Fake ``/proc`` and cgroup trees, laid out like Linux's, for ``WATTPRINT_PROC_ROOT`` / ``WATTPRINT_CGROUP_ROOT``.

``/proc`` (:class:`FakeProc`)::

    stat                      "cpu  user nice system idle iowait irq softirq steal 0 0" + "cpuN ..." lines (ticks)
    meminfo                   "MemTotal:  N kB", "MemAvailable:  N kB"
    <pid>/stat                "<pid> (<comm>) S <ppid> ... utime stime cutime cstime ... starttime vsize rss ..."
    <pid>/task/<pid>/children "c1 c2 " (CONFIG_PROC_CHILDREN)
    <pid>/cgroup, self -> <self pid>

cgroup (:class:`FakeCgroup`), v2: ``<root>/<path>/{cpu.max, cpuset.cpus.effective, cpu.stat, cgroup.procs}``;
v1: ``<root>/cpu,cpuacct/<path>/{cpu.cfs_quota_us, cpu.cfs_period_us, cpuacct.usage, cgroup.procs}`` and
``<root>/cpuset/<path>/cpuset.effective_cpus``.

Times are clock ticks (USER_HZ, 100 per second) in ``/proc``, µs (v2) or ns (v1) in cgroups,
as the kernel writes them.

Failure modes: an unknown pid raises ``KeyError``; :meth:`FakeProc.exit` removes the process
(optionally reaping its times into the parent's ``cutime``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = ["FakeProc", "FakeCgroup", "TICKS_PER_S"]

TICKS_PER_S = 100


@dataclass
class _P:
    pid: int
    ppid: int
    comm: str
    utime: int = 0
    stime: int = 0
    cutime: int = 0
    cstime: int = 0
    start: int = 0
    rss_pages: int = 25_600  # 100 MiB


class FakeProc:
    """A fake ``/proc`` with ``cpus`` CPUs; the process ``self_pid`` is the job's root (``self``)."""

    def __init__(self, root: Path, *, cpus: int = 2, self_pid: int = 4242, mem_total_kb: int = 16_000_000,
                 mem_available_kb: int = 8_000_000, children_files: bool = True) -> None:  # fmt: skip
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.cpus = cpus
        self.children_files = children_files
        self.busy = [0] * cpus
        self.idle = [0] * cpus
        self.forks = 1  # "processes" in stat: every add() is a fork, as the kernel counts them
        self.procs: Dict[int, _P] = {}
        self.self_pid = self_pid
        self.set_memory(mem_total_kb, mem_available_kb)
        self._write_stat()
        self.add(self_pid, ppid=1, comm="python")
        os.symlink(str(self_pid), self.root / "self")

    # -- node -----------------------------------------------------------------
    def set_memory(self, total_kb: int, available_kb: int) -> None:
        (self.root / "meminfo").write_text(f"MemTotal:       {total_kb} kB\nMemFree:        {available_kb // 2} kB\n"
                                           f"MemAvailable:   {available_kb} kB\n")  # fmt: skip

    def node_ticks(self, busy: int, idle: int = 0) -> None:
        """Advance the node's busy and idle ticks (spread over the CPUs)."""
        for i in range(self.cpus):
            self.busy[i] += busy // self.cpus + (1 if i < busy % self.cpus else 0)
            self.idle[i] += idle // self.cpus + (1 if i < idle % self.cpus else 0)
        self._write_stat()

    def _write_stat(self) -> None:
        lines = [f"cpu  {sum(self.busy)} 0 0 {sum(self.idle)} 0 0 0 0 0 0"]
        lines += [f"cpu{i} {self.busy[i]} 0 0 {self.idle[i]} 0 0 0 0 0 0" for i in range(self.cpus)]
        lines += ["intr 0", "ctxt 0", "btime 1700000000", f"processes {self.forks}"]
        (self.root / "stat").write_text("\n".join(lines) + "\n")

    # -- processes ------------------------------------------------------------
    def add(self, pid: int, *, ppid: int = 1, comm: str = "worker", rss_pages: int = 25_600, start: int = 0) -> None:
        self.procs[pid] = _P(pid, ppid, comm, rss_pages=rss_pages, start=start)
        self.forks += 1
        self._write_stat()
        (self.root / str(pid) / "task" / str(pid)).mkdir(parents=True, exist_ok=True)
        self._write(pid)
        if ppid in self.procs:
            self._write_children(ppid)

    def run(self, pid: int, ticks: int, *, system: int = 0) -> None:
        """``pid`` used ``ticks`` of user time (and ``system`` of system time); the node's busy time grows too."""
        p = self.procs[pid]
        p.utime += ticks
        p.stime += system
        self._write(pid)
        self.node_ticks(ticks + system)

    def set_rss(self, pid: int, pages: int) -> None:
        self.procs[pid].rss_pages = pages
        self._write(pid)

    def exit(self, pid: int, *, reap: bool = True) -> None:
        """The process exits; with ``reap`` its times go into its parent's ``cutime``/``cstime``."""
        p = self.procs.pop(pid)
        parent = self.procs.get(p.ppid)
        if reap and parent is not None:
            parent.cutime += p.utime + p.cutime
            parent.cstime += p.stime + p.cstime
            self._write(parent.pid)
        for f in sorted((self.root / str(pid)).rglob("*"), reverse=True):
            f.rmdir() if f.is_dir() else f.unlink()
        (self.root / str(pid)).rmdir()
        if parent is not None:
            self._write_children(parent.pid)

    def set_cgroup(self, text: str, pid: Optional[int] = None) -> None:
        (self.root / str(pid or self.self_pid) / "cgroup").write_text(text)

    def _write(self, pid: int) -> None:
        p = self.procs[pid]
        fields = ["S", p.ppid, p.pid, p.pid, 0, -1, 4194304, 0, 0, 0, 0, p.utime, p.stime, p.cutime, p.cstime, 20, 0,
                  1, 0, p.start, 1 << 30, p.rss_pages] + [0] * 28  # fmt: skip
        (self.root / str(pid) / "stat").write_text(f"{pid} ({p.comm}) " + " ".join(str(f) for f in fields) + "\n")

    def _write_children(self, pid: int) -> None:
        if not self.children_files:
            return
        kids = [str(c.pid) for c in self.procs.values() if c.ppid == pid]
        (self.root / str(pid) / "task" / str(pid) / "children").write_text(" ".join(kids) + (" " if kids else ""))


class FakeCgroup:
    """A cgroup at ``path`` under ``root`` (v2 or v1), holding ``procs``.

    Args:
        cpuset: the effective cpuset list (``"0"``, ``"0-3"``), or ``None`` for none.
        quota: ``(quota_us, period_us)`` or ``None`` for unlimited.
    """

    def __init__(self, root: Path, path: str = "/job", *, version: int = 2, cpuset: Optional[str] = None,
                 quota: Optional[Tuple[int, int]] = None, procs: Sequence[int] = ()) -> None:  # fmt: skip
        self.root, self.path, self.version = Path(root), path, version
        rel = path.strip("/")
        if version == 2:
            self.cpu_dir = self.cpuset_dir = self.root / rel
            self.cpu_dir.mkdir(parents=True, exist_ok=True)
            (self.root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
            (self.cpu_dir / "cpu.max").write_text(f"{quota[0]} {quota[1]}\n" if quota else "max 100000\n")
            if cpuset is not None:
                (self.cpu_dir / "cpuset.cpus.effective").write_text(cpuset + "\n")
        else:
            self.cpu_dir = self.root / "cpu,cpuacct" / rel
            self.cpuset_dir = self.root / "cpuset" / rel
            self.cpu_dir.mkdir(parents=True, exist_ok=True)
            self.cpuset_dir.mkdir(parents=True, exist_ok=True)
            (self.cpu_dir / "cpu.cfs_quota_us").write_text(f"{quota[0] if quota else -1}\n")
            (self.cpu_dir / "cpu.cfs_period_us").write_text(f"{quota[1] if quota else 100000}\n")
            if cpuset is not None:
                (self.cpuset_dir / "cpuset.effective_cpus").write_text(cpuset + "\n")
        self.usage_us = 0
        self.set_usage_us(0)
        self.set_procs(procs)

    def self_cgroup_text(self) -> str:
        """What ``/proc/self/cgroup`` says for a process in this cgroup."""
        if self.version == 2:
            return f"0::{self.path}\n"
        return f"4:cpuset:{self.path}\n3:cpu,cpuacct:{self.path}\n1:name=systemd:{self.path}\n"

    def set_usage_us(self, usage_us: int) -> None:
        self.usage_us = usage_us
        if self.version == 2:
            (self.cpu_dir / "cpu.stat").write_text(f"usage_usec {usage_us}\nuser_usec {usage_us}\nsystem_usec 0\n")
        else:
            (self.cpu_dir / "cpuacct.usage").write_text(f"{usage_us * 1000}\n")

    def add_usage_s(self, seconds: float) -> None:
        self.set_usage_us(self.usage_us + int(round(seconds * 1e6)))

    def set_procs(self, pids: Sequence[int]) -> None:
        (self.cpu_dir / "cgroup.procs").write_text("".join(f"{p}\n" for p in pids))

    @property
    def procs(self) -> List[int]:
        return [int(x) for x in (self.cpu_dir / "cgroup.procs").read_text().split()]
