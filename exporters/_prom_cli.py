"""``wattprint run``'s Prometheus options: the exporter from the flags, and the wait for its linger.

``--prometheus-port`` serves the live metrics; ``--pushgateway URL`` (or
``WATTPRINT_PUSHGATEWAY``) pushes them, the final push included, so a batch
job run through the CLI delivers its final figures; ``--prometheus-linger S``
(or ``WATTPRINT_PROMETHEUS_LINGER_S``) bounds how long the endpoint stays up
after the run with the final values. ``wattprint run`` waits for that linger
before it exits (it ends early once a scrape saw the final values).

Units: seconds. Failure modes: a bad value raises
:class:`~wattprint.errors.ConfigError` naming the setting (the CLI names the flag).
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Optional, Sequence

from wattprint import settings as config

__all__ = ["exporter_from_cli", "wait_for_final_scrape"]


def exporter_from_cli(
    port: Optional[int],
    addr: str = "127.0.0.1",
    pushgateway: Optional[str] = None,
    linger_s: Optional[float] = None,
    env: Optional[Mapping[str, str]] = None,
) -> Any:
    """The :class:`~wattprint.exporters.prometheus.PrometheusExporter` the options ask for, or ``None``."""
    env = os.environ if env is None else env
    pushgateway = config.setting_str("pushgateway", pushgateway, env, None)
    if port is None and not pushgateway:
        return None
    from wattprint.exporters.prometheus import PrometheusExporter

    return PrometheusExporter(port=port, addr=addr, pushgateway=pushgateway or None, linger_s=linger_s, env=env)


def wait_for_final_scrape(exporters: Sequence[Any], timeout_s: Optional[float] = None) -> None:
    """Wait until every Prometheus endpoint among ``exporters`` has ended its linger."""
    from wattprint.exporters.prometheus import PrometheusExporter

    for exp in exporters:
        if isinstance(exp, PrometheusExporter):
            exp.wait_closed(exp.linger_s + 5.0 if timeout_s is None else timeout_s)
