"""Launch a script under ``python -m torch.distributed.run`` as torchrun would, on loopback.

The master port is a free port found by binding port 0. Another process can take
that port between the check and torchrun's own bind (busy CI machines), so a
launch that fails on the port alone is retried with a new one.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import List, Mapping, Optional

_PORT_ERRORS = ("address already in use", "eaddrinuse", "errno: 98", "the server socket has failed to listen")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_torchrun(script_args: List[str], *, env: Optional[Mapping[str, str]] = None, nproc: int = 2,
                 timeout: float = 300, attempts: int = 3) -> subprocess.CompletedProcess:
    """Run ``torchrun --nproc_per_node=nproc --nnodes=1 <script_args>``; returns the last attempt."""
    proc: Optional[subprocess.CompletedProcess] = None
    for _ in range(attempts):
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--nnodes=1",
               "--master_addr=127.0.0.1", f"--master_port={free_port()}", *script_args]
        proc = subprocess.run(cmd, env=dict(env) if env is not None else None, capture_output=True, text=True, timeout=timeout)
        output = (proc.stdout + proc.stderr).lower()
        if proc.returncode == 0 or not any(e in output for e in _PORT_ERRORS):
            return proc
    assert proc is not None
    return proc
