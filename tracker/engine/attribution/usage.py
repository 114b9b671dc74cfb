"""The job's CPU time and resident memory, sampled from ``/proc`` (or its cgroup).

The job is the process tree under a root pid: this process, or under torchrun
(``TORCHELASTIC_RUN_ID`` set) its parent, the elastic agent, so every local rank is in it.
Every ``tree_refresh_s`` the tree is walked again, unless no process (or thread) was created on the
node since the last walk (``processes`` in ``/proc/stat``): then it cannot have gained a member. A GPU
listing a pid the tree does not hold asks for a walk at the next sample (:meth:`JobUsage.rediscover`),
so a new child on a GPU is the job's one sample later. In between, only the known pids are read (one
``stat`` file each, kept open; this process itself, on the real ``/proc``, through ``times(2)``, the
same counters without the file); a pid that exited drops out at once. Resident memory and the node's
memory move slowly: they are read with the tree (every ``tree_refresh_s``). CPU time counted per interval::

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
from os import times
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
        self._order: Tuple[int, ...] = ()  # the pids read on every sample
        self._stale = False
        self._forks: Optional[int] = None
        self.walks = 0  # tree walks so far
        self._rss = 0
        self._solo = False  # the tree is this process alone (read through times(2))
        self.memory = True  # read resident and used memory (the attributor clears it when no RAM is split)
        self.cpu = True  # read the node's CPU time and the cgroup's counter (the attributor clears it when no CPU or RAM is split)
        own = proc.stat(me) if proc.real and me == os.getpid() else None
        self._own: Optional[Tuple[int, int]] = (me, own.start_ticks) if own is not None else None

    @property
    def stale(self) -> bool:
        """A walk was asked for (:meth:`rediscover`): the next sample should come at once."""
        return self._stale

    def rediscover(self) -> None:
        """Walk the tree again at the next sample (a GPU listed a pid that the tree does not hold)."""
        self._stale = True

    def _refresh(self, now_s: float) -> None:
        forks = self.proc.forks()  # read before the walk: a process created during it is seen by the next
        if self._stale or forks is None or forks != self._forks:  # else no process was created on the node
            self._forks = forks
            self.pids = self.proc.tree(self.root_pid)
            self.pids_seen |= self.pids
            self._order = tuple(self.pids | self._known.keys())
            self.walks += 1
        self._stale = False
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

    def _sample_tree(self, first: bool, refreshed: bool, memory: bool) -> None:
        """Read every pid of the tree (and those still alive from before) and add the job's new ticks."""
        known = self._known
        d_full = d_child = rss = 0
        alive: Dict[int, Tuple[int, int, int]] = {}
        stat_kept = self.proc.stat_kept
        own_pid, own_start = self._own or (None, 0)
        for pid in self._order:
            if pid == own_pid:  # this process on the real /proc: times(2), the same counters as its stat
                tms = times()
                child = round((tms[2] + tms[3]) * CLK_TCK)
                total = round((tms[0] + tms[1]) * CLK_TCK) + child
                start = own_start
                if memory:
                    st = stat_kept(pid)
                    rss += st.rss_bytes if st is not None else 0
            else:
                st = stat_kept(pid)
                if st is None:
                    continue
                child = st.child_ticks
                total = st.self_ticks + child
                start = st.start_ticks
                rss += st.rss_bytes
            prev = known.get(pid)
            if prev is not None and prev[0] == start:
                d_full += total - prev[1]
                d_child += child - prev[2]
            elif not first:
                d_full += total
            alive[pid] = (start, total, child)
        if memory:
            self._rss = rss
        vanished = 0
        self._known = alive
        if refreshed or len(alive) != len(self._order):  # else the same pids as the last sample, all alive
            vanished = sum(v[1] for pid, v in known.items() if pid not in alive)
            if len(alive) != len(self._order):  # a process exited: dropped from the reads
                self._order = tuple(alive)
            if alive.keys() != self.pids:  # ...and from the tree (kept: those still alive from before)
                self.pids = set(alive) | {self.root_pid}
                self.pids_seen |= self.pids
        self._solo = own_pid is not None and self._order == (own_pid,) and own_pid in alive
        self._job_ticks += max(0, d_full - min(vanished, max(0, d_child)))

    def sample(self, now_s: float) -> Optional[UsageSample]:
        """The counters now; ``None`` when ``/proc/stat`` cannot be read. With :attr:`cpu` cleared, only the tree
        is sampled (its pids, for the GPUs' lists): ``node_busy``/``node_total`` are 0, ``job_ticks`` the tree's."""
        proc = self.proc
        cpu = self.cpu
        node = proc.node_cpu() if cpu else None
        if node is not None:
            self.n_cpus = node.n_cpus
        elif cpu:
            return None
        last_refresh = self._last_refresh_s
        first = last_refresh is None
        refreshed = first or self._stale or now_s - last_refresh >= self.tree_refresh_s  # type: ignore[operator]
        if refreshed:
            self._refresh(now_s)
        memory = self.memory and refreshed  # resident memory moves slowly: summed when the tree is due
        if self._solo and not refreshed:  # the tree is this process alone: no file to read
            tms = times()
            child = round((tms[2] + tms[3]) * CLK_TCK)
            total = round((tms[0] + tms[1]) * CLK_TCK) + child
            own = self._own[0]  # type: ignore[index]
            prev = self._known[own]
            self._known[own] = (prev[0], total, child)
            self._job_ticks += max(0, total - prev[1])
        else:
            self._sample_tree(first, refreshed, memory)
        job_ticks, via_cgroup = self._job_ticks, False
        if cpu and self.cgroup_is_job and self.cgroup is not None:
            used = self.cgroup.usage_s()
            if used is not None:
                if self._cg_base is None:
                    self._cg_base = used
                job_ticks, via_cgroup = (used - self._cg_base) * CLK_TCK, True
        if self.memory and (refreshed or self._used_mem is None):  # memory moves slowly: read with the tree
            mem = proc.meminfo()
            self._used_mem = max(0, mem[0] - mem[1]) if mem else None
        if node is None:
            return UsageSample(0, 0, job_ticks, self._rss, self._used_mem, via_cgroup)
        return UsageSample(node.busy_ticks, node.total_ticks, job_ticks, self._rss, self._used_mem, via_cgroup)
