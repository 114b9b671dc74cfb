"""Two real concurrent busy processes on one fake-RAPL node (issue 12): CPU energy in proportion to CPU time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from wattprint.testing import FakePowercap

CHILD = r"""
import json, os, sys, time
import wattprint
rapl, cg, flags, name, duty = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
def wait(path, limit_s=60.0):
    end = time.monotonic() + limit_s
    while not os.path.exists(path):
        if time.monotonic() > end:
            raise SystemExit(f"timed out waiting for {path}")
        time.sleep(0.01)
t = wattprint.Tracker(powercap_root=rapl, gpu=False, ram=False, interval_s=0.2, save=False, handle_signals=False,
                      env={"WATTPRINT_CGROUP_ROOT": cg})
t.start()
open(os.path.join(flags, name + ".ready"), "w").close()
wait(os.path.join(flags, "go"))
c0, end = time.process_time(), time.monotonic() + 1.5
while time.monotonic() < end:  # busy for `duty` of each 10 ms
    slot = time.monotonic()
    while time.monotonic() - slot < 0.01 * duty:
        pass
    rest = 0.01 * (1 - duty) - (time.monotonic() - slot - 0.01 * duty)
    if rest > 0:
        time.sleep(rest)
cpu_s = time.process_time() - c0
open(os.path.join(flags, name + ".done"), "w").close()
wait(os.path.join(flags, "stop"))
fp = t.stop().to_dict()
(c,) = [c for c in fp["components"] if c["id"] == "cpu:package-0"]
print(json.dumps({"cpu_s": cpu_s, "energy_j": c["energy_j"], "node_energy_j": c["node_energy_j"], "method": c["attribution"]}))
"""


def _node_busy_ticks():
    """The node's busy CPU ticks (user+nice+system+irq+softirq+steal of /proc/stat's first line)."""
    with open("/proc/stat") as fh:
        f = fh.readline().split()
    return sum(int(f[i]) for i in (1, 2, 3, 6, 7, 8))


def _wait(paths, limit_s=60.0):
    end = time.monotonic() + limit_s
    while not all(os.path.exists(p) for p in paths):
        assert time.monotonic() < end, f"children did not reach {paths}"
        time.sleep(0.01)


def test_two_busy_processes_share_the_package_by_cpu_time(tmp_path):
    pc = FakePowercap(tmp_path / "rapl", sockets=1, dram=False, psys=False, mmio=False, core=False)
    (tmp_path / "cg").mkdir()  # no cgroup: the process trees decide
    flags = tmp_path / "flags"
    flags.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTPRINT_")}
    procs = {name: subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "rapl"), str(tmp_path / "cg"), str(flags), name, duty],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for name, duty in (("a", "1.0"), ("b", "0.4"))}  # fmt: skip
    try:
        _wait([flags / "a.ready", flags / "b.ready"])
        feeding, reading = threading.Event(), threading.Event()
        feeding.set()
        fed = [_node_busy_ticks()]

        def feed_since_last():
            now = _node_busy_ticks()
            pc.add_j("cpu:package-0", 0.4 * (now - fed[0]))  # 100 ticks a CPU-second: 0.4 J a tick
            fed[0] = now

        def feed():  # the package draws in proportion to the node's busy CPU time (40 W per busy core), as a
            # real one does: then no moment of the run weighs more than another, and the split is judged alone
            reading.set()
            while feeding.is_set():
                time.sleep(0.02)
                feed_since_last()

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        assert reading.wait(60)  # feeding before the children start their busy loops
        (flags / "go").touch()
        _wait([flags / "a.done", flags / "b.done"])
        feeding.clear()
        feeder.join(60)
        feed_since_last()  # the last ticks, before the children's final readings
        time.sleep(0.5)  # a last sample of both sees the final counter
        (flags / "stop").touch()
        out = {}
        for name, p in procs.items():
            stdout, stderr = p.communicate(timeout=60)
            assert p.returncode == 0, stderr
            out[name] = json.loads(stdout.strip().splitlines()[-1])
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
    a, b = out["a"], out["b"]
    assert a["method"] == b["method"] == "process-share"
    assert a["node_energy_j"] == pytest.approx(b["node_energy_j"], rel=1e-6)  # both saw the whole feed
    assert a["energy_j"] > 0 and b["energy_j"] > 0
    ratio_energy, ratio_cpu = a["energy_j"] / b["energy_j"], a["cpu_s"] / b["cpu_s"]
    assert ratio_energy == pytest.approx(ratio_cpu, rel=0.20), (a, b)
    assert a["energy_j"] + b["energy_j"] <= 1.01 * min(a["node_energy_j"], b["node_energy_j"]), (a, b)
