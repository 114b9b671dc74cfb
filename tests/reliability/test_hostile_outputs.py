"""Hostile strings through every output but the report formats (issue 17; those are in
test_hostile_names.py, whose HOSTILE strategy is drawn here too): the footprint JSON, runs.csv,
the model card, the Prometheus exposition and the log and CLI lines. Each example is a real tracked
run on replayed sensors, stepped by a manual clock, through the real writer or exporter, with the
hostile string in every field a user controls: project, window name, component (device) name,
request model and endpoint, an annotation, the model card's location, and run_id (refused or
kept inside output_dir)."""

from __future__ import annotations

import csv
import errno
import json
import logging
import os
import re
import shutil
import subprocess

import pytest
import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from reliability.test_hostile_names import HOSTILE
from wattprint import _io
from wattprint.cli import app as cli
from wattprint.errors import ConfigError
from wattprint.testing import replay_sensor, replay_tracker

# beyond the report's strings: a backslash before a pipe, a backtick breaking out of a code span, NEL and
# the Unicode line separator (YAML and some viewers break lines there), and lone surrogates: what Python makes
# of bytes that are not UTF-8 in an environment variable (WATTPRINT_PROJECT, a job name) or a file name
HOSTILE_MORE = st.one_of(HOSTILE, st.sampled_from(["a\\| b", "x\\", "r`<img src=x onerror=alert(1)>`", "NEL\x85wattprint: forged",
                                                   "ls\u2028wattprint: forged", "\\`x\\`", "latin-1 \udcff\udce9 from the environment",
                                                   "\ud800 unpaired"]))
KEY = ("\x1b]0;t\x07\nwattprint: forged", "r`<img src=x onerror=alert(1)>`", "a\\| b", "=cmd|' /C calc'!A0", "latin-1 \udcff\udce9")
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FORMULA = ("=", "+", "-", "@", "\t", "\r")
# what a terminal or a log reader would act on: C0 controls but the newline, DEL, C1, bidi, line separators
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def _project(name):
    return name if name.strip() else "blank"  # a blank project is refused at construction (test_settings_ranges)


def _hostile_run(out, name, *, run_id="r1", exporters=(), save=True, **kw):
    """A real run with ``name`` in every user-controlled field; returns (tracker, footprint)."""
    t, clock = replay_tracker(
        sensors=[replay_sensor(100.0, component_id="gpu:0", kind="gpu", name=name)],
        project=_project(name), run_id=run_id, output_dir=str(out), save=save, exporters=list(exporters), **kw,
    )  # fmt: skip
    t.annotate("user_note", name)
    t.start()
    for _ in range(3):
        clock.advance(1.0)
        t.step(tokens=10)
        t.sample_now()
    with t.window(name):
        clock.advance(2.0)
    t.record_request(4, 8, clock.monotonic() - 1.0, clock.monotonic(), model=name, endpoint=name)
    clock.advance(1.0)
    t.sample_now()
    return t, t.stop()


def _strict_json(path):
    def refuse(token):
        raise ValueError(f"{path}: non-standard JSON token {token}")

    with open(path, "rb") as fh:
        return json.loads(fh.read().decode("utf-8"), parse_constant=refuse)


def _is_number(cell):
    try:
        float(cell)
        return True
    except ValueError:
        return False


