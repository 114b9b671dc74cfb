"""Debian's ``prometheus-pushgateway`` with its own persistence file (in the test's tmp folder).

Debian's default persistence file is shared by every gateway on the machine, so
one test run's groups would leak into the next; each gateway here gets its own.
"""

from __future__ import annotations

import os
import tempfile
from typing import Optional

import pytest

from servers._proc import Server, find_binary, free_port

CANDIDATES = [os.environ.get("WATTPRINT_TEST_PUSHGATEWAY", ""), "/usr/bin/prometheus-pushgateway", "prometheus-pushgateway", "pushgateway"]


def start_pushgateway(tmp_dir: Optional[str] = None) -> Server:
    """Start a gateway (its files in ``tmp_dir``, default a new temporary folder), or skip when absent."""
    if tmp_dir is None:
        tmp_dir = tempfile.mkdtemp(prefix="wattprint-pushgateway-")
    binary = find_binary(CANDIDATES)
    if binary is None:
        pytest.skip("prometheus-pushgateway is not installed (Debian package prometheus-pushgateway)")
    port = free_port()
    argv = [binary, f"--web.listen-address=127.0.0.1:{port}", f"--persistence.file={os.path.join(tmp_dir, 'pushgateway.db')}",
            "--persistence.interval=1m"]
    return Server("prometheus-pushgateway", argv, port, "/-/ready", log_path=os.path.join(tmp_dir, "pushgateway.log"))
