"""Where this process sits in a job, read from the environment alone (no torch import).

:func:`job_context` reads the launcher's variables and answers a :class:`JobContext`:
rank, local rank, world size, ranks per node, node name, the scheduler
(``torchrun`` | ``slurm`` | ``mpi`` | ``none``), SLURM job/step ids, the
Kubernetes pod and container (from this process's cgroup path), and a **job
id** that every rank of the job derives identically, so their files meet in a
shared ``output_dir`` as ``<job>-rank<k>.json``.

Precedence: torchrun / torch ``env://`` (``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``, ``GROUP_RANK``, ``TORCHELASTIC_RUN_ID``),
then Open MPI / PMIx / MPICH (``OMPI_COMM_WORLD_*``, ``PMIX_RANK``,
``PMI_RANK``), then SLURM tasks started by ``srun`` (``SLURM_PROCID``,
``SLURM_LOCALID``, ``SLURM_STEP_NUM_TASKS`` or ``SLURM_NTASKS``; only when a
step id says the process is an ``srun`` task: a batch script run directly
under ``sbatch --ntasks=4`` is one process, not rank 0 of four). SLURM ids
are recorded whichever launcher started the ranks.

Job id (all ranks alike): ``WATTPRINT_JOB_ID``; else torchrun's rendezvous id
(``torchrun-<id>``, plus ``-a<n>`` after a restart); with the default id
``none`` on one node, the launch's private folder in ``TORCHELASTIC_ERROR_FILE``
(unique per launch); SLURM ``slurm-<job>.<step>``; MPI ``PMIX_NAMESPACE`` /
``OMPI_MCA_ess_base_jobid``; for torchrun or MPI without any of these, a hash of
the variables every rank shares (``MASTER_ADDR``, ``MASTER_PORT``, ...), which
two consecutive launches on the same port share too: set ``WATTPRINT_JOB_ID``
(or ``run_id``) for multi-node torchrun without ``--rdzv-id``. Without a
launcher or scheduler (a pod alone) the id is empty and the Tracker uses its
run id. A ``run_id`` the caller gives wins in the Tracker.

Failure modes: a malformed ``WATTPRINT_NODE_LEVEL`` or ``WATTPRINT_JOB_WAIT_S`` raises
:class:`~wattprint.errors.ConfigError` naming it; nothing else raises. An unreadable number is skipped; an unreadable
cgroup file leaves ``k8s_pod``/``k8s_container`` ``None``; without any variable
the process is a single rank of scheduler ``none``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
import threading
from typing import Any, Dict, Mapping, Optional, Tuple

from wattprint.settings import setting_bool, setting_float

__all__ = ["JobContext", "job_context", "kubernetes_ids", "SCHEDULERS"]

SCHEDULERS = ("torchrun", "slurm", "mpi", "none")
_SEQ: Dict[str, int] = {}  # jobs of each derived id started in this process (see JobContext.sequenced)
_SEQ_LOCK = threading.Lock()
DEFAULT_WAIT_S = 30.0
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_BATCH_STEPS = ("batch", "extern", "interactive", "4294967294", "4294967291", "4294967292")
# Kubernetes cgroup paths: cgroupfs ".../kubepods/burstable/pod<uid>/<container>", systemd
# ".../kubepods-burstable-pod<uid_with_underscores>.slice/cri-containerd-<container>.scope"
_POD = re.compile(r"kubepods[^\n]*?pod([0-9a-fA-F]{8}[-_][0-9a-fA-F]{4}[-_][0-9a-fA-F]{4}[-_][0-9a-fA-F]{4}[-_][0-9a-fA-F]{12})")
_CONTAINER = re.compile(r"([0-9a-f]{64})(?:\.scope)?/?$")


@dataclasses.dataclass(frozen=True)
class JobContext:
    """One process's place in a job (every field is JSON-serialisable; see the footprint's ``job`` section).

    Attributes:
        job_id: the id every rank of the job shares (file-name safe).
        rank, local_rank: global rank, rank within its node.
        world_size, local_world_size: processes in the job, on this node.
        node: node name (``WATTPRINT_NODE``, ``SLURMD_NODENAME``, else the host name).
        node_rank: node index when the launcher says it (``GROUP_RANK``, ``SLURM_NODEID``).
        scheduler: ``torchrun``, ``slurm``, ``mpi`` or ``none``.
        slurm_job_id, slurm_step_id, k8s_pod, k8s_container: scheduler context (``None`` when absent).
        assemble: whether the ranks assemble the job footprint from rank files
            (``False`` when a caller, e.g. a ``torch.distributed`` gather, does it).
        node_level: measure CPU/DRAM/RAM on this rank (``WATTPRINT_NODE_LEVEL``);
            ``None``: only on local rank 0.
        wait_s: how long rank 0 waits at stop for the other ranks' summaries,
            seconds (``WATTPRINT_JOB_WAIT_S``; default 30).
    """

    job_id: str = ""
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    local_world_size: int = 1
    node: str = ""
    node_rank: Optional[int] = None
    scheduler: str = "none"
    slurm_job_id: Optional[str] = None
    slurm_step_id: Optional[str] = None
    k8s_pod: Optional[str] = None
    k8s_container: Optional[str] = None
    assemble: bool = True
    node_level: Optional[bool] = None
    wait_s: float = DEFAULT_WAIT_S

    @property
    def distributed(self) -> bool:
        """More than one rank: each writes ``<job>-rank<k>.json`` and the job footprint is assembled."""
        return self.world_size > 1

    @property
    def measures_node(self) -> bool:
        """Whether this rank measures the node-level components (CPU, DRAM, RAM): local rank 0 unless ``node_level``."""
        return self.local_rank == 0 if self.node_level is None else bool(self.node_level)

    @property
    def has_context(self) -> bool:
        """Anything worth a ``job`` section: several ranks, a scheduler, or a Kubernetes pod."""
        return self.distributed or self.scheduler != "none" or self.slurm_job_id is not None or self.k8s_pod is not None

    def rank_run_id(self, job_id: Optional[str] = None) -> str:
        """This rank's run id, ``<job>-rank<k>``."""
        return f"{job_id or self.job_id}-rank{self.rank}"

    def replace(self, **changes: Any) -> "JobContext":
        return dataclasses.replace(self, **changes)

    def sequenced(self) -> "JobContext":
        """This process's next job of this id: the first keeps it, the n-th is ``<id>-<n>``.

        Every rank runs the same script, so its n-th tracker is the job's n-th on every rank (two
        ``with Tracker():`` blocks in one torchrun script are two jobs, not one file overwritten).
        """
        key = f"{self.job_id}\x1f{self.rank}"  # per rank too, so ranks simulated in one process count alike
        with _SEQ_LOCK:
            n = _SEQ[key] = _SEQ.get(key, 0) + 1
        return self if n == 1 else self.replace(job_id=f"{self.job_id}-{n}")

    def section(self) -> Dict[str, Any]:
        """The footprint's ``job`` section for this rank (the instructions ``assemble``, ``node_level``, ``wait_s`` left out)."""
        sec = dataclasses.asdict(self)
        for key in ("assemble", "node_level", "wait_s"):
            sec.pop(key, None)
        sec["measures_node"] = self.measures_node
        return sec


