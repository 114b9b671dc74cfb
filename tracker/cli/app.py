"""The ``wattprint`` command line.

``wattprint run [options] -- CMD ARGS...`` tracks a child program: its exit
code is wattprint's, SIGINT and SIGTERM are forwarded to it, and the footprint
is written even when it fails. ``wattprint sensors`` says what will be
measured, what estimated, and why each missing source is missing.
``report`` (:mod:`wattprint.cli.report`), ``estimate`` and ``regions``
(:mod:`wattprint.cli.estimate`) live in their own modules and are registered
here, explicitly: a broken subcommand module fails loudly at import instead of
silently removing its command.

Exit codes of ``run``: the child's own code (``128 + N`` when it died of signal
N); 2 for bad options or a bad setting; 127 when the command cannot be started.
``sensors``: 0, or 2 for a bad setting (a ``--powercap-root`` or
``WATTPRINT_POWERCAP_ROOT`` that does not exist).

Failure modes: a bad setting is printed with the flag the user typed (exit 2;
:mod:`wattprint.cli._flags`); an option whose optional extra is missing (e.g.
``--prometheus-port`` without ``prometheus_client``) prints one line with the
``pip install`` to run and exits 2 before anything is run; the footprint
is written even when the child fails or is interrupted (status ``failed`` or
``partial``, the signal noted).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import Any, Dict, List, Optional, Sequence

from wattprint._io import visible
from wattprint.cli import estimate as estimate_cmd
from wattprint.cli import greener as greener_cmd
from wattprint.cli import report as report_cmd
from wattprint.cli import standards as standards_cmd
from wattprint.cli._flags import describe, flag_map
from wattprint.cli.relay import command_record
from wattprint.errors import ConfigError

__all__ = ["main", "build_parser"]


def _add_tracker_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output-dir", help="folder for <run_id>.json and runs.csv (default ./wattprint-runs)")
    p.add_argument("--project", help="project name")
    p.add_argument("--run-id", help="run id (default: time + random)")
    p.add_argument("--region", help="region code, e.g. IE, US-VA, aws:us-east-1 (default world)")
    p.add_argument("--pue", help="facility PUE (>= 1) or a PUE table key, e.g. provider:google")
    p.add_argument("--interval", type=float, dest="interval_s", help="counter sampling period, seconds")
    p.add_argument("--cpu-tdp", type=float, dest="cpu_tdp_w", help="CPU TDP in watts for the estimate")
    p.add_argument("--prometheus-port", type=int, help="serve live Prometheus metrics on this port (127.0.0.1)")
    p.add_argument("--prometheus-addr", default="127.0.0.1", help="address for --prometheus-port (default 127.0.0.1)")
    p.add_argument("--pushgateway", help="push live and final metrics to this Prometheus Pushgateway (host:port or URL; env WATTPRINT_PUSHGATEWAY)")
    p.add_argument("--prometheus-linger", type=float, dest="prometheus_linger_s",
                   help="after the run, keep --prometheus-port serving the final figures until scraped, at most this long, seconds (default 30)")
    p.add_argument("--quiet", action="store_true", help="print no summary")
    p.add_argument(
        "--live",
        action="store_true",
        help="show a live one-line status on stderr (energy, power, gCO2e; rewritten in place on a terminal, a line every 30 s otherwise)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wattprint", description="Measure the energy, carbon and water of a run.")
    from wattprint._version import __version__

    parser.add_argument("--version", action="version", version=f"wattprint {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="track a command: wattprint run [options] -- CMD ARGS...")
    _add_tracker_options(run)
    standards_cmd.add_run_flags(run)  # --water-source, --market-intensity, --renewable-share, --task-stage
    greener_cmd.add_flags(run)  # --when-greener, --within, --expect, --dry-run, --forecast-*
    run.add_argument("cmd", nargs=argparse.REMAINDER, help="the command, after --")
    run.set_defaults(func=_cmd_run)
    sens = sub.add_parser("sensors", help="what will be measured, what estimated, and why")
    sens.add_argument("--json", action="store_true", help="print JSON")
    sens.add_argument("--powercap-root", help="RAPL sysfs root (default /sys/class/powercap)")
    sens.set_defaults(func=_cmd_sensors)
    estimate_cmd.register(sub)  # estimate, regions
    report_cmd.register(sub)
    return parser


def _tracker_kwargs(args: argparse.Namespace) -> Dict[str, object]:
    kw: Dict[str, object] = {}
    for key in ("output_dir", "project", "run_id", "region", "pue", "interval_s", "cpu_tdp_w"):
        value = getattr(args, key, None)
        if value is not None:
            kw[key] = value
    reporting = standards_cmd.run_accounting_options(args)  # --water-source, --market-intensity, ...
    if reporting:
        prior = kw.get("accounting_options")
        kw["accounting_options"] = {**(prior if isinstance(prior, dict) else {}), **reporting}
    return kw


# option dest -> (the module it needs, the extra that installs it, what it does)
_EXTRAS = {"prometheus_port": ("prometheus_client", "prometheus", "serve Prometheus metrics"),
           "pushgateway": ("prometheus_client", "prometheus", "push to a Pushgateway")}


def missing_extra(args: argparse.Namespace, flags: Dict[str, str]) -> Optional[str]:
    """One line naming the ``pip install`` for the first option given whose extra is missing, else ``None``."""
    import importlib

    for dest, (module, extra, purpose) in _EXTRAS.items():
        if getattr(args, dest, None) is None:
            continue
        try:
            importlib.import_module(module)
        except ImportError:
            flag = flags.get(dest, dest)
            return f"{flag} needs {module} to {purpose}: pip install \"wattprint[{extra}]\""
    return None


def _exporters(args: argparse.Namespace) -> List[object]:
    exporters: List[object] = []
    if getattr(args, "prometheus_port", None) is not None or getattr(args, "pushgateway", None) or os.environ.get("WATTPRINT_PUSHGATEWAY"):
        from wattprint.exporters._prom_cli import exporter_from_cli

        prom = exporter_from_cli(args.prometheus_port, args.prometheus_addr, args.pushgateway, args.prometheus_linger_s)
        if prom is not None:
            exporters.append(prom)
    if getattr(args, "live", False):
        from wattprint.exporters.live import LiveStatus

        exporters.append(LiveStatus(enabled=True))
    return exporters


def _cmd_run(args: argparse.Namespace) -> int:
    from wattprint.run.tracker import Tracker

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd and not getattr(args, "dry_run", False):  # --dry-run plans only
        print("wattprint run: give a command after --, e.g. wattprint run -- python train.py", file=sys.stderr)
        return 2
    missing = missing_extra(args, getattr(args, "flag_names", {}))
    if missing is not None:  # before the tracker and the child: nothing is run
        print(f"wattprint run: {missing}", file=sys.stderr)
        return 2
    try:
        exporters = _exporters(args)
        tracker = Tracker(handle_signals=False, exporters=exporters, **_tracker_kwargs(args))  # type: ignore[arg-type]
        plan = greener_cmd.plan_for(args, tracker)  # --when-greener: waits here (not measured) unless --dry-run
    except ConfigError as err:
        print(f"wattprint run: {describe(err, getattr(args, 'flag_names', {}))}", file=sys.stderr)
        return 2
    if getattr(args, "dry_run", False):
        return 0
    received: List[int] = []
    children: List[Any] = []  # the child, once started
    forwarded = [0]  # how many of ``received`` went to the child

    def forward(signum: int, _frame: object) -> None:
        received.append(signum)
        _send_pending()

    def _send_pending() -> None:
        while children and forwarded[0] < len(received):
            sig = received[forwarded[0]]
            forwarded[0] += 1
            try:
                children[0].send_signal(sig)
            except OSError:
                pass

    # installed before the tracker starts: a SIGTERM while the child is being started is not the default
    # death (no footprint, an orphaned child) but forwarded to the child once it exists
    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        tracker.start()
        for url in (getattr(e, "url", None) for e in exporters):
            if url and not args.quiet:  # say where the metrics are served
                print(f"wattprint: serving Prometheus metrics at {url}", file=sys.stderr)
        if received:  # interrupted before the command started: it is not started
            name = signal.Signals(received[0]).name
            tracker.annotate("command", command_record(cmd, None, f"not started: {name} before the command started"))
            tracker.stop("partial", reason=name)
            return 128 + received[0]
        try:
            from wattprint.cli.relay import spawn  # --live on a terminal: the child's output never glued to the status line

            child = spawn(cmd, next((e for e in exporters if hasattr(e, "write_through")), None))
        except OSError as err:
            tracker.annotate("command", command_record(cmd, None, f"cannot start: {err}"))
            tracker.stop("failed")
            print(f"wattprint run: cannot start {cmd[0]!r}: {err}", file=sys.stderr)
            return 127
        children.append(child)
        _send_pending()  # a signal that landed while the child was being started
        rc = child.wait()
    finally:
        for sig, prev in previous.items():
            signal.signal(sig, prev)
    reason = signal.Signals(received[0]).name if received else None  # noted in the footprint
    status = "completed" if rc == 0 and not received else ("partial" if received else "failed")
    tracker.annotate("command", command_record(cmd, rc, reason))  # what ran and how it ended (secrets redacted)
    greener_cmd.after_run(plan, tracker)  # the carbon_aware section, priced with the measured energy
    fp = tracker.stop(status, reason=reason)
    if fp is not None and not args.quiet:
        # each line visible (_io.visible): a run id or folder holding NEL, a bidi override or ESC cannot forge a line
        print("\n".join(visible(line) for line in fp.summary().split("\n")), file=sys.stderr)
        if tracker.save:
            print(visible(f"  footprint: {tracker.json_path}"), file=sys.stderr)
    if any(hasattr(e, "wait_closed") for e in exporters):  # the pull endpoint serves the final figures until scraped
        from wattprint.exporters._prom_cli import wait_for_final_scrape

        wait_for_final_scrape(exporters)
    return rc if rc >= 0 else 128 + (-rc)


def _cmd_sensors(args: argparse.Namespace) -> int:
    from wattprint.engine.sensors.discovery import discover
    from wattprint.footprint.hardware import lookup_cpu

    try:
        sensors, notes = discover(powercap_root=args.powercap_root, cpu_lookup=lookup_cpu)
    except ConfigError as err:  # a powercap root that was asked for but is not there
        print(f"wattprint sensors: {err}", file=sys.stderr)
        return 2
    comps = [c for s in sensors for c in s.components()]
    for s in sensors:
        s.close()
    if args.json:
        doc = {
            "sources": [n.to_dict() for n in notes],
            "components": [
                {"id": c.id, "kind": c.kind, "name": c.name, "source": c.source, "measured": c.measured, "info": c.info}
                for c in comps
            ],
        }
        print(json.dumps(doc, indent=2, default=str))
        return 0
    print("Components:")
    for c in comps:
        print(f"  {c.id:<16} {'measured ' if c.measured else 'estimated'}  {c.source:<20} {c.name}")
    print("Sources:")
    for n in notes:
        print(f"  {n.source:<13} {n.status:<9} {n.detail}")
    return 0


def _subparser(parser: argparse.ArgumentParser, command: Optional[str]) -> Optional[argparse.ArgumentParser]:
    for action in parser._actions:  # the subparsers action; argparse has no public accessor
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            found: argparse.ArgumentParser = action.choices[command]
            return found
    return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    sub = _subparser(parser, args.command)
    if extra:  # a misspelt option: the subcommand's usage, not the top-level one
        (sub or parser).error(f"unrecognized arguments: {' '.join(extra)}")
    args.flag_names = flag_map(sub) if sub is not None else {}
    try:
        rc = int(args.func(args) or 0)
        sys.stdout.flush()  # a reader that left shows up here, not as "Exception ignored" at exit
        return rc
    except BrokenPipeError:  # `wattprint report | head`: the reader left; no traceback, the usual exit status
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python would complain again when it flushes stdout at exit
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
