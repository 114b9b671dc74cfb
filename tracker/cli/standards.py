"""``wattprint report RUN --format ai-act|sci|spdx|cyclonedx|boamps``: one run's standard document.

The document is printed as JSON (or written to ``--output`` atomically). Options:
``--functional-unit`` (SCI only: ``run``, ``token``, ``sample``, ``step``, ``request`` or
``name:count``), ``--boundary`` (SCI: the boundary as declared) and ``--parameters``
(SCI and BoAmps: the model's parameter count).

Exit codes: 0 done; 1 the output file could not be written; 2 bad input (several runs
where one is needed, an option the format does not take, a functional unit the run did
not count), the message naming the flag.

Failure modes: as above; nothing is written on a bad input.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, Sequence

from wattprint.cli._flags import describe
from wattprint.errors import ConfigError

__all__ = ["cmd_standard"]

_OPTIONS = {"functional_unit": ("sci",), "parameters": ("sci", "boamps"), "boundary": ("sci",)}


def _fail(message: str) -> int:
    print(f"wattprint report: {message}", file=sys.stderr)
    return 2


def cmd_standard(args: argparse.Namespace, footprints: Sequence[Any]) -> int:
    """Build, print or write the document of the one footprint in ``footprints``."""
    from wattprint._io import atomic_write_text
    from wattprint.report import standards

    fmt = args.format
    if fmt not in standards.FORMATS:
        flag = "--functional-unit" if args.functional_unit else "--output"
        return _fail(f"{flag} goes with a standard's --format ({', '.join(standards.FORMATS)}), not --format {fmt}")
    options: Dict[str, Any] = {}
    for dest, formats in _OPTIONS.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        if fmt not in formats:
            return _fail(f"--{dest.replace('_', '-')} goes with --format {' or '.join(formats)}, not --format {fmt}")
        options[dest] = value
    if len(footprints) != 1:
        ids = ", ".join(fp.run_id for fp in footprints[:5])
        return _fail(f"--format {fmt} documents one run; got {len(footprints)} ({ids}{', ...' if len(footprints) > 5 else ''}): give one RUN.json")
    try:
        document = standards.build(fmt, footprints[0], **options)
    except ConfigError as err:
        return _fail(describe(err, {"format": "--format", **flag_map_of(args)}))
    text = standards.dumps(document)
    if not args.output:
        sys.stdout.write(text)
        sys.stdout.flush()
        return 0
    try:
        atomic_write_text(args.output, text)
    except OSError as err:
        print(f"wattprint report: cannot write {args.output}: {err}", file=sys.stderr)
        return 1
    print(f"wattprint report: wrote {args.output} ({fmt})", file=sys.stderr)
    return 0


def flag_map_of(args: argparse.Namespace) -> Dict[str, str]:
    """The flags of the report subcommand (``functional_unit`` -> ``--functional-unit``...)."""
    flags = dict(getattr(args, "flag_names", {}) or {})
    flags.setdefault("functional_unit", "--functional-unit")
    flags.setdefault("parameters", "--parameters")
    return flags


# -- `wattprint run` flags for the reporting-standard figures (accounting options) -------------

_RUN_FLAGS = (
    ("--water-source", "water_source", str, "the water's source, shown next to WUE: potable, non-potable, recycled or unknown (default)"),
    ("--market-intensity", "market_intensity_g_per_kwh", float, "supplier emission factor, gCO2e/kWh: adds a market-based scope 2 figure"),
    ("--renewable-share", "renewable_share", float, "contractual renewable share 0-1: adds a market-based scope 2 figure"),
    ("--task-stage", "task_stage", str, "training, fine-tuning, inference or development (reported by ai-act, spdx, cyclonedx, boamps)"),
)


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--water-source``, ``--market-intensity``, ``--renewable-share``, ``--task-stage`` to ``wattprint run``."""
    for flag, dest, kind, text in _RUN_FLAGS:
        parser.add_argument(flag, dest=dest, type=kind, help=text)


def run_accounting_options(args: argparse.Namespace) -> Dict[str, Any]:
    """The accounting options given by those flags (checked by the Tracker, which names the setting)."""
    return {dest: getattr(args, dest) for _, dest, _, _ in _RUN_FLAGS if getattr(args, dest, None) is not None}
