"""Merge per-rank footprints into one job footprint: a pure function, documents in, footprint out.

``merge_footprints`` de-duplicates what several processes measured: node-level components
(CPU, DRAM, RAM) once per node, devices once per UUID, anything else once per rank, then
re-prices the merged energy with the job's factors, through the one builder
(:func:`wattprint.footprint.build.assemble`). Raw windows are matched across ranks by
name and occurrence; ``window_totals`` are merged by name. ``wattprint report`` and the distributed
integration both use it; it imports no framework.

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

__all__ = ["NODE_KINDS", "merge_footprints", "write_job_footprint"]

logger = logging.getLogger("wattprint")

NODE_KINDS = ("cpu", "dram", "ram")  # component kinds shared by every process on a node

def _component_key(comp: Mapping[str, Any], node: str, rank: int) -> Tuple[Any, ...]:
    """Two components with the same key are the same hardware, to be counted once."""
    info = comp.get("info") or {}
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
    )




def merge_footprints(
    documents: Sequence[Mapping[str, Any]],
    *,
    factors: Any = None,
    run_id: Optional[str] = None,
    project: Optional[str] = None,
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

    Returns:
        A footprint whose components are every rank's components with ids
        ``<node>/<id>`` (node-level) or ``<node>/rank<k>/<id>`` (per device),
        each hardware component counted once; energy summed; ``steps`` the
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
        sec = d.get("distributed") or {}
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
    first_sec = first.get("distributed") or {}
    run_id = run_id or first_sec.get("job_run_id") or str(first.get("run_id", "job")).split("-rank")[0]
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
        for comp in d.get("components") or []:
            key = _component_key(comp, node, rank)
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
    statuses = [r["doc"].get("status") for r in ranks]
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
        if key not in doc and key not in ("timeline", "forecast", "distributed"):
            doc[key] = value
    nodes = sorted({r["node"] for r in ranks})
    doc["distributed"] = {
        "world_size": max([int((r["doc"].get("distributed") or {}).get("world_size", 0)) for r in ranks] + [len(ranks)]),
        "ranks_reported": len(ranks),
        "nodes": len(nodes),
        "node_names": nodes,
        "ranks": rank_sections,
        "duplicates": duplicates,
        "steps_rule": "max over ranks (data-parallel ranks take the same optimizer steps); samples, tokens and flops are summed",
    }
    return Footprint(doc, {})


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
            energy = sum(float(v) for cid, v in comps.items() if cid in kept_ids[r["rank"]]) if comps else float(w.get("energy_j") or 0.0)
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
            energy = sum(float(v) for cid, v in comps.items() if cid in kept_ids[r["rank"]]) if comps else float(w.get("energy_j") or 0.0)
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