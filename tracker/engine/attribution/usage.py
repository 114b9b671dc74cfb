"""The job's CPU time and resident memory, sampled from ``/proc`` (or its cgroup).

The job is the process tree under a root pid: this process, or under torchrun
(``TORCHELASTIC_RUN_ID`` set) its parent, the elastic agent, so every local rank is in it.
The tree is walked again every ``tree_refresh_s``; in between only the known pids are read
(one ``stat`` file each, kept open); the node's memory is read with the tree. CPU time counted per interval::

    Δjob = Σ_{alive in both} Δ(utime+stime+cutime+cstime) + Σ_{new} (utime+stime+cutime+cstime)
           − min(Σ_{vanished} last total, Σ Δ(cutime+cstime))

(a reaped child's time moves into its parent's ``cutime``: it is not counted twice). When the
job's cgroup holds only the job (its pids are the tree or the tree's ancestors, or it is the
SLURM job's ``job_<SLURM_JOB_ID>`` cgroup), the cgroup's own usage counter is used instead
(it also sees processes that left the tree), and the method is ``cgroup``.

Units: ticks (USER_HZ) for CPU time, bytes for memory.

Failure modes: none raise; an unreadable ``/proc/stat`` makes :meth:`JobUsage.sample` return
``None`` for the CPU part (the attributor reports such intervals as the node's).
"""

from __future__ import annotations

import os
from typing import Dict, Mapping, NamedTuple, Optional, Set, Tuple

from wattprint.engine.attribution.cgroup import Cgroup
from wattprint.engine.attribution.procfs import ProcReader

__all__ = ["JobUsage", "UsageSample", "CLK_TCK"]

try:
    CLK_TCK = os.sysconf("SC_CLK_TCK")
except (ValueError, OSError, AttributeError):  # pragma: no cover
    CLK_TCK = 100


class UsageSample(NamedTuple):
    """Cumulative counters at one moment (ticks), and memory now (bytes)."""

    node_busy: int
    node_total: int
    job_ticks: float
    rss_bytes: int
    mem_used_bytes: Optional[int]
    via_cgroup: bool


class JobUsage:
    """Samples the job's cumulative CPU ticks and resident memory."""

    def __init__(self, proc: ProcReader, cgroup: Optional[Cgroup], env: Mapping[str, str],
                 tree_refresh_s: float = 10.0) -> None:  # fmt: skip
        self.proc = proc
        self.cgroup = cgroup
        self.tree_refresh_s = tree_refresh_s
        me = proc.self_pid()
        self.root_pid = me
        if env.get("TORCHELASTIC_RUN_ID"):
            st = proc.stat(me)
            if st is not None and st.ppid > 1:
                self.root_pid = st.ppid
        self.env = env
        self.pids: Set[int] = set()
        self.pids_seen: Set[int] = set()
        self._known: Dict[int, Tuple[int, int, int]] = {}  # pid -> (start, total ticks, child ticks)
        self._job_ticks = 0.0
        self._last_refresh_s: Optional[float] = None
        self._cg_base: Optional[float] = None
        self.cgroup_is_job = False
        self.n_cpus = 1
        self._used_mem: Optional[int] = None

    def _refresh(self, now_s: float) -> None:
        self.pids = self.proc.tree(self.root_pid)
        self.pids_seen |= self.pids
        cg = self.cgroup
        if cg is not None and self._last_refresh_s is None:  # decided once: the counter must not switch mid-run
            job_id = self.env.get("SLURM_JOB_ID")
            if job_id and f"job_{job_id}" in cg.path:
                self.cgroup_is_job = True
            else:
                members = cg.procs()
                allowed = self.pids | set(self.proc.ancestors(self.root_pid))
                self.cgroup_is_job = bool(members) and set(members or ()) <= allowed and cg.path not in ("", "/")
        self._last_refresh_s = now_s

    def sample(self, now_s: float) -> Optional[UsageSample]:
        node = self.proc.node_cpu()
        if node is None:
            return None
        self.n_cpus = node.n_cpus
        first = self._last_refresh_s is None
        refreshed = first or now_s - (self._last_refresh_s or 0.0) >= self.tree_refresh_s
        if refreshed:
            self._refresh(now_s)
        known = self._known
        stats = self.proc.stats(self.pids if len(known) <= 1 and len(self.pids) <= 1 else self.pids | set(known))
        d_full = d_child = 0
        alive: Dict[int, Tuple[int, int, int]] = {}
        rss = 0
        for st in stats:
            total = st.self_ticks + st.child_ticks
            prev = self._known.get(st.pid)
            if prev is not None and prev[0] == st.start_ticks:
                d_full += total - prev[1]
                d_child += st.child_ticks - prev[2]
            elif not first:
                d_full += total
            alive[st.pid] = (st.start_ticks, total, st.child_ticks)
            rss += st.rss_bytes
        vanished = sum(v[1] for pid, v in known.items() if pid not in alive) if len(alive) != len(known) or alive.keys() != known.keys() else 0
        self._known = alive
        if alive.keys() != self.pids:
            self.pids = set(alive) | {self.root_pid}
            self.pids_seen |= self.pids
        self._job_ticks += max(0, d_full - min(vanished, max(0, d_child)))
        job_ticks, via_cgroup = self._job_ticks, False
        if self.cgroup_is_job and self.cgroup is not None:
            used = self.cgroup.usage_s()
            if used is not None:
                if self._cg_base is None:
                    self._cg_base = used
                job_ticks, via_cgroup = (used - self._cg_base) * CLK_TCK, True
        if refreshed or self._used_mem is None:  # memory moves slowly: read with the tree
            mem = self.proc.meminfo()
            self._used_mem = max(0, mem[0] - mem[1]) if mem else None
        return UsageSample(node.busy_ticks, node.total_ticks, job_ticks, rss, self._used_mem, via_cgroup)
