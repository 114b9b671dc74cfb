"""`wattprint run` records the command and how it ended (issue 19), with secrets redacted."""

from __future__ import annotations

import glob
import json
import sys

from wattprint.cli import app as cli
from wattprint.cli.relay import REDACTED, redact


def test_a_failed_command_is_recorded_with_its_exit_code(tmp_path, capsys):
    rc = cli.main(["run", "--output-dir", str(tmp_path), "--", sys.executable, "-c", "import sys; sys.exit(3)", "--api-token", "s3cret"])
    assert rc == 3
    (path,) = glob.glob(str(tmp_path / "*.json"))
    doc = json.load(open(path))
    assert doc["status"] == "failed"
    assert doc["command"]["exit_code"] == 3 and doc["command"]["argv"][0] == sys.executable
    assert "s3cret" not in json.dumps(doc) and doc["command"]["argv"][-1] == REDACTED


def test_a_command_that_cannot_start_is_recorded_too(tmp_path, capsys):
    rc = cli.main(["run", "--output-dir", str(tmp_path), "--", str(tmp_path / "no-such-program")])
    assert rc == 127
    (path,) = glob.glob(str(tmp_path / "*.json"))
    doc = json.load(open(path))
    assert doc["status"] == "failed" and doc["command"]["exit_code"] is None and "cannot start" in doc["command"]["reason"]


def test_redaction_covers_flags_assignments_and_urls():
    argv = ["x", "--hf-token", "a", "--password=b", "OPENAI_API_KEY=c", "https://me:d@host/repo", "--lr", "3e-4"]
    assert redact(argv) == ["x", "--hf-token", REDACTED, f"--password={REDACTED}", f"OPENAI_API_KEY={REDACTED}",
                            f"https://me:{REDACTED}@host/repo", "--lr", "3e-4"]  # fmt: skip


def test_prometheus_port_says_where_it_serves(tmp_path, capsys):
    import pytest

    pytest.importorskip("prometheus_client")
    rc = cli.main(["run", "--output-dir", str(tmp_path), "--prometheus-port", "0", "--prometheus-linger", "0", "--", sys.executable, "-c", "pass"])
    err = capsys.readouterr().err
    assert rc == 0 and "serving Prometheus metrics at http://127.0.0.1:" in err and "/metrics" in err
