"""Merge per-rank footprints into one job footprint: a pure function, documents in, footprint out.

``merge_footprints`` de-duplicates what several processes measured: node-level components
(CPU, DRAM, RAM) once per node, devices once per UUID, anything else once per rank, then
re-prices the merged energy with the job's factors, through the one builder
(:func:`wattprint.footprint.build.assemble`). Raw windows are matched across ranks by
name and occurrence; ``window_totals`` are merged by name. A component attributed to a process
set's share of its device (``attribution`` in :data:`SHARE_METHODS`) is a duplicate only of the same
share (same node, same job tree root, same device); shares of different process sets add up. The job footprint gets a ``job`` section (job id, world size, nodes, the
missing ranks, the scheduler context) next to ``distributed`` (per rank). The job footprint, the
``wattprint report`` fold and the distributed integration all use it; it imports no framework.
Time and memory are linear in ranks (one pass over each rank's components and windows).

Failure modes: an empty list raises ``ValueError``; rank documents without timestamps
give a job without ``started_at``/``ended_at`` bounds from them; ``write_job_footprint``
logs and returns ``None`` when the file cannot be written.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from wattprint.footprint.accounting import resolve_factors
from wattprint.footprint.build import assemble
from wattprint.footprint.model import SCHEMA_ID, Footprint
from wattprint.units import iso_utc, parse_utc

__all__ = ["NODE_KINDS", "SHARE_METHODS", "merge_footprints", "write_job_footprint"]

logger = logging.getLogger("wattprint")

NODE_KINDS = ("cpu", "dram", "ram")  # component kinds shared by every process on a node
# a component attributed to one process's share (not the whole device): the ranks' shares add up, never dedup
SHARE_METHODS = ("process-share", "sm-share", "mig-slice", "cgroup")
# the job section's scheduler context, taken from the first rank that has it
_CONTEXT_KEYS = ("scheduler", "slurm_job_id", "slurm_step_id", "k8s_pod", "k8s_container")

def _component_key(comp: Mapping[str, Any], node: str, rank: int, owner: Any = None) -> Tuple[Any, ...]:
    """Two components with the same key are the same hardware (or the same share of it), to be counted once.

    A share attributed to a process set (``owner``: the root pid of the rank's job tree) is the same
    share on every rank that measured it for that set (torchrun ranks share their agent's tree), and a
    separate one for another set (a rank that attributed only its own processes): shares add up.
    """
    info = comp.get("info") or {}
    if comp.get("attribution") in SHARE_METHODS:
        return ("share", node, owner, info.get("uuid") or comp["id"]) if owner is not None else ("rank", node, rank, comp["id"])
    if comp.get("scope") == "node" or comp.get("kind") in NODE_KINDS:
        return ("node", node, comp["id"])
    uuid = info.get("uuid")
    if uuid:
        return ("uuid", node, uuid)
    return ("rank", node, rank, comp["id"])


def _factors_from_doc(doc: Mapping[str, Any]) -> Any:
    f = doc.get("factors") or {}

    def val(key: str) -> Optional[float]:
        entry = f.get(key) or {}
        return entry.get("value")

    return resolve_factors(
        region=doc.get("region"),
        pue=val("pue"),
        intensity_g_per_kwh=val("carbon_intensity_g_per_kwh"),
        wue_l_per_kwh=val("wue_l_per_kwh"),
        ewif_l_per_kwh=val("ewif_l_per_kwh"),
        env={},
        # reporting-standard settings (issue 14): market-based scope 2 inputs, the water's source, the task stage
        market_intensity_g_per_kwh=val("market_intensity_g_per_kwh"),
        renewable_share=val("renewable_share"),
        water_source=(doc.get("water") or {}).get("source"),
        task_stage=doc.get("task_stage"),
    )




def merge_footprints(
    documents: Sequence[Mapping[str, Any]],
    *,
    factors: Any = None,
    run_id: Optional[str] = None,
    project: Optional[str] = None,
    world_size: Optional[int] = None,
    received_bytes: Optional[int] = None,
) -> Footprint:
    """One job footprint from the footprints of its ranks.

    Args:
        documents: each rank's footprint document (``Footprint.to_dict()`` or
            the rank's JSON file); each should carry the ``distributed``
            section a :class:`DistributedTracker` annotates (a document without
            one counts as its own node and rank, by its position).
        factors: the accounting factors (``tracker.factors``); default:
            rebuilt from the first document's factor values.
        run_id, project: of the job (default: the first rank's job id / project).
        world_size: ranks the job has (default: the largest the ranks say);
            ranks below it that sent no document are listed as missing
            (``job.missing_ranks``) and make the status ``partial``.
        received_bytes: what the assembler read (recorded as ``job.received_bytes``).

    Returns:
        A footprint whose components are every rank's components with ids
        ``<node>/<id>`` (node-level) or ``<node>/rank<k>/<id>`` (per device),
        each hardware component counted once (a share attributed to a process
        set, :data:`SHARE_METHODS`, once per set: shares of different sets add up); energy summed; ``steps`` the
        largest rank's (data-parallel ranks take the same optimizer steps),
        ``samples``, ``tokens`` and ``flops`` summed; accounting recomputed
        with the core's :func:`wattprint.footprint.accounting.account`.

    Raises:
        ValueError: no documents.
    """
    if not documents:
        raise ValueError("documents: give at least one rank's footprint")
    docs = [dict(d) for d in documents]
    ranks: List[Dict[str, Any]] = []
    for pos, d in enumerate(docs):
        sec = _section(d)
        ranks.append(
            {
                "rank": int(sec.get("rank", pos)),
                "local_rank": int(sec.get("local_rank", 0)),
                "node": str(sec.get("node") or (d.get("host") or {}).get("hostname") or f"node{pos}"),
                "node_rank": sec.get("node_rank"),
                "doc": d,
            }
        )
    ranks.sort(key=lambda r: (r["rank"], r["local_rank"]))
    first = ranks[0]["doc"]
    first_sec = _section(first)
    run_id = run_id or first_sec.get("job_id") or first_sec.get("job_run_id") or str(first.get("run_id", "job")).split("-rank")[0]
    project = project or first.get("project")
    if factors is None:
        factors = _factors_from_doc(first)

    starts = [t for t in (parse_utc(r["doc"].get("started_at")) for r in ranks) if t is not None]
    ends = [t for t in (parse_utc(r["doc"].get("ended_at")) for r in ranks) if t is not None]
    started_at = min(starts) if starts else _dt.datetime.now(_dt.timezone.utc)
    ended_at = max(ends) if ends else started_at
    duration_s = max([(ended_at - started_at).total_seconds()] + [float(r["doc"].get("duration_s") or 0.0) for r in ranks])

    seen: Dict[Tuple[Any, ...], str] = {}
    components: List[Dict[str, Any]] = []
    duplicates: List[Dict[str, Any]] = []
    rank_sections: List[Dict[str, Any]] = []
    kept_ids: Dict[int, set] = {}
    for r in ranks:
        d, node, rank = r["doc"], r["node"], r["rank"]
        local: List[Dict[str, Any]] = []
        kept_ids[rank] = set()
        owner = ((d.get("attribution") or {}).get("process_tree") or {}).get("root_pid")
        for comp in d.get("components") or []:
            key = _component_key(comp, node, rank, owner)
            node_level = key[0] == "node"
            job_id = f"{node}/{comp['id']}" if node_level else f"{node}/rank{rank}/{comp['id']}"
            entry = {"id": comp["id"], "job_id": job_id, "kind": comp.get("kind"), "energy_j": float(comp.get("energy_j") or 0.0)}
            if key in seen:
                entry["counted"] = False
                entry["duplicate_of"] = seen[key]
                duplicates.append({"rank": rank, "component": comp["id"], "duplicate_of": seen[key]})
            else:
                seen[key] = job_id
                entry["counted"] = True
                kept_ids[rank].add(comp["id"])
                merged = dict(comp)
                merged["id"] = job_id
                merged["rank"] = rank
                merged["node"] = node
                merged["local_id"] = comp["id"]
                components.append(merged)
            local.append(entry)
        rank_sections.append(
            {
                "rank": rank,
                "local_rank": r["local_rank"],
                "node": node,
                "node_rank": r["node_rank"],
                "run_id": d.get("run_id"),
                "status": d.get("status"),
                "duration_s": d.get("duration_s"),
                "energy_j": float((d.get("energy") or {}).get("it_j") or 0.0),
                "counted_energy_j": sum(c["energy_j"] for c in local if c["counted"]),
                "steps": (d.get("work") or {}).get("steps"),
                "components": local,
            }
        )

    works = [r["doc"].get("work") or {} for r in ranks]
    flops_list = [float(w["flops"]) for w in works if w.get("flops") is not None]
    work: Dict[str, Any] = {
        "steps": max([int(w.get("steps") or 0) for w in works] or [0]),
        "samples": sum(int(w.get("samples") or 0) for w in works),
        "tokens": sum(int(w.get("tokens") or 0) for w in works),
        "flops": float(sum(flops_list)) if flops_list else None,
    }
    world = max([int(world_size or 0)] + [int(_section(r["doc"]).get("world_size") or 0) for r in ranks] + [len(ranks)])
    missing = sorted(set(range(world)) - {r["rank"] for r in ranks})
    statuses = [r["doc"].get("status") for r in ranks] + (["partial"] if missing else [])
    status = "failed" if "failed" in statuses else "partial" if "partial" in statuses else "completed"
    gaps: List[Dict[str, Any]] = []
    notes: List[str] = []
    sources: List[Any] = []
    for r in ranks:
        d, node, rank = r["doc"], r["node"], r["rank"]
        for g in d.get("gaps") or []:
            g = dict(g)
            g["rank"] = rank
            g["node"] = node
            gaps.append(g)
        for n in d.get("notes") or []:
            notes.append(f"rank {rank}: {n}")
        for s in d.get("sources") or []:
            s = dict(s) if isinstance(s, Mapping) else {"detail": s}
            s["rank"] = rank
            sources.append(s)
    if missing:
        notes.append(f"{len(missing)} of {world} ranks sent no footprint (job.missing_ranks); their energy is not counted")
    if duplicates:
        notes.append(f"{len(duplicates)} component reading(s) reported by more than one rank were counted once (see distributed.duplicates)")

    header: Dict[str, Any] = {
        "schema": first.get("schema", SCHEMA_ID),
        "run_id": run_id,
        "project": project,
        "status": status,
        "started_at": iso_utc(started_at),
        "ended_at": iso_utc(ended_at),
        "duration_s": duration_s,
        "host": first.get("host") or {},
    }
    doc = assemble(header, components, duration_s=duration_s, work=work, factors=factors, started_at=started_at,
                   windows=_merge_windows(ranks, kept_ids), window_totals=_merge_window_totals(ranks, kept_ids),
                   gaps=gaps, sources=sources, notes=notes)  # fmt: skip
    for key, value in first.items():  # rank 0's own sections (annotations such as "lightning", "resume")
        if key not in doc and key not in ("timeline", "forecast", "distributed", "job"):
            doc[key] = value
    nodes = sorted({r["node"] for r in ranks})
    doc["job"] = _job_section(run_id, ranks, nodes, world, missing, received_bytes)
    doc["distributed"] = {
        "world_size": world,
        "ranks_reported": len(ranks),
        "nodes": len(nodes),
        "node_names": nodes,
        "ranks": rank_sections,
        "duplicates": duplicates,
        "steps_rule": "max over ranks (data-parallel ranks take the same optimizer steps); samples, tokens and flops are summed",
    }
    return Footprint(doc, {})


def _section(doc: Mapping[str, Any]) -> Dict[str, Any]:
    """A rank's own account of its place: ``job`` (the core's) over ``distributed`` (older files, DistributedTracker)."""
    return {**(doc.get("distributed") or {}), **{k: v for k, v in (doc.get("job") or {}).items() if v is not None}}


def _job_section(job_id: str, ranks: List[Dict[str, Any]], nodes: List[str], world: int, missing: List[int],
                 received_bytes: Optional[int]) -> Dict[str, Any]:  # fmt: skip
    """The job footprint's ``job`` section: the job's id and size, no rank of its own, the ranks' scheduler context."""
    sec: Dict[str, Any] = {"job_id": job_id, "rank": None, "local_rank": None, "world_size": world,
                           "local_world_size": max(int(_section(r["doc"]).get("local_world_size") or 1) for r in ranks),
                           "node": nodes[0] if len(nodes) == 1 else None, "node_rank": None}  # fmt: skip
    for key in _CONTEXT_KEYS:
        values = [_section(r["doc"]).get(key) for r in ranks]
        sec[key] = next((v for v in values if v is not None), "none" if key == "scheduler" else None)
    if len({_section(r["doc"]).get("k8s_container") for r in ranks}) > 1:
        sec["k8s_container"] = None  # one job, several containers: no single one
    sec.update(nodes=len(nodes), ranks_reported=len(ranks), missing_ranks=missing, received_bytes=received_bytes)
    return sec


def _counted_energy(w: Mapping[str, Any], comps: Mapping[str, Any], kept: set) -> float:
    """A window's energy over the rank's counted components (its own total when all of them count: the usual case)."""
    if not comps or (w.get("energy_j") is not None and kept.issuperset(comps)):
        return float(w.get("energy_j") or 0.0)
    return sum(float(v) for cid, v in comps.items() if cid in kept)


def _merge_windows(ranks: List[Dict[str, Any]], kept_ids: Dict[int, set]) -> List[Dict[str, Any]]:
    """Windows matched across ranks by name and occurrence; energy of counted components only."""
    merged: Dict[Tuple[str, int], Dict[str, Any]] = {}
    order: List[Tuple[str, int]] = []
    for r in ranks:
        counts: Dict[str, int] = {}
        for w in r["doc"].get("windows") or []:
            name = str(w.get("name"))
            k = counts.get(name, 0)
            counts[name] = k + 1
            key = (name, k)
            comps = w.get("components") or {}
            energy = _counted_energy(w, comps, kept_ids[r["rank"]])
            if key not in merged:
                merged[key] = {"name": name, "duration_s": 0.0, "energy_j": 0.0, "steps": 0, "ranks": 0}
                order.append(key)
            m = merged[key]
            m["duration_s"] = max(m["duration_s"], float(w.get("duration_s") or 0.0))
            m["energy_j"] += energy
            m["steps"] = max(m["steps"], int(w.get("steps") or 0))
            m["ranks"] += 1
    return [merged[k] for k in order]


def _merge_window_totals(ranks: List[Dict[str, Any]], kept_ids: Dict[int, set]) -> List[Dict[str, Any]]:
    """Window totals per name across ranks: energy of counted components summed; count, duration and steps
    the largest rank's (data-parallel ranks run the same windows)."""
    merged: Dict[str, Dict[str, Any]] = {}
    for r in ranks:
        for w in r["doc"].get("window_totals") or []:
            name = str(w.get("name"))
            comps = w.get("components") or {}
            energy = _counted_energy(w, comps, kept_ids[r["rank"]])
            m = merged.setdefault(name, {"name": name, "count": 0, "duration_s": 0.0, "energy_j": 0.0, "steps": 0, "ranks": 0})
            m["count"] = max(m["count"], int(w.get("count") or 0))
            m["duration_s"] = max(m["duration_s"], float(w.get("duration_s") or 0.0))
            m["energy_j"] += energy
            m["steps"] = max(m["steps"], int(w.get("steps") or 0))
            m["ranks"] += 1
    return list(merged.values())


def write_job_footprint(job: Footprint, output_dir: str) -> Optional[str]:
    """Write ``<output_dir>/<run_id>.job.json`` atomically; returns the path (``None`` on failure, logged)."""
    path = os.path.join(output_dir, f"{job.run_id}.job.json")
    try:
        job.save(path)
        return path
    except Exception as err:
        logger.error("wattprint: could not write %s (%s)", path, err)
        return None