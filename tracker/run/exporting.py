"""The exporter protocol and the runner that isolates each exporter.

An exporter is any object with ``export(footprint)``; it may also have
``on_sample(footprint)`` (a live, partial footprint, about once per
``interval_s``) and ``close()``. Exporters see only the
:class:`~wattprint.footprint.Footprint` (and its timeline), never a sensor.

Each exporter gets its own daemon worker thread. ``on_sample`` keeps only the
latest footprint (a slow exporter skips samples rather than queueing them),
and the final ``export`` is waited for with a deadline. An exporter that
raises is logged with its traceback once per method (``logger.exception``),
its error is recorded (:attr:`ExporterRunner.errors`; the Tracker exposes them as
``Tracker.export_errors`` and in the footprint's ``notes``) and the others go
on; one that hangs is abandoned at the deadline. Nothing an exporter does can
raise into the training loop.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, List, Optional, Protocol, runtime_checkable

from wattprint.footprint.model import Footprint

__all__ = ["Exporter", "ExporterRunner", "finish_all", "error_notes"]

logger = logging.getLogger("wattprint")


@runtime_checkable
class Exporter(Protocol):
    def export(self, footprint: Footprint) -> None:
        """Write the final footprint. May raise; the runner isolates it."""


class ExporterRunner:
    """Runs one exporter in its own worker thread.

    Attributes:
        errors: the error messages seen (the first of each kind is also logged).
    """

    def __init__(self, exporter: Any) -> None:
        if not callable(getattr(exporter, "export", None)):
            raise TypeError(f"exporter {exporter!r} has no export(footprint) method")
        self.exporter = exporter
        self.name = type(exporter).__name__
        self.errors: List[str] = []
        self._cond = threading.Condition()
        self._pending_sample: Optional[Footprint] = None
        self._final: Optional[Footprint] = None
        self._final_done = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=f"wattprint-export-{self.name}", daemon=True)
        self._thread.start()

    def _call(self, method: str, footprint: Optional[Footprint]) -> None:
        fn = getattr(self.exporter, method, None)
        if fn is None:
            return
        try:
            fn(footprint) if footprint is not None else fn()
        except Exception as err:
            msg = f"{method}: {type(err).__name__}: {err}"
            if not any(e.split(":", 1)[0] == method for e in self.errors):
                logger.exception("wattprint: exporter %s failed in %s; other outputs are unaffected", self.name, method)
            self.errors.append(msg)

    def _work(self) -> None:
        while True:
            with self._cond:
                while self._pending_sample is None and self._final is None and not self._closed:
                    self._cond.wait()
                sample, final = self._pending_sample, self._final
                self._pending_sample = None
                closing = self._closed
            if final is not None:
                self._call("export", final)
                self._call("close", None)
                self._final_done.set()
                return
            if sample is not None:
                self._call("on_sample", sample)
            elif closing:
                self._final_done.set()
                return

    def submit_sample(self, footprint: Footprint) -> None:
        if getattr(self.exporter, "on_sample", None) is None:
            return
        with self._cond:
            self._pending_sample = footprint
            self._cond.notify()

    def submit_final(self, footprint: Footprint) -> None:
        """Hand over the final footprint; the worker exports it, then closes the exporter."""
        with self._cond:
            self._final = footprint
            self._pending_sample = None
            self._cond.notify()

    def wait(self, deadline: float) -> bool:
        """Wait for the final export until ``deadline`` (``time.monotonic``). True if it finished."""
        done = self._final_done.wait(max(0.0, deadline - time.monotonic()))
        if not done:
            msg = "export: did not finish before the deadline (abandoned)"
            logger.warning("wattprint: exporter %s %s", self.name, msg)
            self.errors.append(msg)
        return done


def finish_all(runners: List["ExporterRunner"], footprint: Footprint, timeout_s: float) -> None:
    """Give every exporter the final footprint at once, then wait for all under one deadline."""
    deadline = time.monotonic() + timeout_s
    for runner in runners:
        runner.submit_final(footprint)
    for runner in runners:
        runner.wait(deadline)


def error_notes(runners: List["ExporterRunner"]) -> List[str]:
    """One note per exporter and method that failed, e.g. ``"exporter CsvExporter failed in export: OSError: ..."``
    (the first error of each method, with how many more there were)."""
    notes: List[str] = []
    for runner in runners:
        first: dict = {}
        for err in list(runner.errors):
            method = err.split(":", 1)[0]
            first.setdefault(method, [err, 0])[1] += 1
        for err, n in first.values():
            notes.append(f"exporter {runner.name} failed in {err}" + (f" ({n - 1} more time(s))" if n > 1 else ""))
    return notes
