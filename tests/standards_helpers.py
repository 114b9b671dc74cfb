"""Helpers of the standards tests: one tracked run, its saved footprint, and each format's validator.

The validators use the formats' published schemas: SPDX 3.0.1 and BoAmps 1.1 vendored in
``tests/schemas/`` (with their licences), CycloneDX 1.6 through ``cyclonedx-python-lib``,
and our own AI Act and SCI schemas shipped in ``wattprint/report/standards/schemas``.
"""

from __future__ import annotations

import glob
import json
import os
from typing import Any, Callable, Dict, List

from wattprint import testing
from wattprint.report.standards import ai_act, sci

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = os.path.join(HERE, "schemas")
GPU_NAME = "NVIDIA H100 80GB HBM3"  # in the embodied table, so M is known


def tracked_run(tmp_path: Any, *, run_id: str = "std-run", steps: int = 6, **accounting: Any):
    """A replayed H100 (measured) and CPU (estimated), 6 steps of 10 s, saved under ``tmp_path``; returns ``(footprint, path)``."""
    accounting.setdefault("task_stage", "training")
    sensors = [
        testing.replay_sensor(350.0, name=GPU_NAME),
        testing.replay_sensor(60.0, component_id="cpu:package-0", kind="cpu", name="AMD EPYC 9654", measured=False),
    ]
    tracker, clock = testing.replay_tracker(sensors=sensors, run_id=run_id, region="IE", save=True, output_dir=str(tmp_path),
                                            accounting_options=accounting)
    tracker.start()
    for _ in range(steps):
        clock.advance(10.0)
        tracker.step(samples=32, tokens=32 * 512, flops=1.5e15)
    fp = tracker.stop()
    return fp, os.path.join(str(tmp_path), f"{run_id}.json")


def _json(doc: Dict[str, Any]) -> Any:
    return json.loads(json.dumps(doc))  # what a consumer reads: lists, not tuples


def _jsonschema_errors(schema_path: str, doc: Dict[str, Any], registry: Any = None) -> List[str]:
    import jsonschema

    with open(schema_path, encoding="utf-8") as fh:
        schema = json.load(fh)
    cls = jsonschema.validators.validator_for(schema)
    validator = cls(schema, registry=registry) if registry is not None else cls(schema)
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(_json(doc))]


def spdx_errors(doc: Dict[str, Any]) -> List[str]:
    return _jsonschema_errors(os.path.join(SCHEMAS, "spdx", "spdx-json-schema.json"), doc)


def boamps_errors(doc: Dict[str, Any]) -> List[str]:
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    resources = []
    for path in glob.glob(os.path.join(SCHEMAS, "boamps", "*_schema.json")):
        with open(path, encoding="utf-8") as fh:
            schema = json.load(fh)
        resources.append((schema["id"], Resource.from_contents(schema, default_specification=DRAFT4)))
    return _jsonschema_errors(os.path.join(SCHEMAS, "boamps", "report_schema.json"), doc, Registry().with_resources(resources))


def cyclonedx_errors(doc: Dict[str, Any]) -> List[str]:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(doc))
    return [str(err)] if err is not None else []


def ai_act_errors(doc: Dict[str, Any]) -> List[str]:
    return _jsonschema_errors(ai_act.SCHEMA_PATH, doc)


def sci_errors(doc: Dict[str, Any]) -> List[str]:
    return _jsonschema_errors(sci.SCHEMA_PATH, doc)


VALIDATORS: Dict[str, Callable[[Dict[str, Any]], List[str]]] = {
    "ai-act": ai_act_errors,
    "sci": sci_errors,
    "spdx": spdx_errors,
    "cyclonedx": cyclonedx_errors,
    "boamps": boamps_errors,
}
