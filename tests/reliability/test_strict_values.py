"""Numbers and annotations that used to break the footprint (issue 17): refused where they are given,
and every file written is strict JSON (no NaN/Infinity, which JavaScript's JSON.parse refuses)."""

from __future__ import annotations

import json

import pytest
from wattprint._io import atomic_write_json, strict_json
from wattprint.footprint.build import CORE_KEYS, WorkCounts
from wattprint.footprint.model import Footprint
from wattprint.testing import replay_tracker


def strict_load(text: str):
    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(
    "kwargs, name",
    [({"samples": float("inf")}, "samples"), ({"tokens": float("nan")}, "tokens"), ({"flops": float("inf")}, "flops"),
     ({"n": -1}, "n"), ({"samples": -5}, "samples"), ({"tokens": "many"}, "tokens"), ({"samples": True}, "samples")],
)  # fmt: skip
def test_step_refuses_counts_that_would_break_the_footprint(tmp_path, kwargs, name):
    t, clock = replay_tracker(100.0, output_dir=str(tmp_path), save=True)
    t.start()
    t.step(2, samples=8)
    with pytest.raises((ValueError, TypeError), match=name):
        t.step(**kwargs)
    clock.advance(5.0)
    fp = t.stop()  # the run is not lost: it stops and is written, with only the good counts
    assert fp is not None and fp.get("work.steps") == 2 and fp.get("work.samples") == 8
    strict_load(open(t.json_path).read())


def test_integral_counts_of_any_integer_type_are_exact():
    torch = pytest.importorskip("torch")
    w = WorkCounts()
    w.add(1, samples=torch.tensor(4), tokens=2**60 + 1, flops=3)
    assert w.to_dict() == {"steps": 1, "samples": 4, "tokens": 2**60 + 1, "flops": 3.0}


@pytest.mark.parametrize("key", ["status", "energy", "gaps", "components", "notes"])
def test_annotate_cannot_overwrite_a_core_key(tmp_path, key):
    t, clock = replay_tracker(100.0, output_dir=str(tmp_path))
    assert key in CORE_KEYS
    with pytest.raises(ValueError, match=key):
        t.annotate(key, "completed")


def test_annotate_refuses_values_the_file_could_not_hold(tmp_path):
    t, clock = replay_tracker(100.0, output_dir=str(tmp_path))
    loop: dict = {}
    loop["self"] = loop
    with pytest.raises(ValueError, match="finite JSON"):
        t.annotate("bad", {"x": float("nan")})
    with pytest.raises((ValueError, TypeError), match="itself"):
        t.annotate("loop", loop)
    with pytest.raises(TypeError, match="JSON-serialisable"):
        t.annotate("keys", {(1, 2): "tuple key"})
    t.annotate("fine", {"when": "now", "n": 3})
    t.start()
    clock.advance(1.0)
    fp = t.stop()
    assert fp.to_dict()["fine"] == {"when": "now", "n": 3}


def test_an_annotation_clashing_with_a_core_key_is_ignored_by_the_builder_with_a_note(tmp_path):
    from wattprint.footprint.build import assemble
    from wattprint.footprint.factors import resolve_factors

    doc = assemble({"schema": "x", "status": "partial"}, [], duration_s=1.0, work=WorkCounts().to_dict(),
                   factors=resolve_factors(), sections={"status": "completed", "mine": 1})  # fmt: skip
    assert doc["status"] == "partial" and doc["mine"] == 1
    assert any("annotation 'status' ignored" in n for n in doc["notes"])


def test_nan_and_infinity_are_written_as_null(tmp_path):
    doc = {"a": float("nan"), "b": [1.0, float("inf")], "c": {"d": -float("inf")}, "e": 2.5}
    assert strict_load(strict_json(doc)) == {"a": None, "b": [1.0, None], "c": {"d": None}, "e": 2.5}
    atomic_write_json(str(tmp_path / "x.json"), doc)
    assert strict_load(open(tmp_path / "x.json").read())["b"] == [1.0, None]
    fp = Footprint({"schema": "x", "run_id": "r", "energy": {"it_j": float("nan")}})
    assert strict_load(fp.to_json())["energy"]["it_j"] is None
