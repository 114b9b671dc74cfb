"""``wattprint report``: tables, comparisons, plots, HTML and what-if regions.

    wattprint report                                  # ./wattprint-runs (or WATTPRINT_OUTPUT_DIR)
    wattprint report wattprint-runs --plot power.png
    wattprint report run1.json run2.json --format md
    wattprint report wattprint-runs --what-if IE,SG,US-VA --pue 1.2
    wattprint report wattprint-runs --html report.html
    wattprint report runs/r1.json --format sci --functional-unit token
    wattprint report runs/r1.json --format spdx -o r1.spdx.json   # also ai-act, cyclonedx, boamps

Exit codes: 0 done; 1 a file could not be written or matplotlib is missing;
2 bad input (no such path, not a footprint, no footprint found, unknown region).

In a folder, a distributed job is reported once: per-rank footprints next to
their ``<run_id>.job.json`` are counted in it, and per-rank footprints whose
job footprint is missing are merged into one here (``--ranks`` lists every
rank instead). Notes about skipped, folded and merged files go to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, List

from wattprint._io import visible
from wattprint.cli._flags import describe
from wattprint.errors import ConfigError, PlotUnavailable, ReportError
from wattprint.report.render import FORMATS
from wattprint.report.standards import FORMATS as STANDARD_FORMATS

__all__ = ["register"]


def _regions(text: str) -> List[str]:
    regions = [r.strip() for r in text.split(",") if r.strip()]
    if not regions:
        raise argparse.ArgumentTypeError("give region codes separated by commas, e.g. IE,SG,US-VA")
    return regions


def register(subparsers: Any) -> None:
    """Add the ``report`` subcommand to the ``wattprint`` parser."""
    p = subparsers.add_parser(
        "report",
        help="tables, comparisons, plots and what-if regions for saved footprints",
        description="Report on footprints: <run_id>.json files or output folders holding them.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="footprint files or folders (default: ./wattprint-runs or WATTPRINT_OUTPUT_DIR)")
    p.add_argument("--format", "-f", choices=FORMATS + STANDARD_FORMATS, default="table",
                   help="output format (default table); ai-act, sci, spdx, cyclonedx, boamps: a reporting standard's document of one run")
    p.add_argument("--functional-unit", metavar="UNIT", help="with --format sci: run, token, sample, step, request, or name:count (default run)")
    p.add_argument("--parameters", type=float, metavar="N", help="with --format sci or boamps: the model's parameter count")
    p.add_argument("--boundary", metavar="TEXT", help="with --format sci: the software boundary as you declare it")
    p.add_argument("--output", "-o", metavar="FILE", help="with a standard's --format: write the document to FILE instead of stdout")
    p.add_argument("--plot", metavar="FILE.png", help="write the power timeline and breakdown to this PNG (needs matplotlib)")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML page with the plots and the tables")
    p.add_argument("--what-if", type=_regions, default=[], metavar="R1,R2", help="re-price the measured energy for these regions, e.g. IE,SG,US-VA")
    p.add_argument("--pue", type=float, help="PUE for the what-if scenarios (>= 1)")
    p.add_argument("--summary", action="store_true", help="with several runs, print only the comparison")
    p.add_argument("--recursive", "-r", action="store_true", help="also look in sub-folders")
    p.add_argument("--ranks", action="store_true", help="in folders, list the per-rank footprints of distributed jobs too (default: the job only)")
    p.add_argument("--max-plots", type=int, default=8, help="at most this many runs in --plot (default 8)")
    p.set_defaults(func=_cmd_report)


def _cmd_report(args: argparse.Namespace) -> int:
    from wattprint import report

    if args.plot:  # a wrong extension is refused before anything is read or written
        from wattprint.report.plot import plot_format

        try:
            plot_format(args.plot)
        except ValueError as err:
            print(f"wattprint report: --plot {err}", file=sys.stderr)
            return 2
    paths = args.paths or [os.environ.get("WATTPRINT_OUTPUT_DIR") or "wattprint-runs"]
    try:
        lean = (args.summary and args.format in ("table", "md", "csv") and not (args.what_if or args.pue is not None or args.plot
                or args.html or getattr(args, "functional_unit", None) or getattr(args, "output", None)))  # fmt: skip
        loaded = report.load_footprints(paths, recursive=args.recursive, ranks=args.ranks, keep="summary" if lean else "all")
        if lean and len(loaded.footprints) == 1:  # one run: its own tables are shown, so read it whole
            loaded = report.load_footprints(paths, recursive=args.recursive, ranks=args.ranks)
    except ReportError as err:
        print(f"wattprint report: {err}", file=sys.stderr)
        return 2
    for path, reason in loaded.skipped:
        print(visible(f"wattprint report: skipped {path}: {reason}"), file=sys.stderr)  # file names and ids are untrusted
    if loaded.folded:
        jobs = sorted({job for _, job in loaded.folded})
        print(
            visible(f"wattprint report: {len(loaded.folded)} per-rank footprint(s) counted in job(s) {', '.join(jobs)} (--ranks lists them)"),
            file=sys.stderr,
        )
    for job, files in loaded.merged:
        print(
            visible(f"wattprint report: job {job} has no job footprint; merged its {len(files)} per-rank footprint(s) (--ranks lists them)"),
            file=sys.stderr,
        )
    for job, reason in loaded.unmerged:
        print(visible(f"wattprint report: job {job}: {reason}; listed rank by rank"), file=sys.stderr)
    fps = loaded.footprints
    if not fps:
        print(
            f"wattprint report: no footprints in {', '.join(paths)}; runs write <run_id>.json into their output folder "
            "(default ./wattprint-runs)",
            file=sys.stderr,
        )
        return 2
    if args.format in STANDARD_FORMATS or args.functional_unit or args.output:
        from wattprint.cli.standards import cmd_standard

        return cmd_standard(args, fps)
    try:
        text = report.render(fps, args.format, regions=args.what_if, pue=args.pue, details=not args.summary)
    except ConfigError as err:
        flags = {"region": "--what-if", **getattr(args, "flag_names", {})}  # the what-if regions are its regions
        print(f"wattprint report: {describe(err, flags)}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    sys.stdout.flush()
    rc = 0
    if args.plot:
        rc = max(rc, _write(lambda: _plot(fps, args.plot, args.max_plots), args.plot, len(fps) > args.max_plots, args.max_plots))
    if args.html:
        rc = max(rc, _write(lambda: _html(fps, args), args.html, False, 0))
    return rc


def _plot(fps: Any, path: str, max_runs: int) -> None:
    from wattprint.report.plot import save_png

    save_png(fps, path, max_runs=max(1, max_runs))


def _html(fps: Any, args: argparse.Namespace) -> None:
    from wattprint.report.html import save_html

    save_html(fps, args.html, regions=args.what_if, pue=args.pue)


def _write(action: Callable[[], None], path: str, truncated: bool, max_runs: int) -> int:
    try:
        action()
    except PlotUnavailable as err:
        print(f"wattprint report: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"wattprint report: cannot write {path}: {err}", file=sys.stderr)
        return 1
    note = f" (the first {max_runs} runs)" if truncated else ""
    print(f"wattprint report: wrote {path}{note}", file=sys.stderr)
    return 0
