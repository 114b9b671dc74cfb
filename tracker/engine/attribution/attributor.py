"""The attributor: each interval's node energy, split between this job and the rest.

The ledger calls :meth:`Attributor.observe` after every read with the cumulative joules of
the components it read (:meth:`Attributor.observe_columns`, a list in component order, when it read them all). Deltas wait in ``pending`` until the next usage sample (at most every
``usage_interval_s``, the sampler's interval by default: the GPUs' process lists), which gives each
component's shares for that span; the ``cpu``, ``dram`` and ``ram`` deltas wait for the next
``/proc`` sample (at most every ``cpu_interval_s``; the run layer sets two ticks) (see :mod:`.split`
for the formula and the bounds):

- ``cpu``/``dram`` (node scope): usage share ``s`` = the job's CPU ticks / the node's busy ticks
  (``/proc/stat``); idle share ``r`` = the CPUs it reserved / the node's CPUs (cgroup quota or
  cpuset, SLURM allocation), else ``s``. Method ``process-share`` (``cgroup`` when the cgroup's
  counter or reservation is used).
- ``ram``: ``s`` = the tree's resident memory / the node's used memory (``MemTotal − MemAvailable``).
- ``gpu``: from the sensor's :meth:`gpu_usage`: alone on it ``exclusive``; shared, by SM
  utilisation (``sm-share``), else used memory or an equal split (``process-share``); a MIG
  instance by its slice of the parent's SMs (``mig-slice``). No process listed: the job's if it
  was seen on it, ``CUDA_VISIBLE_DEVICES`` reserved it, or NVML has listed no process on any
  GPU yet (nothing says otherwise); else nobody's. NVML's pids not in our PID namespace: ``node``.
- any other device-scope component (replay, AMD): ``exclusive``; a node-scope one without
  usage data: ``node``. ``mode="node"``: everything ``node``, kept as sums at share 1 (:mod:`.node`).

Failure modes: :meth:`observe` never raises (an error is logged once and the interval is the
node's); the lock is the caller's (the ledger's), plus our own for :meth:`figures`.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from wattprint.engine.attribution.cgroup import Cgroup, cpu_reservation
from wattprint.engine.attribution.node import NodeAccounts
from wattprint.engine.attribution.split import METHOD_UNCERTAINTY, ComponentAccount
from wattprint.engine.attribution.usage import JobUsage, UsageSample
from wattprint.engine.sensors.base import Component, Sensor

__all__ = ["Attributor"]

logger = logging.getLogger("wattprint")

_CPU_KINDS = ("cpu", "dram")
_USAGE_ROLES = ("cpu", "ram")  # split by the /proc sample (the rest by the GPUs' lists, or not at all)
_U_MEMORY_SPLIT = 0.25
_U_EQUAL_SPLIT = 0.5
_U_RSS = 0.25  # resident memory counts shared pages once per process
_NODE: Tuple[float, Optional[float], str, Optional[float]] = (1.0, None, "node", 0.0)
_EXCLUSIVE: Tuple[float, Optional[float], str, Optional[float]] = (1.0, None, "exclusive", 0.0)


class Attributor:
    """Splits each component's node energy into the job's part and the unattributed rest.

    Args:
        components: the ledger's components; sensors: their sensors (for GPU usage).
        mode: ``"job"`` or ``"node"``.
        usage: the job's CPU/memory sampler; ``None`` when CPU and RAM cannot be split.
        cgroup: the job's cgroup (reservation), env: for ``SLURM_*`` and ``CUDA_VISIBLE_DEVICES``.
        idle_power_w: configured idle power by component id or kind, watts.
        usage_interval_s: the shortest span between usage samples (the GPUs' lists), seconds.
        cpu_interval_s: the shortest span between CPU and memory samples (``/proc``), seconds; the
            ``cpu``, ``dram`` and ``ram`` deltas wait for the next one. ``None``: ``usage_interval_s``.
        usage_note: why CPU and RAM are not split (for the footprint).
        split_node: split CPU, DRAM and RAM by usage (else only GPUs; the process tree is still read for them).
    """

    def __init__(self, components: Sequence[Component], sensors: Sequence[Sensor], *, mode: str = "job",
                 usage: Optional[JobUsage] = None, cgroup: Optional[Cgroup] = None, env: Optional[Mapping[str, str]] = None,
                 idle_power_w: Optional[Mapping[str, float]] = None, usage_interval_s: float = 1.0,
                 usage_note: Optional[str] = None, split_node: bool = True,
                 cpu_interval_s: Optional[float] = None) -> None:  # fmt: skip
        self.mode = mode
        self.usage = usage
        self.split_node = split_node
        self.cgroup = cgroup
        self.env = os.environ if env is None else env
        self.usage_interval_s = usage_interval_s
        self.cpu_interval_s = usage_interval_s if cpu_interval_s is None else cpu_interval_s
        self._last_cpu_t: Optional[float] = None
        self.components = {c.id: c for c in components}
        self._ids = [c.id for c in components]  # the order of observe_columns' lists
        self._lock = threading.Lock()
        self._gpu_probe: Dict[str, Sensor] = {}
        for sensor in sensors:
            if callable(getattr(sensor, "gpu_usage", None)):
                for c in sensor.components():
                    if c.kind == "gpu":
                        self._gpu_probe[c.id] = sensor
        self._role = {c.id: _role(c) for c in components}
        if usage is not None:  # memory is read only for a RAM component to split, /proc/stat for a CPU or RAM one
            usage.memory = split_node and "ram" in self._role.values()
            usage.cpu = split_node and any(r in _USAGE_ROLES for r in self._role.values())
        cfg = dict(idle_power_w or {})
        self.accounts: Dict[str, ComponentAccount] = {}
        for c in components:
            idle, source = _idle_for(c, cfg)
            self.accounts[c.id] = ComponentAccount(idle, source)
        self._last_j: Dict[str, float] = {}
        self._last_t: Dict[str, float] = {}
        self._pending: Dict[str, List[float]] = {}
        self._last_usage_t: Optional[float] = None
        self._last_sample: Optional[UsageSample] = None
        self._cpu_share = 0.0
        self._gpu_since: Dict[str, int] = {}
        self._gpu_job_seen: Dict[str, bool] = {}
        self._gpu_evidence = False
        self._gpu_checked: Set[int] = set()  # pids listed on a GPU, not in the tree, already sent for a walk
        self.notes: List[str] = [usage_note] if usage_note and mode == "job" else []
        self.reservation: Optional[Tuple[float, str]] = None
        self._reservation_for = 0
        self._failed_logged = False
        self._node = NodeAccounts([c.id for c in components]) if mode != "job" else None  # share 1: sums only

    # -- the ledger's hook -------------------------------------------------------
    def observe(self, now_s: float, values: Mapping[str, float]) -> None:
        """The ledger read ``values`` (cumulative J per component) at ``now_s``. Never raises."""
        self._observe(now_s, values, None)

    def observe_columns(self, now_s: float, values: List[float]) -> None:
        """As :meth:`observe` when every component was read at ``now_s``: ``values`` in the order of the
        components given at construction (a fresh list, kept). Never raises."""
        self._observe(now_s, None, values)

    def columns_observer(self, ids: Sequence[str]) -> Optional[Callable[[float, List[float]], None]]:
        """:meth:`observe_columns` for a ledger whose components are ``ids`` (it must be this order), else ``None``."""
        return self.observe_columns if list(ids) == self._ids else None

    def _observe(self, now_s: float, values: Optional[Mapping[str, float]], columns: Optional[List[float]]) -> None:
        try:
            with self._lock:
                first = self._last_usage_t is None
                due = first or now_s - self._last_usage_t >= self.usage_interval_s * 0.95  # type: ignore[operator]  # a span ends here
                if self._node is not None:  # node mode: nothing to split, a few sums per component
                    if due:
                        self._last_usage_t = now_s
                    if columns is not None:
                        self._node.observe_columns(now_s, columns, due and not first)
                    else:
                        self._node.observe(now_s, values, due and not first)  # type: ignore[arg-type]
                    return
                last_j, last_t, pending = self._last_j, self._last_t, self._pending
                for cid, value in values.items() if columns is None else zip(self._ids, columns, strict=True):  # type: ignore[union-attr]
                    last = last_j.get(cid)  # only components with an account are kept there
                    if last is None:
                        if cid in self.accounts:
                            last_j[cid], last_t[cid] = value, now_s
                        continue
                    p = pending.get(cid)
                    if p is None:
                        p = pending[cid] = [0.0, 0.0]
                    d_j, dt_s = value - last, now_s - last_t[cid]
                    p[0] += d_j if d_j > 0.0 else 0.0  # max(0, d): a NaN counts 0 too
                    p[1] += dt_s if dt_s > 0.0 else 0.0
                    last_j[cid], last_t[cid] = value, now_s
                if due:
                    self._split(now_s)
        except Exception:  # attribution must never break the run
            if not self._failed_logged:
                self._failed_logged = True
                logger.exception("wattprint: attribution failed; these intervals are the node's")

    def flush(self) -> None:
        """Split what is pending now (before figures are read; in node mode, write the sums into ``accounts``). Never raises."""
        with self._lock:
            node = self._node
            if node is not None:
                try:
                    last_s = node.last_read_s()
                    if node.pending() and last_s is not None:
                        self._last_usage_t = last_s
                        node.split()
                    node.fill(self.accounts)
                except Exception:
                    logger.exception("wattprint: attribution flush failed")
                return
            if any(p[1] > 0 for p in self._pending.values()) and self._last_t:
                try:
                    self._split(max(self._last_t.values()), force=True)
                except Exception:
                    logger.exception("wattprint: attribution flush failed")

    # -- one span ----------------------------------------------------------------
    def _split(self, now_s: float, force: bool = False) -> None:
        first = self._last_usage_t is None
        self._last_usage_t = now_s
        cpu: Optional[Tuple[float, Optional[float], str]] = None
        ram: Optional[float] = None
        job = self.mode == "job"
        usage = self.usage if job else None
        wait = False  # the CPU and memory deltas wait for the next /proc sample
        if usage is not None:
            last_cpu = self._last_cpu_t
            if (force or last_cpu is None or usage.stale or now_s - last_cpu >= self.cpu_interval_s * 0.95):
                self._last_cpu_t = now_s
                sample = usage.sample(now_s)
                prev, self._last_sample = self._last_sample, sample
                if sample is not None and prev is not None and self.split_node:
                    cpu, ram = self._cpu_ram(prev, sample)
            else:
                wait = self.split_node and self._last_sample is not None
        gpu = self._gpus() if job else {}
        if first:
            return
        pending = self._pending
        role, components, accounts = self._role, self.components, self.accounts
        for cid, p in pending.items():  # each span's sums are zeroed once split (kept: no new list per span)
            delta_j, dt_s = p
            if wait and role[cid] in _USAGE_ROLES:
                continue
            p[0] = p[1] = 0.0
            if dt_s <= 0:
                continue
            g = gpu.get(cid) if role[cid] == "gpu" else None  # a GPU's share from its list, else by role
            share, reserved, method, u = g if g is not None else self._share(components[cid], cpu, ram, None)
            accounts[cid].add(delta_j, dt_s, share, reserved, method, u)

    def _cpu_ram(self, prev: UsageSample, now: UsageSample) -> Tuple[Tuple[float, Optional[float], str], Optional[float]]:
        d_busy = now.node_busy - prev.node_busy
        d_job = now.job_ticks - prev.job_ticks
        if d_busy > 0:
            self._cpu_share = min(1.0, max(0.0, d_job / d_busy))
        elif d_job > 0:
            self._cpu_share = 1.0
        n_cpus = self.usage.n_cpus if self.usage is not None else 1
        if self._reservation_for != n_cpus:  # the cgroup and the environment are read once
            self.reservation, self._reservation_for = cpu_reservation(self.cgroup, self.env, n_cpus), n_cpus
        reserved = self.reservation[0] / n_cpus if self.reservation else None
        via_cg = now.via_cgroup or bool(self.reservation and self.reservation[1].startswith("cgroup"))
        method = "cgroup" if via_cg else "process-share"
        ram = min(1.0, now.rss_bytes / now.mem_used_bytes) if now.mem_used_bytes else None
        return (self._cpu_share, reserved, method), ram

    def _share(self, comp: Component, cpu: Optional[Tuple[float, Optional[float], str]], ram: Optional[float],
               gpu: Optional[Tuple[float, Optional[float], str, Optional[float]]]) -> Tuple[float, Optional[float], str, Optional[float]]:  # fmt: skip
        if self.mode != "job":
            return _NODE
        role = self._role[comp.id]
        if role == "gpu":
            return gpu if gpu is not None else (_EXCLUSIVE if comp.scope == "device" else _NODE)
        if role == "cpu":
            return _NODE if cpu is None else (cpu[0], cpu[1], cpu[2], None)
        if role == "ram":
            return _NODE if ram is None else (ram, None, "process-share", _U_RSS)
        return _EXCLUSIVE if role == "device" else _NODE

    def _gpus(self) -> Dict[str, Optional[Tuple[float, Optional[float], str, Optional[float]]]]:
        """Every GPU's share for the span just ended; all are queried first, so one GPU's list informs the others.

        Plain loops, no comprehension: this runs once a tick on a cold cache, where each extra code object costs."""
        usage_src = self.usage
        job_pids = usage_src.pids if usage_src is not None else {os.getpid()}
        since = self._gpu_since
        checked = self._gpu_checked
        seen = []
        for cid, sensor in self._gpu_probe.items():
            usage = sensor.gpu_usage(cid, since.get(cid, 0))  # type: ignore[attr-defined]
            procs = usage.processes if usage is not None else None
            if procs is None:
                continue
            since[cid] = usage.last_seen_us
            mine: List[int] = []
            for pid, _ in procs:
                if pid in job_pids:
                    mine.append(pid)
                elif pid not in checked and usage_src is not None:  # not in the tree: walk it again at the next sample
                    checked.add(pid)
                    usage_src.rediscover()
            if procs:
                self._gpu_evidence = True
                if mine:
                    self._gpu_job_seen[cid] = True
            seen.append((cid, usage, mine))
        out: Dict[str, Optional[Tuple[float, Optional[float], str, Optional[float]]]] = dict.fromkeys(self._gpu_probe)
        job_seen, evidence = self._gpu_job_seen, self._gpu_evidence
        for cid, usage, mine in seen:
            procs = usage.processes
            if not usage.mig and len(mine) == len(procs) and (procs or job_seen.get(cid) or not evidence):
                out[cid] = _EXCLUSIVE  # alone on it, or none listed and nothing says otherwise: what _gpu gives, at once
            else:
                out[cid] = self._gpu(cid, usage, mine)
        return out

    def _gpu(self, cid: str, usage: Any, mine: List[int]) -> Tuple[float, Optional[float], str, Optional[float]]:
        """``(share, reserved, method, u)`` of one GPU for the span just ended."""
        procs = usage.processes
        if not procs:
            reserved = self._gpu_job_seen.get(cid) or not self._gpu_evidence or "CUDA_VISIBLE_DEVICES" in self.env  # env last: a lookup
            inner, method, u = (1.0, "exclusive", 0.0) if reserved else (0.0, "process-share", 0.0)
        elif len(mine) == len(procs):
            inner, method, u = 1.0, "exclusive", 0.0
        elif not mine:
            proc_root = self.usage.proc.root if self.usage is not None else "/proc"
            if not any(os.path.exists(os.path.join(proc_root, str(pid))) for pid, _ in procs):
                self.accounts[cid].notes.add("NVML's process ids are not in this PID namespace (a container?): "
                                             "the GPU's whole energy is reported")  # fmt: skip
                return _NODE
            inner, method, u = 0.0, "process-share", 0.0
        else:
            inner, method, u = _shared_share(procs, set(mine), usage.sm_util)
        if usage.mig:
            if usage.mig_slice is None:
                self.accounts[cid].notes.add("MIG instance whose slice of the parent could not be read: the parent GPU's energy is reported")
                return _NODE
            return usage.mig_slice * inner, None, "mig-slice", None
        return inner, None, method, u

    # -- reading -----------------------------------------------------------------
    def figures(self, u_measured: Mapping[str, float]) -> Dict[str, Dict[str, Any]]:
        """Per component id, the job's figures (see :meth:`ComponentAccount.figures`)."""
        self.flush()
        with self._lock:
            return {cid: acc.figures(u_measured.get(cid, 0.0)) for cid, acc in self.accounts.items()}

    def gpu_unused(self, cid: str) -> bool:
        """True when NVML's lists show the job never used this GPU (in job mode)."""
        acc = self.accounts.get(cid)
        return (self.mode == "job" and cid in self._gpu_probe and self._gpu_evidence and acc is not None
                and not acc.used and not self._gpu_job_seen.get(cid, False))  # fmt: skip

    def section(self) -> Dict[str, Any]:
        """The footprint's ``attribution`` section (mode, job tree, cgroup, reservation, notes)."""
        u = self.usage
        out: Dict[str, Any] = {"mode": self.mode}
        if u is not None:
            out["process_tree"] = {"root_pid": u.root_pid, "pids_seen": len(u.pids_seen), "cpu_counter": "cgroup" if u.cgroup_is_job else "process tree"}
        if self.cgroup is not None:
            out["cgroup"] = self.cgroup.to_dict()
        if self.reservation is not None:
            out["reservation"] = {"cpus": self.reservation[0], "node_cpus": u.n_cpus if u else None, "source": self.reservation[1]}
        if u is not None and self.mode == "job":
            out["spans_s"] = {"gpu": self.usage_interval_s, "cpu": max(self.usage_interval_s, self.cpu_interval_s)}
        out["notes"] = list(self.notes)
        return out


def _shared_share(processes: Sequence[Tuple[int, Optional[int]]], mine: set, sm_util: Optional[Mapping[int, float]]) -> Tuple[float, str, float]:
    """The job's share of a GPU shared with others: by SM utilisation, else used memory, else equally."""
    if sm_util:
        total = job = 0.0
        for pid, v in sm_util.items():  # a loop, not two generators (the tick's cold path)
            total += v
            if pid in mine:
                job += v
        if total > 0:
            return job / total, "sm-share", METHOD_UNCERTAINTY["sm-share"]
    mems = [m for _, m in processes]
    if all(m is not None for m in mems) and sum(mems) > 0:  # type: ignore[arg-type]
        return sum(m for pid, m in processes if pid in mine) / sum(mems), "process-share", _U_MEMORY_SPLIT  # type: ignore[arg-type, misc]
    return len(mine) / len(processes), "process-share", _U_EQUAL_SPLIT


def _role(comp: Component) -> str:
    """How a component is split: ``gpu`` (its sensor's lists), ``cpu``/``ram`` (usage), ``device`` (exclusive), ``node``."""
    if comp.kind == "gpu":
        return "gpu"
    if comp.scope == "node" and comp.kind in _CPU_KINDS:
        return "cpu"
    if comp.scope == "node" and comp.kind == "ram":
        return "ram"
    return "device" if comp.scope == "device" else "node"


def _idle_for(comp: Component, cfg: Mapping[str, float]) -> Tuple[Optional[float], str]:
    """A component's idle power: configured (by id, then kind), the CPU model's idle, or ``None`` (lowest seen)."""
    for key in (comp.id, comp.kind):
        if key in cfg:
            return float(cfg[key]), "configured"
    if comp.source == "estimate.tdp":
        from wattprint.engine.sensors.estimate import IDLE_FRACTION

        max_w = comp.info.get("modelled_max_w")
        if isinstance(max_w, (int, float)):
            return IDLE_FRACTION * float(max_w), "model (idle fraction of the TDP)"
    return None, "lowest seen"
