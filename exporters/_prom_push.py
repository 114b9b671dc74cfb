"""Pushgateway delivery: periodic pushes, the final push, and group retention.

Each run (and rank) has its own group (``job``/``run_id``/``rank`` by
default). A push replaces the whole group (HTTP PUT), so the final push,
which carries the counters and ``wattprint_run_info{status=...}`` but no live
gauges, removes the run's power series from the gateway.

Retention (``retention_s``): a finished run's group is deleted once it is
older than ``retention_s`` seconds, by this process if it is still alive then
(a daemon timer), and otherwise by the next run that pushes to the same
gateway and job: on its first push it lists the gateway's groups
(``GET /api/v1/metrics``) and deletes those whose last push is older than
``retention_s`` (a live run re-pushes every ``push_interval_s``, so keep
``retention_s`` well above it).

Units: seconds. Failure modes: nothing raises into the run; a failed push is
logged once and counted, a failed sweep or deletion is logged and skipped.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from typing import Any, Callable, Dict, List, Optional

__all__ = ["Pusher", "stale_groups"]

logger = logging.getLogger("wattprint")


def _base_url(gateway: str) -> str:
    return gateway if "://" in gateway else f"http://{gateway}"


def stale_groups(api_doc: Dict[str, Any], job: str, older_than_unix_s: float) -> List[Dict[str, str]]:
    """Grouping keys (without ``job``) of ``job``'s groups last pushed before ``older_than_unix_s``,
    from the Pushgateway's ``/api/v1/metrics`` document."""
    out: List[Dict[str, str]] = []
    for group in api_doc.get("data") or []:
        labels = dict(group.get("labels") or {})
        if labels.pop("job", None) != job:
            continue
        try:
            pushed = float(group["push_time_seconds"]["metrics"][0]["value"])
        except (KeyError, IndexError, TypeError, ValueError):
            continue
        if pushed < older_than_unix_s:
            out.append(labels)
    return out


class Pusher:
    """Pushes one registry to a Pushgateway group; deletes groups past their retention."""

    def __init__(
        self,
        gateway: str,
        job: str,
        *,
        timeout_s: float,
        handler: Optional[Callable[..., Any]] = None,
        retention_s: Optional[float] = None,
    ) -> None:
        self.gateway = gateway
        self.job = job
        self.timeout_s = timeout_s
        self.handler = handler
        self.retention_s = retention_s
        self.group: Optional[Dict[str, str]] = None
        self.pushes = 0
        self.errors = 0
        self.last_error: Optional[str] = None
        self.swept: List[Dict[str, str]] = []
        self._lock = threading.Lock()
        self._timer: Optional[threading.Timer] = None

    def _kwargs(self) -> Dict[str, Any]:
        return {"handler": self.handler} if self.handler is not None else {}

    def push(self, registry: Any) -> bool:
        """One push of ``registry`` to :attr:`group`; True when it went through. Logs the first failure."""
        from prometheus_client import push_to_gateway

        assert self.group is not None
        with self._lock:
            try:
                push_to_gateway(self.gateway, job=self.job, registry=registry, grouping_key=self.group, timeout=self.timeout_s, **self._kwargs())
            except Exception as err:
                self.errors += 1
                self.last_error = f"{type(err).__name__}: {err}"
                if self.errors == 1:
                    logger.warning(
                        "wattprint: push to the Pushgateway at %s failed (%s); retrying with backoff, the run goes on",
                        self.gateway,
                        self.last_error,
                    )
                return False
            first = self.pushes == 0
            self.pushes += 1
        if first and self.retention_s is not None:
            self.sweep()
        return True

    def delete(self, group: Optional[Dict[str, str]] = None) -> bool:
        """Delete ``group`` (default the run's own) from the gateway; True when it went through."""
        from prometheus_client import delete_from_gateway

        group = self.group if group is None else group
        if group is None:
            return False
        try:
            delete_from_gateway(self.gateway, job=self.job, grouping_key=group, timeout=self.timeout_s, **self._kwargs())
            return True
        except Exception as err:
            logger.warning("wattprint: could not delete group %s from the Pushgateway at %s (%s)", group, self.gateway, err)
            return False

    def sweep(self) -> List[Dict[str, str]]:
        """Delete this job's groups (other than ours) last pushed more than ``retention_s`` ago."""
        if self.retention_s is None:
            return []
        try:
            with urllib.request.urlopen(_base_url(self.gateway).rstrip("/") + "/api/v1/metrics", timeout=self.timeout_s) as resp:
                doc = json.loads(resp.read().decode("utf-8"))
        except Exception as err:
            logger.info("wattprint: could not list the Pushgateway's groups for retention (%s)", err)
            return []
        old = [g for g in stale_groups(doc, self.job, time.time() - self.retention_s) if g != self.group]
        deleted = [g for g in old if self.delete(g)]
        self.swept.extend(deleted)
        return deleted

    def delete_later(self, delay_s: float) -> None:
        """Delete the run's group after ``delay_s`` seconds, if the process is still alive then (daemon timer)."""
        if self.group is None:
            return
        timer = threading.Timer(max(0.0, delay_s), self.delete)
        timer.daemon = True
        timer.name = "wattprint-pushgateway-retention"
        self._timer = timer
        timer.start()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
