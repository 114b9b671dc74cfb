"""A server process on a free loopback port: start, wait for readiness (bounded), stop by PID."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from typing import List, Optional, Sequence

import pytest


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_binary(candidates: Sequence[str]) -> Optional[str]:
    for name in candidates:
        if not name:
            continue
        if os.path.isfile(name) and os.access(name, os.X_OK):
            return name
        found = shutil.which(name)
        if found:
            return found
    return None


class Server:
    """A child process serving HTTP on ``127.0.0.1:port``; ``ready_path`` answers 200 once it is up."""

    def __init__(self, name: str, argv: List[str], port: int, ready_path: str, *, log_path: str, ready_timeout_s: float = 30.0, env: Optional[dict] = None) -> None:
        self.name = name
        self.port = port
        self.addr = f"127.0.0.1:{port}"
        self.url = f"http://{self.addr}"
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.pid = self.proc.pid
        deadline = time.monotonic() + ready_timeout_s
        while True:  # waiting for an external process to listen: poll its readiness endpoint
            try:
                with urllib.request.urlopen(self.url + ready_path, timeout=1.0) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None:
                self._log.close()
                with open(log_path, "rb") as fh:
                    tail = fh.read()[-1500:].decode(errors="replace")
                pytest.fail(f"{name} exited at start (code {self.proc.returncode}): {tail}")
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"{name} did not become ready within {ready_timeout_s:.0f} s")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the process we started (by PID), at once."""
        if self.proc.poll() is None:
            os.killpg(self.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM the process group we started (by PID), SIGKILL after 10 s."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.proc.wait(10)
        if not self._log.closed:
            self._log.close()