def _int(env: Mapping[str, str], *names: str) -> Optional[int]:
    for name in names:
        raw = env.get(name)
        if raw not in (None, ""):
            try:
                return int(str(raw).strip())
            except ValueError:
                continue
    return None


def _str(env: Mapping[str, str], *names: str) -> Optional[str]:
    for name in names:
        raw = env.get(name)
        if raw is not None and str(raw).strip():
            return str(raw).strip()
    return None


def safe_id(text: str, limit: int = 120) -> str:
    """``text`` as a file-name-safe id: runs of other characters become ``_``, at most ``limit`` characters."""
    out = _SAFE.sub("_", text).strip("._-")[:limit]
    return out or "job"


def _hash(*parts: Optional[str]) -> str:
    import hashlib  # here, not at import: it loads libcrypto (3-4 ms of every cold start), and few runs need it

    return hashlib.sha1("\x1f".join(p or "" for p in parts).encode("utf-8")).hexdigest()[:12]


def kubernetes_ids(proc_root: str = "/proc") -> Tuple[Optional[str], Optional[str]]:
    """``(pod uid, container id)`` from ``<proc_root>/self/cgroup``, or ``None``s outside Kubernetes."""
    try:
        with open(os.path.join(proc_root, "self", "cgroup"), encoding="utf-8", errors="replace") as fh:
            lines = fh.read(65536).splitlines()
    except OSError:
        return None, None
    for line in lines:
        path = line.split(":", 2)[-1]
        pod = _POD.search(path)
        if pod is None:
            continue
        cont = _CONTAINER.search(path)
        return pod.group(1).replace("_", "-"), cont.group(1) if cont else None
    return None, None


