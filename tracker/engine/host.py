"""Facts about the host a run measures: CPU model, core count, RAM, OS, Python, wattprint version.

Read once per process and cached (the CPU model from ``/proc/cpuinfo``); ``host_info()`` adds the
current PID, so a forked child reports its own.

Failure modes: an unreadable ``/proc/cpuinfo`` falls back to ``platform.processor()``, then
``"unknown CPU"``; RAM is ``None`` when psutil cannot read it. Nothing here raises.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Dict

from wattprint._version import __version__

__all__ = ["cpu_model_name", "host_info"]


@functools.lru_cache(maxsize=1)
def cpu_model_name() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else ``platform.processor()``; cached."""
    name = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    if not name:
        import platform

        name = platform.processor() or platform.machine() or "unknown CPU"
    return name


@functools.lru_cache(maxsize=1)
def _static_host() -> Dict[str, Any]:
    import platform
    import socket

    info: Dict[str, Any] = {
        "hostname": socket.gethostname(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "cpu_model": cpu_model_name(),
        "cpu_count": os.cpu_count(),
    }
    try:
        import psutil

        info["ram_gb"] = round(psutil.virtual_memory().total / 1e9, 3)
    except Exception:
        info["ram_gb"] = None
    info["wattprint_version"] = __version__
    return info


def host_info() -> Dict[str, Any]:
    """The host section of a footprint (a fresh dict each call; ``pid`` is the caller's)."""
    info = dict(_static_host())
    info["pid"] = os.getpid()
    return info
