"""What a plain run loads: the request ledger and the job assembly are imported on first use only.

Each check runs in a fresh interpreter and reads ``sys.modules`` (never a time): a plain
``Tracker`` started and stopped must not import the serving side (``wattprint.run.serving`` and
the request ledger behind it) nor the job assembly (``wattprint.run.job.assembly`` and the merge it
uses); the first request, and a rank of a multi-rank job, do import them (so the checks are not vacuous).
"""

from __future__ import annotations

import json
import subprocess
import sys

SERVING = ("wattprint.run.serving", "wattprint.run.requests", "wattprint.run.request_record", "wattprint.run.requests_stats")
JOB_ASSEMBLY = ("wattprint.run.job.assembly", "wattprint.footprint.merge")
LAZY = SERVING + JOB_ASSEMBLY

_PRELUDE = f"""
import json, sys
LAZY = {LAZY!r}
def loaded():
    return sorted(m for m in LAZY if m in sys.modules)
import wattprint as wp
"""


def _run(body: str) -> dict:
    """Run ``body`` after the prelude in a fresh interpreter; it prints one JSON object on its last line."""
    proc = subprocess.run([sys.executable, "-c", _PRELUDE + body], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_plain_tracker_start_stop_loads_neither_the_request_ledger_nor_the_job_assembly(tmp_path):
    out = _run(f"""
seen = {{"import": loaded()}}
t = wp.Tracker(save=False)
seen["init"] = loaded()
t.start(); t.sample_now(); fp = t.stop()
seen["stop"] = loaded()
t = wp.Tracker(output_dir={str(tmp_path)!r})  # files written too, outside any job
t.start(); t.stop()
seen["files"] = loaded()
seen["inference"] = "inference" in fp.to_dict()
print(json.dumps(seen))
""")
    assert out == {"import": [], "init": [], "stop": [], "files": [], "inference": False}


def test_the_first_request_loads_the_request_ledger():
    out = _run("""
t = wp.Tracker(save=False)
t.start()
before = loaded()
with t.request(tokens_in=3) as rec:
    rec.tokens_out = 5
fp = t.stop()
print(json.dumps({"before": before, "after": loaded(), "requests": fp.to_dict()["inference"]["requests"]}))
""")
    assert out["before"] == [] and set(SERVING) <= set(out["after"]) and out["requests"] == 1


def test_a_rank_of_a_multi_rank_job_loads_the_assembly(tmp_path):
    out = _run(f"""
ctx = wp.JobContext(job_id="j", rank=1, world_size=2, wait_s=0.0)
before = loaded()
t = wp.Tracker(output_dir={str(tmp_path)!r}, job=ctx)  # a saving rank clears stale rank files at construction
print(json.dumps({{"before": before, "after": loaded(), "run_id": t.run_id}}))
""")
    assert out["before"] == [] and set(JOB_ASSEMBLY) <= set(out["after"]) and out["run_id"] == "j-rank1"
