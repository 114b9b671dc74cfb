"""The command line registers its subcommands explicitly: every command is there, and a broken
subcommand module fails loudly instead of silently removing its command."""

from __future__ import annotations

import argparse
import subprocess
import sys

from wattprint.cli import app as cli


def _subcommands(parser: argparse.ArgumentParser) -> dict:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001
    return dict(action.choices)


def test_every_subcommand_and_its_flags_are_registered():
    subs = _subcommands(cli.build_parser())
    assert set(subs) == {"run", "sensors", "report", "estimate", "regions"}
    flags = {name: {opt for a in p._actions for opt in a.option_strings} for name, p in subs.items()}  # noqa: SLF001
    assert {"--output-dir", "--project", "--run-id", "--region", "--pue", "--interval", "--cpu-tdp",
            "--prometheus-port", "--prometheus-addr", "--quiet", "--live"} <= flags["run"]
    assert {"--json", "--powercap-root"} <= flags["sensors"]
    assert {"--format", "--plot", "--html", "--what-if", "--pue", "--summary", "--recursive", "--ranks", "--max-plots"} <= flags["report"]
    assert {"--params", "--tokens", "--flops", "--gpu", "--gpus", "--mfu", "--hours", "--energy-kwh", "--power-w",
            "--region", "--pue", "--wue", "--ewif", "--intensity", "--lifetime-years", "--json"} <= flags["estimate"]
    assert {"--json"} <= flags["regions"]


def test_a_broken_subcommand_module_is_an_error_not_a_missing_command():
    # Before: `_PLUGINS` + `except ImportError: continue` dropped `wattprint report` without a word.
    code = (
        "import sys\n"
        "sys.modules['wattprint.cli.report'] = None  # importing it now raises ImportError\n"
        "try:\n"
        "    from wattprint.cli.app import build_parser\n"
        "    build_parser().parse_args(['report'])\n"
        "except ImportError as err:\n"
        "    print('ImportError', err)\n"
        "    sys.exit(0)\n"
        "except SystemExit:\n"
        "    print('the report command was silently missing')\n"
        "    sys.exit(1)\n"
        "print('no error')\n"
        "sys.exit(1)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ImportError" in r.stdout


def test_the_run_command_records_the_forwarded_signal_through_stop(monkeypatch, tmp_path):
    """`wattprint run` passes the signal it forwarded to `Tracker.stop(status, reason=...)` (no private attribute)."""
    from wattprint.run import tracker as tracker_mod

    calls = []
    real_stop = tracker_mod.Tracker.stop

    def spy(self, status=None, reason=None):
        calls.append((status, reason))
        return real_stop(self, status, reason=reason)

    monkeypatch.setattr(tracker_mod.Tracker, "stop", spy)
    rc = cli.main(["run", "--quiet", "--output-dir", str(tmp_path), "--", sys.executable, "-c", "pass"])
    assert rc == 0 and calls == [("completed", None)]