def _ranks(env: Mapping[str, str], trust_ntasks: bool) -> Tuple[str, Optional[int], Optional[int], Optional[int], Optional[int]]:
    """``(scheduler, rank, local_rank, world_size, local_world_size)`` from the launcher's variables."""
    if _int(env, "RANK") is not None and _int(env, "WORLD_SIZE") is not None:
        return ("torchrun", _int(env, "RANK"), _int(env, "LOCAL_RANK"), _int(env, "WORLD_SIZE"), _int(env, "LOCAL_WORLD_SIZE"))
    mpi_rank = _int(env, "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK")
    if mpi_rank is not None:
        return ("mpi", mpi_rank, _int(env, "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID"),
                _int(env, "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"), _int(env, "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"))  # fmt: skip
    step = _str(env, "SLURM_STEP_ID", "SLURM_STEPID")
    srun_task = step is not None and step not in _BATCH_STEPS
    if _int(env, "SLURM_PROCID") is not None and (srun_task or trust_ntasks):
        per_node = _int(env, "SLURM_STEP_TASKS_PER_NODE", "SLURM_NTASKS_PER_NODE")  # "2(x3)" is skipped: unknown
        world = _int(env, "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS", "SLURM_NPROCS") if srun_task else _int(env, "SLURM_NTASKS", "SLURM_NPROCS")
        return ("slurm", _int(env, "SLURM_PROCID"), _int(env, "SLURM_LOCALID"), world, per_node)
    if _str(env, "SLURM_JOB_ID", "SLURM_JOBID") is not None:
        return ("slurm", None, None, None, None)
    return ("none", None, None, None, None)


