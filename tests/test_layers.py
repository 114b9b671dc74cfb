"""The core's layers, enforced: every import (lazy ones included) must point down or sideways.

Layers inside ``tracker/`` (package ``wattprint``), bottom to top:

- base: ``units``, ``errors``, ``options`` (the option readers), ``settings`` (the one resolver), ``_io``, ``_lazy``, ``_version`` (everyone may use these);
- engine: ``wattprint.engine`` (clock, counters, timeline, ledger, sampler, sensors, host);
- footprint: ``wattprint.footprint`` (model, schema, builder, accounting, factors, planning, merge);
- run: ``wattprint.run`` (the Tracker, its settings, outputs, exporter runner, process hooks, live grid);
- consumers: ``wattprint.report`` and ``wattprint.cli`` (the one composition root), ``wattprint.testing``.

The wings: ``wattprint.exporters`` and ``wattprint.integrations``.
"""

from __future__ import annotations

import ast
import os
from typing import Iterator, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDERS = {"tracker": "wattprint", "exporters": "wattprint.exporters", "integrations": "wattprint.integrations"}

BASE = ("wattprint.units", "wattprint.errors", "wattprint.options", "wattprint.settings", "wattprint._io", "wattprint._lazy", "wattprint._version")
ENGINE = ("wattprint.engine",)
FOOTPRINT = ("wattprint.footprint",)
RUN = ("wattprint.run",)
PUBLIC = ("wattprint",)  # the package's public face: ``import wattprint`` / ``from wattprint import Tracker``

# who may import what (prefixes); the first matching rule (longest importer prefix) applies
RULES: List[Tuple[str, Tuple[str, ...]]] = [
    ("wattprint.cli", ("wattprint",)),  # the composition root: anything
    ("wattprint.__main__", ("wattprint.cli",)),
    ("wattprint.testing", BASE + ENGINE + FOOTPRINT + RUN + PUBLIC + ("wattprint.testing",)),
    ("wattprint.engine", BASE + ENGINE),
    ("wattprint.footprint", BASE + ("wattprint.engine.host",) + FOOTPRINT),
    ("wattprint.run", BASE + ENGINE + FOOTPRINT + RUN),
    ("wattprint.report", BASE + FOOTPRINT + ("wattprint.report",)),
    ("wattprint.exporters", BASE + FOOTPRINT + PUBLIC + ("wattprint.run.outputs", "wattprint.exporters")),
    # integrations: the public API, the job merge, and the pure factor resolver (settings checked before a run)
    ("wattprint.integrations", BASE + PUBLIC + ("wattprint.footprint.merge", "wattprint.footprint.factors", "wattprint.exporters", "wattprint.integrations")),
    ("wattprint.units", BASE),
    ("wattprint.errors", BASE),
    ("wattprint._io", BASE),
    ("wattprint.settings", BASE),
    ("wattprint.options", BASE),
    ("wattprint._version", ()),
    ("wattprint._lazy", ()),
    ("wattprint", BASE + ENGINE + FOOTPRINT + RUN),  # the package __init__: the public API
]


def _modules() -> Iterator[Tuple[str, str, bool]]:
    for folder, package in FOLDERS.items():
        top = os.path.join(ROOT, folder)
        for dirpath, _dirs, files in os.walk(top):
            for f in files:
                if not f.endswith(".py"):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, f), top)[:-3].replace(os.sep, ".")
                is_pkg = rel.endswith("__init__")
                rel = rel[: -len("__init__")].rstrip(".") if is_pkg else rel
                name = package + ("." + rel if rel else "")
                yield os.path.join(dirpath, f), name, is_pkg


def _is_module(name: str) -> bool:
    for folder, package in FOLDERS.items():
        if name == package or name.startswith(package + "."):
            rest = name[len(package):].lstrip(".").replace(".", os.sep)
            base = os.path.join(ROOT, folder, rest)
            return os.path.isfile(base + ".py") or os.path.isfile(os.path.join(base, "__init__.py"))
    return False


def _imports(path: str, module: str, is_pkg: bool) -> Iterator[Tuple[int, str]]:
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".") if is_pkg else module.split(".")[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                target = ".".join(parts + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            subs = [f"{target}.{a.name}" for a in node.names if _is_module(f"{target}.{a.name}")]
            yield from ((node.lineno, s) for s in subs)
            if len(subs) < len(node.names):
                yield node.lineno, target


def _rule(module: str) -> Optional[Tuple[str, ...]]:
    best = None
    for prefix, allowed in RULES:
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, allowed)
    return best[1] if best else None


def _check(target: str, allowed: Tuple[str, ...]) -> bool:
    if not (target == "wattprint" or target.startswith("wattprint.")):
        return True
    for a in allowed:
        if a == "wattprint" and allowed is not RULES[0][1]:
            if target == "wattprint":
                return True
            continue
        if target == a or target.startswith(a + "."):
            return True
    return False


def violations() -> List[str]:
    out = []
    for path, module, is_pkg in _modules():
        allowed = _rule(module)
        assert allowed is not None, f"{module} belongs to no layer: add it to RULES in {__file__}"
        for lineno, target in _imports(path, module, is_pkg):
            if target == module:
                continue
            if not _check(target, allowed):
                out.append(f"{os.path.relpath(path, ROOT)}:{lineno}: {module} imports {target}")
    return out


def test_layers_point_down():
    bad = violations()
    assert not bad, "imports that cross the layers:\n" + "\n".join(bad)


def test_rules_catch_a_crossing(tmp_path):
    # the checker itself: the engine may not import the run layer, an exporter may not import the report
    assert not _check("wattprint.run.tracker", _rule("wattprint.engine.ledger") or ())
    assert not _check("wattprint.report", _rule("wattprint.exporters.modelcard") or ())
    assert not _check("wattprint.exporters.prometheus", _rule("wattprint.run.tracker") or ())
    assert _check("wattprint.exporters.prometheus", _rule("wattprint.cli.app") or ())
    assert _check("wattprint.engine.host", _rule("wattprint.footprint.model") or ())
    assert not _check("wattprint.engine.ledger", _rule("wattprint.footprint.model") or ())
    assert not _check("wattprint.run.tracker", _rule("wattprint.integrations.torch") or ())  # public API only
    assert _check("wattprint.footprint.merge", _rule("wattprint.integrations.distributed") or ())
    assert not _check("wattprint.exporters.csv_file", _rule("wattprint.footprint.model") or ())  # the core never imports a wing
