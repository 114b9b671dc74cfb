"""The report shows a serving run: request figures in the figures table, energy per request against output length (issue 13)."""

from __future__ import annotations

import struct

import pytest

from wattprint.report.render import render
from wattprint.report.serving import serving_points, serving_rows
from wattprint.testing import replay_tracker


def _serving_fp():
    t, clock = replay_tracker(300.0)
    t.start()
    t0 = clock.monotonic()
    for i in range(20):
        clock.advance(0.5)
        t.sample_now()
        t.record_request(10, 5 + i, t0 + i * 0.5, t0 + i * 0.5 + 0.25, first_token_s=t0 + i * 0.5 + 0.05, model="m")
    clock.advance(1.0)
    return t.stop()


def test_report_has_the_request_figures():
    fp = _serving_fp()
    text = render([fp])
    for label in ("requests served", "energy per output token", "per 1,000 requests", "water per request", "idle energy", "prefill share"):
        assert label in text
    assert serving_rows({"inference": {"requests": 0}}) == []
    assert len(serving_points(fp)) == 20
    assert [p[0] for p in serving_points(fp)] == [float(5 + i) for i in range(20)]


def test_plot_adds_energy_per_request_panel():
    pytest.importorskip("matplotlib")
    from wattprint.report.plot import figure_png

    def width(png: bytes) -> int:
        return struct.unpack(">I", png[16:20])[0]

    t, clock = replay_tracker(300.0)
    t.start()
    clock.advance(2.0)
    plain = t.stop()
    assert width(figure_png([_serving_fp()], dpi=50)) > width(figure_png([plain], dpi=50))
