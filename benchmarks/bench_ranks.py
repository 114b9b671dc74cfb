"""The job footprint of many ranks (issue 20, item 5): assembly time and bytes the assembler receives.

    python benchmarks/bench_ranks.py                 # 2, 8, 64, 256, 1024 ranks; writes benchmarks/out/ranks.json
    python benchmarks/bench_ranks.py --ranks 2 64 --repeats 1

Each simulated rank is a real rank footprint (a replayed GPU; the node's CPU and RAM on local rank 0
of each node of 8 ranks; 2,048 timeline points, the default bound; 100 windows), copied per rank
with its own rank, node and energies. The ranks publish their summaries (the footprint without its
timeline) into a shared folder exactly as :mod:`wattprint.run.job.assembly` does, and the last rank
assembles: the time of that step (list, read, merge, write ``<job>.job.json``) is what is measured,
median and min-max over the repeats, with the CPU time of that step (wall time on a loaded machine
is mostly waiting). "Received" is the bytes of summaries the assembler read; "full"
is what gathering every rank's whole footprint with its timeline would have sent instead.

Targets (issue 20): at 1,024 ranks, assembly under 10 s and under 50 MB received. Reported, never asserted.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from typing import Any, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from wattprint.run.job import assembly  # noqa: E402
from wattprint.testing import replay_tracker  # noqa: E402

RANKS_PER_NODE = 8
TIMELINE_POINTS = 2048
WINDOWS = 100


def template(local0: bool) -> Dict[str, Any]:
    """One real rank footprint document with its timeline (what ``<job>-rank<k>.json`` holds)."""
    t, clock = replay_tracker(300.0, cpu_watts=60.0 if local0 else None, max_timeline_points=TIMELINE_POINTS, env={})
    t.start()
    for i in range(TIMELINE_POINTS - 1):
        clock.advance(1.0)
        t.step(1, samples=32, tokens=4096)
        if i % (TIMELINE_POINTS // WINDOWS) == 0:
            with t.window("eval" if i % 5 == 0 else "epoch"):
                clock.advance(0.5)
        t.sample_now()
    fp = t.stop()
    assert fp is not None
    return json.loads(fp.to_json(timeline=True))


def rank_doc(tpl: Dict[str, Any], job_id: str, rank: int, world: int) -> Dict[str, Any]:
    doc = copy.deepcopy(tpl)
    node = f"node{rank // RANKS_PER_NODE:04d}"
    local = rank % RANKS_PER_NODE
    doc["run_id"] = f"{job_id}-rank{rank}"
    for comp in doc["components"]:
        comp["energy_j"] = float(comp["energy_j"]) * (1.0 + rank * 1e-4)
    doc["job"] = {"job_id": job_id, "rank": rank, "local_rank": local, "world_size": world,
                  "local_world_size": min(world, RANKS_PER_NODE), "node": node, "node_rank": rank // RANKS_PER_NODE,
                  "scheduler": "torchrun", "measures_node": local == 0}  # fmt: skip
    doc["distributed"] = {"rank": rank, "local_rank": local, "world_size": world, "node": node, "job_run_id": job_id}
    return doc


def run_one(world: int, templates: Dict[bool, Dict[str, Any]], repeats: int) -> Dict[str, Any]:
    job_id = f"bench{world}"
    times: List[float] = []
    cpu: List[float] = []
    received = full = job_bytes = 0
    for _ in range(repeats):
        out = tempfile.mkdtemp(prefix="wp-ranks-")
        try:
            folder = assembly.job_folder(out, job_id)
            full = 0
            last = None
            for r in range(world):
                doc = rank_doc(templates[r % RANKS_PER_NODE == 0], job_id, r, world)
                full += len(json.dumps(doc, separators=(",", ":")).encode())
                doc.pop("timeline", None)
                if r == world - 1:
                    last = doc  # the last rank publishes inside the measured step
                else:
                    assembly.write_summary(folder, r, doc)
            from wattprint.footprint.model import Footprint

            fp = Footprint(last, {})
            t0, c0 = time.perf_counter(), time.process_time()
            job = assembly.assemble_when_last(fp, job_id=job_id, rank=world - 1, world_size=world, output_dir=out, wait_s=0.0)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            assert job is not None and job["job"]["ranks_reported"] == world, "assembly failed"
            received = int(job["job"]["received_bytes"])
            job_bytes = os.path.getsize(os.path.join(out, f"{job_id}.job.json"))
        finally:
            shutil.rmtree(out, ignore_errors=True)
    return {
        "ranks": world,
        "nodes": (world + RANKS_PER_NODE - 1) // RANKS_PER_NODE,
        "assembly_s_median": statistics.median(times),
        "assembly_s_min": min(times),
        "assembly_s_max": max(times),
        "assembly_cpu_s_median": statistics.median(cpu),
        "received_bytes": received,
        "received_per_rank_bytes": received / world,
        "full_footprints_bytes": full,
        "job_footprint_bytes": job_bytes,
    }


def main(argv: List[str] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ranks", type=int, nargs="*", default=[2, 8, 64, 256, 1024])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "out", "ranks.json"))
    args = ap.parse_args(argv)
    templates = {True: template(True), False: template(False)}
    rows = [run_one(n, templates, args.repeats) for n in args.ranks]
    print("| ranks | nodes | assembly s (median, min-max) | its CPU s | received MB | per rank kB | full footprints MB | job file kB |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['ranks']} | {r['nodes']} | {r['assembly_s_median']:.3f} ({r['assembly_s_min']:.3f}-{r['assembly_s_max']:.3f}) | {r['assembly_cpu_s_median']:.3f} | "
              f"{r['received_bytes'] / 1e6:.2f} | {r['received_per_rank_bytes'] / 1e3:.1f} | {r['full_footprints_bytes'] / 1e6:.1f} | "
              f"{r['job_footprint_bytes'] / 1e3:.0f} |")  # fmt: skip
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump({"rows": rows, "ranks_per_node": RANKS_PER_NODE, "timeline_points": TIMELINE_POINTS, "windows": WINDOWS,
                   "repeats": args.repeats, "targets": {"assembly_s": 10.0, "received_mb": 50.0}}, fh, indent=2)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
