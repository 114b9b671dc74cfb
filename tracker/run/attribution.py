"""The Tracker's attribution wiring: open the attributor with the ledger, and turn its figures into entries.

:func:`open_ledger` builds the :class:`~wattprint.engine.ledger.Ledger` with an
:class:`~wattprint.engine.attribution.Attributor` on its read hook, so the baseline
reading is the attributor's too. :func:`attributed_components` gives the footprint's
component entries (through the one :func:`~wattprint.footprint.build.component_entry`)
and the ``attribution`` section; a GPU the job never used (NVML's lists say so) is
left out of the components and listed under ``attribution.gpus_seen_unused``.

Process usage (CPU time, resident memory) is read from the real ``/proc`` on the system
clock. With an injected clock (a test's ``ManualClock``) and the real ``/proc``, the two
do not describe the same intervals: CPU, DRAM and RAM are then the node's figures
(``attribution: "node"``), and the section says why. Inject ``WATTPRINT_PROC_ROOT`` too
(a fake tree from :mod:`wattprint.testing.procfs`) to split them under a fake clock.

Units: joules, seconds.

Failure modes: opening never raises (an unreadable ``/proc`` or cgroup makes the
attributor report the node's figures, noted); see :mod:`wattprint.engine.attribution`.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from wattprint.engine.attribution import Attributor, JobUsage, ProcReader, read_cgroup
from wattprint.engine.attribution.cgroup import DEFAULT_CGROUP_ROOT
from wattprint.engine.attribution.procfs import DEFAULT_PROC_ROOT
from wattprint.engine.ledger import Ledger
from wattprint.engine.sensors.base import Sensor
from wattprint.footprint.build import component_entry

__all__ = ["open_ledger", "attributed_components"]

logger = logging.getLogger("wattprint")

#: CPU, DRAM and RAM shares are taken over this many ticks (the GPUs' over every tick): CPU time moves
#: in 10 ms ticks, so a 1 s share is quantised to a few per cent anyway, and the /proc sample costs half.
CPU_SPAN_TICKS = 2

CLOCK_NOTE = ("CPU, DRAM and RAM are the node's figures: the tracker's clock is injected while /proc is the "
              "real one, so process usage and energy are not on one clock (set WATTPRINT_PROC_ROOT to a fake tree)")  # fmt: skip


def open_ledger(sensors: Sequence[Sensor], settings: Any, env: Mapping[str, str], clock_injected: bool) -> Tuple[Ledger, Attributor]:
    """The run's ledger, with its attributor hooked on every read."""
    ledger = Ledger(sensors, settings.max_timeline_points)
    mode = getattr(settings, "attribution", "job")
    proc_root = getattr(settings, "proc_root", None)
    usage: Optional[JobUsage] = None
    cgroup = None
    note = None
    if mode == "job":
        try:
            proc = ProcReader(proc_root or DEFAULT_PROC_ROOT)
            cgroup = read_cgroup(proc.root, getattr(settings, "cgroup_root", None) or DEFAULT_CGROUP_ROOT)
            usage = JobUsage(proc, cgroup, env)
        except Exception:  # never break a run over /proc
            logger.exception("wattprint: cannot read the process tree; the node's figures are reported")
            note = "the process tree could not be read: the node's figures are reported"
    split_node = usage is not None and not (clock_injected and proc_root is None)
    if usage is not None and not split_node:
        note = CLOCK_NOTE
    interval = settings.interval_s if math.isfinite(settings.interval_s) else 1.0
    att = Attributor(ledger.components, ledger.sensors, mode=mode, usage=usage, cgroup=cgroup, env=env,
                     idle_power_w=getattr(settings, "idle_power_w", None), usage_interval_s=max(interval, 0.05),
                     cpu_interval_s=CPU_SPAN_TICKS * max(interval, 0.05), usage_note=note, split_node=split_node)  # fmt: skip
    ledger.set_observer(att.observe, att.columns_observer(ledger.ids))  # every component read at once: a list, no dict
    return ledger, att


def attributed_components(ledger: Ledger, att: Optional[Attributor], duration_s: float,
                          sections: Dict[str, Any]) -> List[Dict[str, Any]]:  # fmt: skip
    """The component entries (job's share in ``energy_j`` unless ``attribution="node"``); adds ``sections["attribution"]``."""
    energy = ledger.energy_since_start_j()
    peaks = ledger.peak_power_w  # a fresh dict on each access: taken once
    if att is None:
        return [component_entry(c, energy[c.id], duration_s, peaks.get(c.id, 0.0)) for c in ledger.components]
    figs = att.figures({c.id: c.uncertainty_rel for c in ledger.components})
    comps: List[Dict[str, Any]] = []
    unused: List[Dict[str, Any]] = []
    for c in ledger.components:
        if att.gpu_unused(c.id):
            unused.append({"id": c.id, "name": c.name, "uuid": c.info.get("uuid"), "node_energy_j": max(0.0, energy[c.id])})
            continue
        comps.append(component_entry(c, energy[c.id], duration_s, peaks.get(c.id, 0.0), attribution=figs.get(c.id)))
    section = att.section()
    section["unattributed_j"] = {e["id"]: max(0.0, e["node_energy_j"] - e["energy_j"]) for e in comps if "node_energy_j" in e}
    if unused:
        section["gpus_seen_unused"] = unused
    sections["attribution"] = section
    return comps