def _job_id(env: Mapping[str, str], scheduler: str, world_size: int, local_world_size: int, slurm: Tuple[Optional[str], Optional[str]]) -> str:
    given = _str(env, "WATTPRINT_JOB_ID")
    if given:
        return safe_id(given)
    slurm_job, slurm_step = slurm
    if scheduler == "torchrun":
        rdzv = _str(env, "TORCHELASTIC_RUN_ID")
        restart = _int(env, "TORCHELASTIC_RESTART_COUNT") or 0
        tail = f"-a{restart}" if restart else ""
        if rdzv and rdzv.lower() != "none":
            return safe_id(f"torchrun-{rdzv}") + tail
        one_node = world_size <= local_world_size or _int(env, "GROUP_WORLD_SIZE") == 1
        error_file = _str(env, "TORCHELASTIC_ERROR_FILE")
        if one_node and error_file:  # .../torchelastic_<rand>/<run id>_<rand>/attempt_<n>/<local rank>/error.json
            parts = os.path.normpath(error_file).split(os.sep)
            if len(parts) >= 5:
                return safe_id(f"torchrun-{parts[-4].rsplit('_', 1)[-1]}") + tail
        if slurm_job:
            return safe_id(f"torchrun-slurm-{slurm_job}" + (f".{slurm_step}" if slurm_step else "")) + tail
        return "torchrun-" + _hash(env.get("MASTER_ADDR"), env.get("MASTER_PORT"), str(world_size)) + tail
    if scheduler == "mpi":
        ns = _str(env, "PMIX_NAMESPACE", "OMPI_MCA_ess_base_jobid", "OMPI_MCA_orte_ess_jobid")
        if ns:
            return safe_id(f"mpi-{ns}")
        if slurm_job:
            return safe_id(f"mpi-slurm-{slurm_job}" + (f".{slurm_step}" if slurm_step else ""))
        return "mpi-" + _hash(env.get("OMPI_MCA_orte_hnp_uri"), env.get("PMI_PORT"), env.get("HYDRA_CONTROL_FD"), str(world_size))
    if slurm_job:
        return safe_id(f"slurm-{slurm_job}" + (f".{slurm_step}" if slurm_step and slurm_step not in _BATCH_STEPS else ""))
    return ""  # no launcher, no scheduler (a pod, or ranks given by argument): the Tracker names it after its run


def job_context(
    env: Optional[Mapping[str, str]] = None,
    *,
    proc_root: Optional[str] = None,
    trust_ntasks: bool = False,
    **overrides: Any,
) -> JobContext:
    """This process's :class:`JobContext`, from ``env`` (default ``os.environ``) alone.

    Args:
        env: the environment to read.
        proc_root: where ``self/cgroup`` is read for the Kubernetes ids
            (default ``WATTPRINT_PROC_ROOT``, else ``/proc``).
        trust_ntasks: take ``SLURM_PROCID``/``SLURM_NTASKS`` as ranks even
            without an ``srun`` step id (a caller that knows it is one of the tasks).
        **overrides: any :class:`JobContext` field, winning over the environment.

    Unknown local rank / ranks per node: each rank is taken to be alone on its
    node (it measures its node; the job merge counts each node-level component
    once per node name).
    """
    env = os.environ if env is None else env
    scheduler, rank, local_rank, world, local_world = _ranks(env, trust_ntasks)
    world_size = max(1, int(overrides.get("world_size") or world or 1))
    local_world_size = max(1, int(overrides.get("local_world_size") or local_world or 1))
    slurm = (_str(env, "SLURM_JOB_ID", "SLURM_JOBID"), _str(env, "SLURM_STEP_ID", "SLURM_STEPID"))
    pod, container = kubernetes_ids(proc_root or env.get("WATTPRINT_PROC_ROOT") or "/proc")
    fields: Dict[str, Any] = {
        "rank": int(rank or 0),
        "local_rank": int(local_rank or 0),
        "world_size": world_size,
        "local_world_size": local_world_size,
        "node": _str(env, "WATTPRINT_NODE", "SLURMD_NODENAME") or socket.gethostname(),
        "node_rank": _int(env, "GROUP_RANK", "SLURM_NODEID"),
        "scheduler": scheduler,
        "slurm_job_id": slurm[0],
        "slurm_step_id": slurm[1],
        "k8s_pod": pod,
        "k8s_container": container,
        "node_level": None if not env.get("WATTPRINT_NODE_LEVEL") else setting_bool("node_level", None, env, True),
        "wait_s": setting_float("job_wait_s", None, env, DEFAULT_WAIT_S, minimum=0.0),
    }
    fields.update({k: v for k, v in overrides.items() if v is not None})
    if "job_id" not in overrides or not overrides.get("job_id"):
        fields["job_id"] = _job_id(env, scheduler, world_size, local_world_size, slurm)
    else:
        fields["job_id"] = safe_id(str(overrides["job_id"]))
    return JobContext(**fields)