@FAST
@given(name=HOSTILE_MORE)
@example(name=KEY[0])
@example(name=KEY[3])
@example(name=KEY[4])
def test_footprint_json_and_runs_csv_keep_hostile_names_exactly_and_inert(tmp_path_factory, name):
    root = tmp_path_factory.mktemp("h")
    out = root / "out"
    _, fp = _hostile_run(out, name)
    assert sorted(os.listdir(root)) == ["out"] and sorted(os.listdir(out)) == ["r1.json", "runs.csv"]  # no path effect, no litter
    doc = _strict_json(out / "r1.json")
    assert doc["project"] == _project(name) and doc["user_note"] == name
    assert [w["name"] for w in doc["windows"]] == [name] and doc["components"][0]["name"] == name
    assert list(doc["inference"]["by_model"]) == [name or "unknown"]  # the request's model, as given
    assert doc == json.loads(fp.to_json(timeline=True))  # the file is the footprint stop() returned
    with open(out / "runs.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) == 2 and len(rows[1]) == len(rows[0])  # the header and one whole row
    for cell in rows[1]:
        assert not cell.startswith(FORMULA) or _is_number(cell), cell
    project = dict(zip(rows[0], rows[1], strict=True))["project"]
    expected = _io.encodable(_project(name))  # a lone surrogate is written as its \udcff escape
    assert project == (("'" + expected) if expected.startswith(FORMULA) and not _is_number(expected) else expected)


@FAST
@given(run_id=HOSTILE_MORE)
@example(run_id=KEY[4])
@example(run_id="../x")
def test_hostile_run_ids_are_refused_or_written_inside_output_dir(tmp_path_factory, run_id):
    root = tmp_path_factory.mktemp("id")
    out = root / "out"
    try:
        t, fp = _hostile_run(out, "n", run_id=run_id)
    except ConfigError as err:
        assert "run_id" in str(err)
        assert not (root / "out").exists() or os.listdir(out) == []
        return
    assert sorted(os.listdir(root)) == ["out"]
    assert sorted(os.listdir(out)) == sorted([run_id + ".json", "runs.csv"])
    assert _strict_json(out / (run_id + ".json"))["run_id"] == run_id == fp.run_id


@FEW
@given(region=HOSTILE_MORE)
@example(region="IE\n# heading")
def test_hostile_region_strings_are_refused_or_resolved_to_a_known_region(tmp_path_factory, region):
    from wattprint.footprint.regions import resolve_region

    try:
        _, fp = _hostile_run(tmp_path_factory.mktemp("reg") / "out", "n", save=False, region=region)
    except ConfigError as err:
        assert "region" in str(err)
        return
    assert fp.get("region") == resolve_region(str(fp.get("region"))).code  # a code from the table, never the raw string


def _front_matter(text):
    assert text.startswith("---\n")
    end = text.index("\n---\n", 4)
    return yaml.safe_load(text[4:end]), text[end + 5 :]


def _unescaped(ch, line):
    return len(re.findall(r"(?<!\\)(?:\\\\)*" + re.escape(ch), line))


@FAST
@given(name=HOSTILE_MORE, location=HOSTILE_MORE)
@example(name=KEY[1], location="NEL\x85# heading")
@example(name=KEY[2], location=KEY[0])
def test_model_card_front_matter_parses_back_and_markdown_stays_inert(tmp_path_factory, name, location):
    pytest.importorskip("huggingface_hub")
    from huggingface_hub import ModelCard
    from wattprint.exporters import ModelCardExporter
    from wattprint.exporters.modelcard import BEGIN, END, hardware_summary, place_name

    root = tmp_path_factory.mktemp("card")
    card = root / "README.md"
    t, fp = _hostile_run(root / "out", name, save=False, exporters=[ModelCardExporter(card, geographical_location=location or None)])
    assert t.export_errors == []
    text = card.read_text(encoding="utf-8")
    meta, body = _front_matter(text)
    co2 = meta["co2_eq_emissions"]
    assert co2 == ModelCardExporter(card, geographical_location=location or None).co2_block(fp)  # parses back to what was written
    assert co2["geographical_location"] == _io.visible(location or place_name(fp.get("region")))  # one visible line
    assert co2["hardware_used"] == _io.visible(hardware_summary(fp)) and _io.visible(name) in co2["hardware_used"]
    assert dict(ModelCard.load(card).data.co2_eq_emissions) == co2  # the Hub's own loader reads the same
    assert not CONTROL.search(body)
    assert "<" not in body.replace(BEGIN, "").replace(END, "")  # no raw HTML
    assert [ln for ln in body.splitlines() if ln.startswith("#")] == [ln for ln in body.splitlines() if ln.startswith("#")][:2]
    assert len([ln for ln in body.splitlines() if ln.startswith("#")]) == 2  # the title and "## Environmental impact"
    assert not re.search(r"(?<!\\)\]\(", body) and _unescaped("`", body) % 2 == 0  # no link, no unclosed code span
    table = [ln for ln in body.splitlines() if ln.startswith("|")]
    assert len(table) == 9 and {_unescaped("|", ln) for ln in table} == {4}  # every row keeps its three columns


def _exposition(registry):
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    return list(text_string_to_metric_families(generate_latest(registry).decode("utf-8")))


@FEW
@given(name=HOSTILE_MORE)
@example(name=KEY[4])
def test_prometheus_exposition_parses_and_label_values_round_trip(tmp_path_factory, name):
    pytest.importorskip("prometheus_client")
    from wattprint.exporters import PrometheusExporter
    from wattprint.exporters.prometheus_requests import RequestMetrics

    prom, requests = PrometheusExporter(port=0, linger_s=0), RequestMetrics()
    _hostile_run(tmp_path_factory.mktemp("prom") / "out", name, save=False, exporters=[prom, requests])
    samples = [s for f in _exposition(prom.registry) for s in f.samples]
    assert samples and {s.labels["project"] for s in samples if "project" in s.labels} == {_io.encodable(_project(name))}
    req = [s for f in _exposition(requests.registry) for s in f.samples if "model" in s.labels]
    assert req and {(s.labels["model"], s.labels["endpoint"]) for s in req} == {(_io.encodable(name) or "unknown",) * 2}  # unnamed: "unknown"


def test_promtool_accepts_the_exposition_of_hostile_names(tmp_path):
    """Prometheus's own linter, where it is installed, on one exposition carrying the hostile names."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed; the parser round trip above checks the exposition")
    pytest.importorskip("prometheus_client")
    from prometheus_client import generate_latest
    from wattprint.exporters import PrometheusExporter

    for i, name in enumerate(["\x1b[2J\nwattprint: forged", 'a"b\\c', "latin-1 \udcff", "{x=\"1\"} 2"]):
        prom = PrometheusExporter(port=0, linger_s=0)
        _hostile_run(tmp_path / f"out{i}", name, save=False, exporters=[prom])
        done = subprocess.run([promtool, "check", "metrics"], input=generate_latest(prom.registry), capture_output=True, timeout=30)
        assert done.returncode == 0 and not done.stderr, (name, done.stdout, done.stderr)  # parses, and no lint finding


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(message)s"))
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


def _folder_name(name):
    """``name`` as one file name: no separator or NUL, and only what the file system can be given."""
    return "o" + "".join(ch for ch in name.replace("/", "_").replace("\x00", "_").replace("\\", "_") if _fs_ok(ch))[:40]


def _fs_ok(ch):
    try:
        os.fsencode(ch)
        return True
    except UnicodeEncodeError:  # an unpaired surrogate that is no undecodable byte
        return False


@FEW
@given(name=HOSTILE_MORE)
@example(name=KEY[0])
def test_log_lines_stay_one_visible_line_whatever_the_names(tmp_path_factory, monkeypatch, name):
    """A full disk under an output folder named with the hostile string, and an exporter whose card
    path carries it, log errors naming those paths: each record is visible text, one line (a
    traceback keeps its own lines, none of them a forged ``wattprint:`` line)."""
    pytest.importorskip("huggingface_hub")
    from wattprint.exporters import ModelCardExporter

    root = tmp_path_factory.mktemp("log")
    out = root / _folder_name(name)
    card = root / (_folder_name(name) + ".md")
    card.write_text("---\nbroken: [\n---\n")  # its YAML header cannot be parsed: the exporter raises, naming the path

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    handler, logger = _Lines(), logging.getLogger("wattprint")
    logger.addHandler(handler)
    try:
        with monkeypatch.context() as m:
            m.setattr(_io, "atomic_write_bytes", full)
            m.setattr(_io.os, "write", full)
            _hostile_run(out, name, exporters=[ModelCardExporter(card)])
    finally:
        logger.removeHandler(handler)
    assert len(handler.lines) >= 3  # the JSON, the CSV row, the exporter
    for text in handler.lines:
        assert not CONTROL.search(text), text
        first, *rest = text.split("\n")
        assert first.startswith("wattprint: ")
        assert all(ln.startswith(("Traceback", " ")) or re.match(r"^[\w.]+(Error|Exception)\b", ln) or ln.startswith("During") or ln.startswith("The above") or ln == ""
                   for ln in rest), text  # fmt: skip


@FEW
@given(name=HOSTILE_MORE.filter(lambda s: s.strip(". ") != ""))
@example(name=KEY[0])
def test_report_cli_lines_stay_visible_for_hostile_file_names(tmp_path_factory, capsys, name):
    folder = tmp_path_factory.mktemp("rep")
    _hostile_run(folder, name)
    bad = folder / (_folder_name(name) + ".json")
    assume(len(os.fsencode(bad.name)) <= 255)
    bad.write_text("{torn")
    capsys.readouterr()
    assert cli.main(["report", str(folder)]) == 0
    _, err = capsys.readouterr()
    assert not CONTROL.search(err), err
    assert all(ln.startswith("wattprint report: ") for ln in err.splitlines()), err


@pytest.mark.parametrize("name", ["a\\| b | c", "x\\", "\\\\|"])
def test_a_backslash_cannot_unescape_a_pipe_in_the_markdown_report(tmp_path, name):
    from wattprint.report.render import render

    _, fp = _hostile_run(tmp_path / "out", name)
    for block in render([fp.to_dict()], "md").split("\n\n"):
        rows = [ln for ln in block.splitlines() if ln.startswith("|")]
        assert len({_unescaped("|", ln) for ln in rows}) <= 1, rows  # every row of a table keeps its column count


def test_mlflow_tags_keep_hostile_names_and_a_lone_surrogate_does_not_lose_the_figures(tmp_path, monkeypatch):
    """MLflow stores tags as given (its UI escapes them); one lone surrogate made every log_batch fail."""
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient, fluent
    from wattprint.exporters.mlflow import MlflowExporter

    monkeypatch.setattr(fluent, "_active_experiment_id", None)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # mlflow >= 3 keeps the fast file store behind this flag
    uri = (tmp_path / "mlruns").as_uri()
    for i, name in enumerate(["\x1b[2J\nwattprint: forged", "=HYPERLINK(\"x\")", "latin-1 \udcff\udce9 from the environment"]):
        exp = MlflowExporter(tracking_uri=uri, experiment="energy", retry_backoff_s=0.0, attempts=1)
        t, fp = _hostile_run(tmp_path / f"out{i}", name, save=False, exporters=[exp], export_timeout_s=120.0)
        assert t.export_errors == [], t.export_errors
        run = MlflowClient(uri).get_run(exp.run_id)
        assert run.data.tags["wattprint.project"] == _io.encodable(name) and run.data.metrics


def test_wattprint_run_prints_visible_lines_for_a_hostile_folder(tmp_path, monkeypatch, capsys):
    """``wattprint run``'s closing lines carry the run id and the folder: ESC, a newline, NEL (a line
    break to str.splitlines and some terminals) or a bidi override in the folder is shown as an escape."""
    out = tmp_path / "o\x1b[2J\nwattprint: forged\x85wattprint: forged\u202e"
    monkeypatch.setenv("WATTPRINT_RUN_ID", "r-\u00a0plain")
    assert cli.main(["run", "--output-dir", str(out), "--", "true"]) == 0
    err = capsys.readouterr().err
    assert "wattprint: run r-\u00a0plain" in err and "\\x85wattprint: forged\\u202e" in err, err
    assert not CONTROL.search(err) and not any(ln.startswith("wattprint: forged") for ln in err.splitlines()), err


@pytest.mark.parametrize("run_id", ["r\x85wattprint: forged", "r\u202ewattprint: forged"])
def test_wattprint_run_refuses_a_run_id_with_nel_or_a_bidi_override_and_shows_it_escaped(tmp_path, monkeypatch, capsys, run_id):
    """The file-name policy refuses C1 and bidi controls in a run id; the error names the variable and shows the value escaped."""
    monkeypatch.setenv("WATTPRINT_RUN_ID", run_id)
    assert cli.main(["run", "--output-dir", str(tmp_path / "o"), "--", "true"]) == 2
    err = capsys.readouterr().err
    assert "WATTPRINT_RUN_ID" in err and ascii(run_id)[1:-1] in err, err
    assert not CONTROL.search(err) and not any(ln.startswith("wattprint: forged") for ln in err.splitlines()), err
    assert not (tmp_path / "o").exists()


def test_otlp_attributes_keep_hostile_names_and_a_lone_surrogate_is_not_dropped(tmp_path):
    """OpenTelemetry attributes are protobuf strings (nothing to inject), but the SDK dropped an attribute holding
    a lone surrogate, logging a traceback per instrument: the project and the device name went missing."""
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http.metric_exporter")
    pytest.importorskip("opentelemetry.proto.collector.metrics.v1.metrics_service_pb2")
    from servers.otlp import requests_of, start_otlp
    from wattprint.exporters import OtlpExporter

    server = start_otlp(str(tmp_path))
    try:
        for i, name in enumerate(["\x1b[2J\nwattprint: forged", "latin-1 \udcff\udce9 from the environment"]):
            exp = OtlpExporter(endpoint=server.url + "/v1/metrics", timeout_s=5.0)
            t, _ = _hostile_run(tmp_path / f"out{i}", name, save=False, exporters=[exp], export_timeout_s=60.0)
            assert t.export_errors == []
            last = requests_of(server.out)[-1]["resourceMetrics"][0]
            resource = {a["key"]: a["value"]["stringValue"] for a in last["resource"]["attributes"]}
            assert resource["wattprint.project"] == _io.encodable(name)
            names = {a["value"].get("stringValue") for m in last["scopeMetrics"][0]["metrics"] if m["name"] == "hw.energy"
                     for p in m["sum"]["dataPoints"] for a in p["attributes"] if a["key"] == "hw.name"}  # fmt: skip
            assert names == {_io.encodable(name)}
    finally:
        server.stop()


def test_every_report_format_of_a_run_named_with_a_lone_surrogate_encodes_as_utf8(tmp_path):
    """A footprint keeps a lone surrogate exactly (a JSON escape); the report's text must still encode as
    UTF-8, or ``wattprint report`` dies writing it to a strict stdout."""
    from wattprint.report.render import FORMATS, render

    name = "latin-1 \udcff\udce9 from the environment"
    _hostile_run(tmp_path / "out", name)
    doc = _strict_json(tmp_path / "out" / "r1.json")
    assert doc["project"] == name
    for fmt in FORMATS:
        render([doc], fmt).encode("utf-8")  # raises UnicodeEncodeError if a surrogate got through
