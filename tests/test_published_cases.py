"""The published-cases validation set (tests/validation/published_cases.json): every case reproduces within its tolerance.

Each case names its source, where in it (page or table), the inputs given to `wattprint.estimate` and the expected
figures; docs/planning.md lists the same sources. Kinds covered: training runs on GPUs and TPUs, GPU-hours model
cards, water per location and per request, embodied carbon, idle power.
"""

from __future__ import annotations

import json
import pathlib
import re

import pytest
from wattprint.footprint.planning import estimate

CASES_PATH = pathlib.Path(__file__).parent / "validation" / "published_cases.json"
CASES = json.loads(CASES_PATH.read_text(encoding="utf-8"))["cases"]
DOCS = pathlib.Path(__file__).parents[1] / "docs" / "planning.md"


def _get(doc, path):
    for key in path.split("."):
        doc = doc[key]
    return doc


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_published_case_reproduces(case):
    doc = estimate(env={}, **case["inputs"])
    for path, expected in case["expected"].items():
        assert _get(doc, path) == pytest.approx(expected, rel=case["tolerance_rel"]), (case["id"], path)


def test_every_case_is_sourced_and_the_set_covers_each_kind():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))
    for c in CASES:
        assert c["source"] and c["where"] and c["confidence"] in ("P", "S", "D") and 0 < c["tolerance_rel"] <= 0.1, c["id"]
    kinds = " | ".join(c["kind"] for c in CASES)
    for kind in ("training run, GPUs", "training run, TPUs", "GPU-hours model card", "water per location", "embodied carbon", "idle power"):
        assert kind in kinds, kind


def test_docs_list_every_case_and_its_source():
    text = DOCS.read_text(encoding="utf-8")
    for c in CASES:
        assert f"`{c['id']}`" in text, c["id"]
        first_author = re.split(r"[ ,]", c["source"])[0]
        assert first_author in text, (c["id"], first_author)
