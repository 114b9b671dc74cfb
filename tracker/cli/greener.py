"""``wattprint run --when-greener``: start the command when the grid is greener.

    wattprint run --when-greener --within 12h --expect 3h -- python train.py
    wattprint run --when-greener --within 12h --forecast-provider ukci --forecast-zone postcode:RG10 --dry-run

Flags (registered on ``run`` by :func:`add_flags`): ``--when-greener``; ``--within`` (the
hard deadline for the start, default 12h); ``--expect`` (the job's duration, default the
last completed run of the project in the output folder); ``--dry-run`` (print the plan and
the expected saving against starting now; run nothing); ``--forecast-provider`` (``ukci``,
``electricitymaps``, ``watttime``, ``energinet``, ``file``; default ``WATTPRINT_FORECAST``),
``--forecast-zone``, ``--forecast-url``, ``--forecast-file``. Tokens only from
``WATTPRINT_FORECAST_TOKEN`` (a flag would show in ``ps``).

The wait happens before the tracker starts (the idle wait is not the job's energy); the
plan goes into the footprint's ``carbon_aware`` section, priced after the run with the
measured energy (:meth:`wattprint.run.carbon_aware.Plan.finish`).

Failure modes: a bad duration or provider setting raises ``ConfigError`` (printed with the
flag, exit 2, nothing run); ``--dry-run`` or ``--within`` without ``--when-greener`` is a
``ConfigError``; no forecast reachable: the command starts at once and the footprint says why.
Ctrl-C while waiting exits 130 with nothing run.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Optional

from wattprint.errors import ConfigError

__all__ = ["add_flags", "plan_for", "after_run"]


def add_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("carbon-aware start")
    g.add_argument("--when-greener", action="store_true", help="start when the forecast grid intensity is lowest within --within")
    g.add_argument("--within", help="hard deadline for the start, e.g. 12h, 90m (default 12h)")
    g.add_argument("--expect", help="expected duration of the job, e.g. 3h (default: the project's last completed run)")
    g.add_argument("--dry-run", action="store_true", help="print the plan and the expected saving; run nothing")
    g.add_argument("--forecast-provider", help="ukci, electricitymaps, watttime, energinet or file (default WATTPRINT_FORECAST)")
    g.add_argument("--forecast-zone", help="provider zone: GB, regionid:13, postcode:RG10, DE, CAISO_NORTH, DK1...")
    g.add_argument("--forecast-url", help="provider base URL (default: its public API)")
    g.add_argument("--forecast-file", help="a CSV/JSON forecast (with --forecast-provider file, the default when given)")


def plan_for(args: argparse.Namespace, tracker: Any, *, clock: Any = None, sleep: Any = None) -> Optional[Any]:
    """Plan (and, unless ``--dry-run``, wait for) the start; ``None`` without ``--when-greener``.

    Raises:
        ConfigError: a bad flag (see the module docstring).
    """
    if not getattr(args, "when_greener", False):
        for dest in ("dry_run", "within", "expect", "forecast_provider", "forecast_zone", "forecast_url", "forecast_file"):
            if getattr(args, dest, None):
                raise ConfigError(dest, "needs --when-greener")
        return None
    from wattprint.run.carbon_aware import wait_for_greener
    from wattprint.run.forecast.registry import make_provider

    name = args.forecast_provider or ("file" if args.forecast_file else None)
    provider = make_provider(name, zone=args.forecast_zone, url=args.forecast_url, path=args.forecast_file)
    try:
        return wait_for_greener(
            args.within or "12h", args.expect, provider=provider, project=tracker.project, output_dir=tracker.output_dir,
            dry_run=bool(args.dry_run), clock=clock, sleep=sleep, stream=sys.stderr,
        )  # fmt: skip
    except KeyboardInterrupt:  # Ctrl-C while waiting: nothing was run, nothing written
        print("\nwattprint run: interrupted while waiting for a greener grid; nothing was run", file=sys.stderr)
        raise SystemExit(130) from None


def after_run(plan: Optional[Any], tracker: Any) -> None:
    """Price the run (measured energy x observed or forecast intensity) into ``carbon_aware``; before ``stop()``."""
    if plan is not None:
        plan.finish(tracker)
