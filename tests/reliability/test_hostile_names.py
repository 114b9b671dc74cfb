"""Hostile names through every report format (issue 17): terminal escapes never reach the terminal,
Markdown stays inert (no raw HTML, headings, links or extra rows), CSV cells never start a formula,
HTML is escaped. Hypothesis draws the names; one real tracked run gives the rest of the document."""

from __future__ import annotations

import copy
import csv
import io
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_report import tracked_run
from wattprint.report.html import html_page
from wattprint.report.render import render

HOSTILE = st.one_of(
    st.sampled_from([
        "\x1b[2J\x1b[H", "\x1b]0;pwned\x07", "\x1b]52;c;ZWNobyBoaQ==\x07", "ok\r\nwattprint: run forged (completed)",
        "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "# heading\n## more", "[click](javascript:alert(1))",
        "a | b | c", "=HYPERLINK(\"http://x\",\"y\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\tTAB", "\rCR",
        "\u202eevil\u202c", "$\\foo$", "cost $5 vs $6",
    ]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40),
)  # fmt: skip


@pytest.fixture(scope="module")
def base_doc(tmp_path_factory):
    _, fp = tracked_run(tmp_path_factory.mktemp("runs"), "base")
    return fp.to_dict()


def _hostile(base, name):
    doc = copy.deepcopy(base)
    doc["project"] = name
    doc["region"] = name
    doc["windows"] = [{"name": name, "start_s": 1.0, "duration_s": 1.0, "energy_j": 1.0}]
    doc["notes"] = [name]
    doc["components"][0]["name"] = name
    return doc


CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=HOSTILE)
def test_hostile_names_stay_inert_in_every_format(base_doc, name):
    doc = _hostile(base_doc, name)
    text = render([doc], "table")
    assert not CONTROL.search(text)  # only our own newlines
    assert "\n" + "wattprint: run forged" not in text
    md = render([doc], "md")
    assert not CONTROL.search(md) and "<script" not in md and "<img" not in md
    assert not any(ln.startswith("#") and not ln.startswith("### ") for ln in md.splitlines())
    for ln in md.splitlines():  # every table row keeps its column count
        if ln.startswith("| "):
            assert len(re.findall(r"(?<!\\)\|", ln)) in {len(re.findall(r"(?<!\\)\|", x)) for x in md.splitlines() if x.startswith("|")}
    rows = list(csv.reader(io.StringIO(render([doc], "csv"))))
    assert len(rows) == 2
    assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(cell) for cell in rows[1])
    page = html_page([doc], plots=False)
    assert "<script>alert" not in page and "<img src=x" not in page


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False
