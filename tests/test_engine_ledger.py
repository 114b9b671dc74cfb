"""The ledger's bulk read path (issue 20): same energies, gaps and peaks as one component at a time."""

import pytest

from wattprint.engine.ledger import Ledger
from wattprint.engine.sensors.base import Component, Sensor


class Scripted(Sensor):
    """Two components; ``script[k]`` is the k-th reading (a component may be missing)."""

    name = "scripted"

    def __init__(self, script):
        super().__init__()
        self.script, self.k = script, 0

    def components(self):
        return [Component("gpu:0", "gpu", "G", "test", True, scope="device"), Component("gpu:1", "gpu", "G", "test", True, scope="device")]

    def read(self, now_s):
        values = self.script[min(self.k, len(self.script) - 1)]
        self.k += 1
        return values


def test_bulk_reads_give_energies_peaks_and_gaps():
    script = [{"gpu:0": 0.0, "gpu:1": 0.0}, {"gpu:0": 100.0, "gpu:1": 50.0}, {"gpu:0": 400.0, "gpu:1": 100.0},
              {"gpu:0": 500.0}, {"gpu:0": 600.0, "gpu:1": 300.0}, {"gpu:0": 700.0, "gpu:1": 350.0}]
    ledger = Ledger([Scripted(script)])
    ledger.start(0.0)
    for t in (1.0, 2.0, 3.0, 4.0, 5.0):
        ledger.read(t)
    assert ledger.energy_j == {"gpu:0": 700.0, "gpu:1": 350.0}
    assert ledger.read_at_s == {"gpu:0": 5.0, "gpu:1": 5.0}
    peaks = ledger.peak_power_w
    assert peaks["gpu:0"] == pytest.approx(300.0)  # 100 -> 400 J in 1 s
    assert peaks["gpu:1"] == pytest.approx(50.0)  # the hole (3-4 s) is not bridged into a peak
    gaps = ledger.gap_records(5.0)
    assert [(g["component"], g["start_s"], g["end_s"]) for g in gaps] == [("gpu:1", 2.0, 4.0)]


def test_timeline_points_are_energy_since_start():
    ledger = Ledger([Scripted([{"gpu:0": 10.0, "gpu:1": 20.0}, {"gpu:0": 15.0, "gpu:1": 30.0}])])
    ledger.start(100.0)
    ledger.read(101.0)
    ledger.append_point(101.0, 3)
    d = ledger.view().to_dict()
    assert d["t_s"] == [0.0, 1.0] and d["energy_j"] == {"gpu:0": [0.0, 5.0], "gpu:1": [0.0, 10.0]} and d["steps"] == [0, 3]


def test_drain_journal_starts_with_everything_then_only_new_points():
    ledger = Ledger([Scripted([{"gpu:0": 0.0, "gpu:1": 0.0}])])
    ledger.start(0.0)
    ledger.append_point(1.0, 1)
    first, rewrite = ledger.drain_journal()
    assert rewrite and [p[0] for p in first] == [0.0, 1.0]
    ledger.append_point(2.0, 2)
    again, rewrite = ledger.drain_journal()
    assert not rewrite and [p[0] for p in again] == [2.0]
