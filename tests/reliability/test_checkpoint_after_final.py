"""A checkpoint that is still writing when ``stop()`` writes the final footprint never overwrites it (issue 17).

``stop()`` joins the sampler thread for at most 5 s; a checkpoint slower than that (a slow or
network disk) used to finish after the final write and replace the final JSON with a partial
document without its timeline. The disk write is the boundary faked here: it blocks on an Event
the test controls, so nothing depends on timing.
"""

from __future__ import annotations

import json
import threading

from wattprint.run import outputs
from wattprint.testing import replay_tracker


def test_a_checkpoint_in_flight_at_stop_never_overwrites_the_final_footprint(tmp_path, monkeypatch):
    t, clock = replay_tracker(100.0, output_dir=str(tmp_path), save=True, run_id="r1")
    t.start()
    clock.advance(10.0)
    t.sample_now()
    partial = t.snapshot()
    real_write = outputs.write_json
    entered, release = threading.Event(), threading.Event()

    def slow_disk(path, footprint, *, timeline=True, sync=True):
        if not timeline:  # the checkpoint's document: the disk stalls
            entered.set()
            assert release.wait(60)
        real_write(path, footprint, timeline=timeline, sync=sync)

    monkeypatch.setattr(outputs, "write_json", slow_disk)
    checkpoint = threading.Thread(target=t._files.write_checkpoint, args=(partial, t._ledger))
    checkpoint.start()
    assert entered.wait(60)
    clock.advance(5.0)
    stopper = threading.Thread(target=t.stop)
    stopper.start()
    stopper.join(0.2)  # stop() waits for the checkpoint in flight (with correct code it cannot finish before release)
    release.set()
    checkpoint.join(60)
    stopper.join(60)
    assert not checkpoint.is_alive() and not stopper.is_alive()
    doc = json.load(open(tmp_path / "r1.json"))
    assert doc["status"] == "completed" and doc["duration_s"] == t.footprint["duration_s"] == 15.0
    assert doc["timeline"]  # the final document, with its timeline
    assert not (tmp_path / "r1.timeline.jsonl").exists()  # compacted, and no later checkpoint re-created it
    assert t._files.write_checkpoint(partial, t._ledger) is False  # after the final write: refused, nothing written
    assert json.load(open(tmp_path / "r1.json")) == doc
