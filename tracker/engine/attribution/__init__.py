"""Attribution: the share of each component's measured energy that belongs to this job.

- :mod:`.procfs`: the job's process tree, the node's CPU ticks and memory (``WATTPRINT_PROC_ROOT``);
- :mod:`.cgroup`: the job's cgroup v2/v1 quota, cpuset, usage (``WATTPRINT_CGROUP_ROOT``);
- :mod:`.usage`: the job's CPU ticks and resident memory per sample;
- :mod:`.split`: one component's per-interval split and its bounds (pure arithmetic);
- :mod:`.node`: node mode's sums (share 1: nothing to split), a few list passes per tick;
- :mod:`.attributor`: the ledger's hook that puts them together.

See ``docs/attribution.md`` for the model. Units: joules, seconds, watts, ticks, bytes.

Failure modes: nothing here raises into a run; see each module.
"""

from __future__ import annotations

from wattprint.engine.attribution.attributor import Attributor
from wattprint.engine.attribution.cgroup import CGROUP_ROOT_VAR, Cgroup, cpu_reservation, read_cgroup
from wattprint.engine.attribution.procfs import PROC_ROOT_VAR, ProcReader
from wattprint.engine.attribution.split import METHOD_UNCERTAINTY, ComponentAccount
from wattprint.engine.attribution.usage import JobUsage

__all__ = [
    "Attributor", "Cgroup", "ComponentAccount", "JobUsage", "ProcReader", "METHOD_UNCERTAINTY",
    "CGROUP_ROOT_VAR", "PROC_ROOT_VAR", "cpu_reservation", "read_cgroup",
]
