"""Killed, interrupted or abandoned runs still leave a valid footprint behind."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

REPLAY = "wp.ReplaySensor([(0, 100.0)], component_id='gpu:0', kind='gpu')"


def start_script(tmp_path, body, **env_extra):
    ready = tmp_path / "ready"
    script = textwrap.dedent(
        f"""
        import os, pathlib, signal, sys, time
        import wattprint as wp
        READY = pathlib.Path({str(ready)!r})
        """
    ) + textwrap.dedent(body)
    env = {**os.environ, "WATTPRINT_OUTPUT_DIR": str(tmp_path / "out"), **env_extra}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, ready


def wait_for(path, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"child exited early: {proc.communicate()}")
        assert time.monotonic() < deadline, "child never became ready"
        time.sleep(0.02)


def load(tmp_path, run_id):
    return json.loads((tmp_path / "out" / f"{run_id}.json").read_text())


@pytest.mark.parametrize("sig, rc", [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGINT, -signal.SIGINT)])
def test_signal_writes_partial_footprint_covering_the_run(tmp_path, sig, rc):
    proc, ready = start_script(
        tmp_path,
        f"""
        t = wp.Tracker(run_id="sig", sensors=[{REPLAY}])
        t.start()
        t.step(5)
        time.sleep(0.3)
        READY.write_text("x")
        time.sleep(60)
        """,
    )
    wait_for(ready, proc)
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == rc  # both end as they would have: SIGINT via KeyboardInterrupt, which Python turns into death by SIGINT
    doc = load(tmp_path, "sig")
    assert doc["status"] == "partial"
    assert doc["work"]["steps"] == 5
    assert doc["duration_s"] >= 0.3
    assert doc["energy"]["it_j"] == pytest.approx(100.0 * doc["duration_s"], rel=1e-6)
    assert any(signal.Signals(sig).name in n for n in doc["notes"])


def test_previous_signal_handler_still_runs(tmp_path):
    proc, ready = start_script(
        tmp_path,
        f"""
        def mine(signum, frame):
            print("previous handler ran", flush=True)
            sys.exit(42)
        signal.signal(signal.SIGTERM, mine)
        with wp.Tracker(run_id="chain", sensors=[{REPLAY}]):
            READY.write_text("x")
            time.sleep(60)
        """,
    )
    wait_for(ready, proc)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 42 and "previous handler ran" in out
    assert load(tmp_path, "chain")["status"] == "partial"


# The child says it is ready once its own files show what the test needs (polled, 60 s cap), never
# after a fixed sleep: a loaded machine may delay the sampler thread, so time alone proves nothing.
CHECKPOINT_SEEN = """
import json
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        if {condition}:
            break
    except (OSError, ValueError, KeyError):
        pass  # not written yet
    time.sleep(0.02)
pathlib.Path(str(READY) + ".tmp").write_text(pathlib.Path(t.json_path).read_text())
os.replace(str(READY) + ".tmp", READY)  # whole when it appears
time.sleep(60)
"""


def test_sigkill_leaves_the_last_checkpoint_whole(tmp_path):
    condition = "json.loads(pathlib.Path(t.json_path).read_text())['duration_s'] >= 0.8"
    proc, ready = start_script(
        tmp_path,
        textwrap.dedent(f"""
        t = wp.Tracker(run_id="kill", sensors=[{REPLAY}], interval_s=0.05, checkpoint_interval_s=0.2)
        t.start()
        """) + CHECKPOINT_SEEN.format(condition=condition),
    )
    wait_for(ready, proc)
    seen = json.loads(ready.read_text())  # the checkpoint on disk when the child said it was ready
    proc.kill()
    proc.wait(timeout=60)
    doc = load(tmp_path, "kill")
    assert doc["status"] == "partial"
    assert doc["duration_s"] >= seen["duration_s"] >= 0.8  # the kill never rolls a checkpoint back or tears it
    assert doc["energy"]["it_j"] == pytest.approx(100.0 * doc["duration_s"], rel=1e-6)


def test_interpreter_exit_without_stop_still_writes(tmp_path):
    proc, ready = start_script(
        tmp_path,
        f"""
        t = wp.Tracker(run_id="noexit", sensors=[{REPLAY}])
        t.start()
        t.step(3)
        READY.write_text("x")
        """,
    )
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    doc = load(tmp_path, "noexit")
    assert doc["status"] == "completed" and doc["work"]["steps"] == 3
    assert any("interpreter exit" in n for n in doc["notes"])


def test_forked_child_neither_crashes_nor_double_counts(tmp_path):
    proc, ready = start_script(
        tmp_path,
        f"""
        import multiprocessing as mp
        def child(q):
            t.step(1000)
            q.put((t.stop() is None, os.path.exists(t.json_path)))
        t = wp.Tracker(run_id="fork", sensors=[{REPLAY}], checkpoint_interval_s=float('inf'))
        t.start()
        t.step(2)
        ctx = mp.get_context("fork")
        q = ctx.Queue()
        p = ctx.Process(target=child, args=(q,))
        p.start(); p.join(30)
        print("child", q.get(timeout=30), p.exitcode, flush=True)
        fp = t.stop()
        print("steps", fp.to_dict()["work"]["steps"], flush=True)
        """,
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "child (True, False) 0" in out  # the child wrote nothing and exited cleanly
    assert "steps 2" in out  # the child's steps were not added to the parent's run


def test_sigkill_leaves_a_partial_footprint_and_a_timeline_journal_that_report_reads(tmp_path):
    """Checkpoints write the document without its timeline plus the new points onto a journal (issue 20)."""
    from wattprint.report.load import load_footprint

    condition = "len(pathlib.Path(t.json_path[:-len('.json')] + '.timeline.jsonl').read_text().splitlines()) >= 6"
    proc, ready = start_script(
        tmp_path,
        textwrap.dedent(f"""
        t = wp.Tracker(run_id="kj", sensors=[{REPLAY}], interval_s=0.05, checkpoint_interval_s=0.2)
        t.start()
        """) + CHECKPOINT_SEEN.format(condition=condition),  # a header and five points on the journal
    )
    wait_for(ready, proc)
    proc.kill()
    proc.wait(timeout=60)
    doc = load(tmp_path, "kj")
    assert doc["status"] == "partial" and "timeline" not in doc
    journal = tmp_path / "out" / "kj.timeline.jsonl"
    assert journal.exists()
    fp = load_footprint(str(tmp_path / "out" / "kj.json"))
    tl = fp.timeline
    assert tl["t_s"][0] == 0.0 and len(tl["t_s"]) >= 5
    assert tl["energy_j"]["gpu:0"][-1] == pytest.approx(100.0 * tl["t_s"][-1], rel=1e-6)
    assert tl["t_s"][-1] <= doc["duration_s"] + 1e-9
