"""An in-memory exporter for tests and notebooks (no files, no network)."""

from __future__ import annotations

import threading
from typing import List, Optional

from wattprint.footprint.model import Footprint

__all__ = ["MemoryExporter"]


class MemoryExporter:
    """Keeps every footprint it is handed.

    Attributes:
        samples: the live (partial) footprints, in order.
        final: the final footprint, or ``None``.
        closed: ``True`` once ``close()`` ran.
    """

    def __init__(self) -> None:
        self.samples: List[Footprint] = []
        self.final: Optional[Footprint] = None
        self.closed = False
        self._cond = threading.Condition()

    def on_sample(self, footprint: Footprint) -> None:
        with self._cond:
            self.samples.append(footprint)
            self._cond.notify_all()

    def export(self, footprint: Footprint) -> None:
        with self._cond:
            self.final = footprint
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def wait_samples(self, n: int, timeout_s: float = 10.0) -> bool:
        """Block until at least ``n`` samples arrived (or ``timeout_s``); True if they did."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.samples) >= n, timeout_s)

    def wait_closed(self, timeout_s: float = 10.0) -> bool:
        """Block until ``close()`` ran (or ``timeout_s``); True if it did."""
        with self._cond:
            return self._cond.wait_for(lambda: self.closed, timeout_s)
