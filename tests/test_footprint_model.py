"""The Footprint is read-only: every accessor hands out copies (exporters share one object across threads)."""

from __future__ import annotations

import json
import threading

from wattprint import Footprint


def _fp():
    doc = {
        "run_id": "r", "status": "completed", "duration_s": 1.0,
        "energy": {"it_j": 10.0, "it_kwh": 10.0 / 3.6e6, "facility_kwh": 10.0 / 3.6e6},
        "components": [{"id": "gpu:0", "kind": "gpu", "energy_j": 10.0, "measured": True, "source": "nvml", "mean_power_w": 10.0}],
        "carbon": {"total_kg": 1.0}, "gaps": [], "notes": [],
    }
    return Footprint(doc, {"t_s": [0.0, 1.0], "energy_j": {"gpu:0": [0.0, 10.0]}})


def test_get_hands_out_a_copy_not_the_document():
    fp = _fp()
    fp.get("components").clear()
    fp.get("carbon")["total_kg"] = 0.0
    fp.get("components", [])
    assert len(fp.get("components")) == 1 and fp.get("carbon.total_kg") == 1.0
    assert fp.component_energy_j("gpu") == 10.0 and fp.csv_row()["energy.gpu_j"] == 10.0


def test_every_accessor_hands_out_copies():
    fp = _fp()
    fp["components"][0]["energy_j"] = -1
    fp.to_dict()["energy"]["it_j"] = -1
    fp.timeline["t_s"].clear()
    fp.timeline["energy_j"]["gpu:0"].append(99.0)
    fp.latest_power_w()["gpu:0"] = -1
    assert fp.get("components")[0]["energy_j"] == 10.0 and fp.energy_j == 10.0
    assert fp.timeline == {"t_s": [0.0, 1.0], "energy_j": {"gpu:0": [0.0, 10.0]}}
    assert json.loads(fp.to_json(timeline=True))["timeline"]["t_s"] == [0.0, 1.0]


def test_one_footprint_shared_by_threads_stays_whole():
    fp = _fp()
    errors = []

    def vandal():
        for _ in range(200):
            fp.get("components").clear()
            fp.timeline["t_s"].clear()

    def reader():
        for _ in range(200):
            if len(fp.get("components")) != 1 or len(fp.timeline["t_s"]) != 2:
                errors.append("changed")

    threads = [threading.Thread(target=vandal), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
