"""`wattprint run`: a SIGTERM that lands while the child is being started (issue 17).

The forwarding handler used to be installed only after the child was spawned: a signal in between
killed `wattprint run` by the default action (no footprint, an orphaned child). The signal here is
sent from inside the spawn itself, so the moment is exact, not timed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

SCRIPT = textwrap.dedent("""
    import os, signal, sys
    from wattprint.cli import relay
    real_spawn = relay.spawn
    where = sys.argv[2]

    def spawn(cmd, status, **kw):
        if where == "before":
            os.kill(os.getpid(), signal.SIGTERM)  # lands before the child exists
        child = real_spawn(cmd, status, **kw)
        if where == "after":
            os.kill(os.getpid(), signal.SIGTERM)  # lands after the child started, before run() has it
        return child

    relay.spawn = spawn
    from wattprint.cli import main
    sys.exit(main(["run", "--output-dir", sys.argv[1], "--run-id", "r1", "--", sys.executable, "-c",
                   "import time; time.sleep(120)"]))
""")


@pytest.mark.parametrize("where", ["before", "after"])
def test_sigterm_while_the_child_starts_is_forwarded_and_the_footprint_kept(tmp_path, where):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), where], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 143, proc.stderr[-2000:]  # 128 + SIGTERM, as a shell reports it; the child did not run 120 s
    doc = json.load(open(tmp_path / "r1.json"))
    assert doc["status"] == "partial" and any("SIGTERM" in n for n in doc["notes"])
    assert doc["command"]["exit_code"] == 143 and doc["command"]["signal"] == 15
    assert len(open(tmp_path / "runs.csv").read().splitlines()) == 2
