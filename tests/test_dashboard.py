"""The Grafana dashboard queries only what the Prometheus exporter really emits.

A real PrometheusExporter serves a real tracked run (replayed sensors) on a
loopback port; the test scrapes it, parses the exposition with
prometheus_client's parser, and checks every metric and label name in every
dashboard query (panels and template variables) against what was scraped.
With promtool installed, every query must also parse as PromQL.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import urllib.request

import pytest
import wattprint as wp
from wattprint.testing import ManualClock

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from wattprint.exporters.prometheus import PrometheusExporter  # noqa: E402

DASHBOARD = os.path.join(os.path.dirname(__file__), os.pardir, "dashboards", "wattprint-grafana.json")

# PromQL words that are not metric names
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "inf", "nan"}
_GRAFANA_VARS = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h", "$rate_window": "1m", "$project": ".*", "$run_id": ".*"}


@pytest.fixture(scope="module")
def scraped():
    """{sample name: set of label names} from a live scrape of a tracked run."""
    clock = ManualClock()
    sensors = [
        wp.ReplaySensor([(0, 300.0), (5, 600.0)], component_id="gpu:0", kind="gpu", name="NVIDIA H100 80GB HBM3"),
        wp.ReplaySensor([(0, 80.0)], component_id="cpu:package-0", kind="cpu", measured=False, name="Replay CPU"),
    ]
    exporter = PrometheusExporter(port=0, linger_s=0)
    t = wp.Tracker(
        "dash", run_id="dash-run", save=False, interval_s=math.inf, clock=clock, handle_signals=False,
        sensors=sensors, exporters=[exporter], total_steps=100, region="IE",
    )
    t.start()
    try:
        for _ in range(10):
            clock.advance(1.0)
            t.step(samples=8, tokens=1024)
            t.sample_now()
        exporter.on_sample(t.snapshot())  # synchronous: the live footprint is on the endpoint now
        with urllib.request.urlopen(exporter.url, timeout=10) as resp:
            text = resp.read().decode("utf-8")
    finally:
        t.stop()
    names = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def _dashboard():
    with open(DASHBOARD, encoding="utf-8") as fh:
        return json.load(fh)


def _queries(dash):
    """(where, PromQL) for every panel target and every query variable."""
    out = []

    def walk(panels):
        for p in panels:
            for tgt in p.get("targets") or []:
                if tgt.get("expr"):
                    out.append((f"panel {p.get('title')!r} {tgt.get('refId')}", tgt["expr"]))
            walk(p.get("panels") or [])

    walk(dash.get("panels") or [])
    for var in dash.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        q = var.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", q or "")
        assert m, f"variable {var['name']}: expected label_values(selector, label), got {q!r}"
        out.append((f"variable {var['name']}", m.group(1)))
        out.append((f"variable {var['name']} (label)", f"count by ({m.group(2)}) ({m.group(1)})"))
    return out


def _substitute(expr):
    for var, value in _GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    assert "$" not in expr, f"unknown Grafana variable in {expr!r}"
    return expr


def _names_and_labels(expr):
    """Metric names and label names a PromQL expression refers to."""
    expr = _substitute(expr)
    no_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    labels = set(re.findall(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)\s*\"\"", no_strings))
    for group in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", no_strings):
        labels.update(x.strip() for x in group.split(",") if x.strip())
    bare = re.sub(r"\{[^}]*\}", " ", no_strings)  # matchers
    bare = re.sub(r"\[[^\]]*\]", " ", bare)  # ranges
    bare = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", bare)
    bare = re.sub(r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b", " ", bare)  # numbers such as 3.6e6
    metrics = set()
    for m in re.finditer(r"[A-Za-z_:][\w:]*", bare):
        word = m.group(0)
        after = bare[m.end():].lstrip()
        if word.lower() in _KEYWORDS or after.startswith("("):  # a keyword or a function / aggregation
            continue
        metrics.add(word)
    return metrics, labels


def test_the_exporter_emits_the_core_metrics(scraped):
    for name in ("wattprint_energy_joules_total", "wattprint_power_watts", "wattprint_carbon_grams_total", "wattprint_water_cubic_meters_total"):
        assert name in scraped
    assert {"component", "kind", "measured"} <= scraped["wattprint_energy_joules_total"]


def _matchers_by_metric(expr):
    """{metric: label names matched in its own braces} for every ``metric{...}`` in the expression."""
    out = {}
    for m in re.finditer(r"([A-Za-z_:][\w:]*)\s*\{([^}]*)\}", _substitute(expr)):
        inner = re.sub(r'"(?:[^"\\]|\\.)*"', '""', m.group(2))
        out.setdefault(m.group(1), set()).update(re.findall(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)", inner))
    return out


def test_every_dashboard_query_uses_only_emitted_metrics_and_labels(scraped):
    queries = _queries(_dashboard())
    assert len(queries) >= 20
    problems = []
    for where, expr in queries:
        metrics, labels = _names_and_labels(expr)
        if not metrics:
            problems.append(f"{where}: no metric in {expr!r}")
        for name in metrics:
            if name not in scraped:
                problems.append(f"{where}: {name} is not emitted (emitted: {', '.join(sorted(scraped))})")
        for name, matched in _matchers_by_metric(expr).items():
            missing = matched - scraped.get(name, set())
            if name in scraped and missing:
                problems.append(f"{where}: {name} has no label(s) {', '.join(sorted(missing))}")
        known = set().union(*(scraped.get(n, set()) for n in metrics)) if metrics else set()
        unknown = labels - known
        if unknown:
            problems.append(f"{where}: no metric of the query has label(s) {', '.join(sorted(unknown))}")
    assert not problems, "\n".join(problems)


def test_every_emitted_family_has_a_panel(scraped):
    used = set()
    for _, expr in _queries(_dashboard()):
        used |= _names_and_labels(expr)[0]
    unused = {n for n in scraped if n.startswith("wattprint_") and not n.endswith("_created")} - used
    assert not unused, f"metrics with no panel: {sorted(unused)}"


def test_the_name_check_catches_a_wrong_name():
    metrics, labels = _names_and_labels('sum by (component) (rate(wattprint_energy_joules{run_id=~"$run_id"}[$__rate_interval])) / 3.6e6')
    assert metrics == {"wattprint_energy_joules"} and labels == {"component", "run_id"}
    assert _names_and_labels("time() - max(up)")[0] == {"up"}


def test_dashboard_is_well_formed():
    dash = _dashboard()
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    assert dash["uid"] and dash["title"] and dash["schemaVersion"] >= 36
    var_names = {v["name"] for v in dash["templating"]["list"]}
    assert {"datasource", "project", "run_id"} <= var_names
    for p in dash["panels"]:
        if p["type"] == "row":
            continue
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
        assert p["targets"], p["title"]
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, p["title"]


def test_queries_parse_as_promql(tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    rules = ["groups:", "  - name: wattprint_dashboard", "    rules:"]
    for i, (_, expr) in enumerate(_queries(_dashboard())):
        rules.append(f"      - record: wattprint:dashboard_query_{i}")
        rules.append(f"        expr: {json.dumps(_substitute(expr))}")
    path = tmp_path / "rules.yml"
    path.write_text("\n".join(rules) + "\n")
    res = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
