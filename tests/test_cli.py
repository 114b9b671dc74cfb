import json
import os
import signal
import subprocess
import sys
import time

from fakes.powercap import FakePowercap

WATTPRINT = [sys.executable, "-m", "wattprint"]


def run_cli(args, tmp_path, **kw):
    env = {**os.environ, "WATTPRINT_OUTPUT_DIR": str(tmp_path / "out")}
    env.update(kw.pop("env", {}))
    return subprocess.run(WATTPRINT + args, capture_output=True, text=True, env=env, timeout=120, **kw)


def footprints(tmp_path):
    folder = tmp_path / "out"
    return [json.loads(p.read_text()) for p in folder.glob("*.json")]


def test_run_passes_exit_code_and_writes_footprint(tmp_path):
    r = run_cli(["run", "--project", "cli", "--", sys.executable, "-c", "import sys; sys.exit(0)"], tmp_path)
    assert r.returncode == 0, r.stderr
    (doc,) = footprints(tmp_path)
    assert doc["status"] == "completed" and doc["project"] == "cli"
    assert "estimated" in r.stderr or "measured" in r.stderr


def test_failing_child_still_writes_footprint_and_exit_code_passes(tmp_path):
    r = run_cli(["run", "--", sys.executable, "-c", "import sys; sys.exit(3)"], tmp_path)
    assert r.returncode == 3
    (doc,) = footprints(tmp_path)
    assert doc["status"] == "failed"


def test_missing_command_is_a_clear_error(tmp_path):
    r = run_cli(["run", "--", "definitely-not-a-program-xyz"], tmp_path)
    assert r.returncode == 127 and "cannot start" in r.stderr
    r = run_cli(["run"], tmp_path)
    assert r.returncode == 2 and "give a command" in r.stderr


def test_bad_setting_is_refused_with_its_name(tmp_path):
    r = run_cli(["run", "--pue", "0.5", "--", sys.executable, "-c", "pass"], tmp_path)
    assert r.returncode == 2 and "pue" in r.stderr


def _catches(pid, signum):
    """Whether process ``pid`` has a handler installed for ``signum`` (Linux: SigCgt in /proc/PID/status; elsewhere
    assumed once the child is up)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            caught = next(int(ln.split()[1], 16) for ln in fh if ln.startswith("SigCgt:"))
    except (OSError, StopIteration, ValueError):
        return True
    return bool(caught >> (signum - 1) & 1)


def test_sigterm_reaches_child_and_footprint_is_partial(tmp_path):
    ready = tmp_path / "ready"
    child = (
        "import signal, sys, time, pathlib\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))\n"
        f"pathlib.Path({str(ready)!r}).write_text('x')\n"
        "time.sleep(60)\n"
    )
    env = {**os.environ, "WATTPRINT_OUTPUT_DIR": str(tmp_path / "out")}
    p = subprocess.Popen(WATTPRINT + ["run", "--", sys.executable, "-c", child], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    # the child is up, and `wattprint run` forwards SIGTERM: it installs its handler just after starting the child,
    # so a signal sent the moment the child is ready could (on a loaded machine) still find the default action
    while not (ready.exists() and _catches(p.pid, signal.SIGTERM)):
        assert time.monotonic() < deadline and p.poll() is None
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=60)
    assert rc == 143
    (doc,) = footprints(tmp_path)
    assert doc["status"] == "partial" and any("SIGTERM" in n for n in doc["notes"])


def test_sensors_explains_what_is_missing(tmp_path):
    (tmp_path / "empty").mkdir()  # a powercap tree without RAPL zones
    r = run_cli(["sensors", "--json"], tmp_path, env={"WATTPRINT_POWERCAP_ROOT": str(tmp_path / "empty")})
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    by = {n["source"]: n for n in doc["sources"]}
    assert by["rapl"]["status"] == "absent" and str(tmp_path / "empty") in by["rapl"]["detail"]
    assert by["estimate.cpu"]["status"] == "estimated"


def test_sensors_with_a_root_that_does_not_exist_is_a_setting_error(tmp_path):
    # a root the user asked for must exist (only the default root degrades quietly): exit 2, naming it
    r = run_cli(["sensors", "--json"], tmp_path, env={"WATTPRINT_POWERCAP_ROOT": str(tmp_path / "none")})
    assert r.returncode == 2 and "WATTPRINT_POWERCAP_ROOT" in r.stderr and str(tmp_path / "none") in r.stderr
    assert "Traceback" not in r.stderr
    r = run_cli(["sensors", "--powercap-root", str(tmp_path / "none")], tmp_path)
    assert r.returncode == 2 and str(tmp_path / "none") in r.stderr


def test_sensors_with_rapl_tree(tmp_path):
    FakePowercap(tmp_path / "pc", sockets=2)
    r = run_cli(["sensors"], tmp_path, env={"WATTPRINT_POWERCAP_ROOT": str(tmp_path / "pc")})
    assert r.returncode == 0
    assert "cpu:package-1" in r.stdout and "dram:1" in r.stdout and "psys" not in r.stdout.split("Sources:")[0]
