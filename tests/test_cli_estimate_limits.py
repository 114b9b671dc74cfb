"""`wattprint estimate` at the edges (issues 17 and 19): no Infinity, no 300-digit numbers, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from wattprint.cli import app as cli


def test_an_energy_too_large_to_compute_names_the_flag(capsys):
    rc = cli.main(["estimate", "--energy-kwh", "1e308"])
    err = capsys.readouterr().err
    assert rc == 2 and "--energy-kwh" in err and "Traceback" not in err


def test_json_is_strict_and_huge_figures_stay_short(capsys):
    assert cli.main(["estimate", "--gpu", "H100", "--gpu-hours", "1e300", "--json"]) == 0
    out = capsys.readouterr().out
    json.loads(out, parse_constant=lambda name: (_ for _ in ()).throw(AssertionError(name)))
    assert cli.main(["estimate", "--gpu", "H100", "--gpu-hours", "1e300"]) == 0
    text = capsys.readouterr().out
    assert max(len(line) for line in text.splitlines()) < 400 and "years" in text


def test_a_closed_pipe_is_not_a_traceback():
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATTPRINT_")}
    # the reader has left before the child starts (as `| head -0` would): closing our end after Popen instead
    # raced the child's first write on a loaded machine (written into the pipe buffer, exit 0)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "wattprint", "estimate", "--gpu", "H100", "--hours", "10"],
                                stdout=write_end, stderr=subprocess.PIPE, env=env)
    finally:
        os.close(write_end)
    err = proc.stderr.read().decode()
    rc = proc.wait(timeout=60)
    assert "Traceback" not in err and "Exception ignored" not in err and rc == 141
