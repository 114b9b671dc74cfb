"""Report tables from hand-written footprint documents: columns per component kind, window totals."""

from __future__ import annotations

from wattprint import Footprint, report


def _doc(run_id, **extra):
    doc = {
        "schema": "wattprint.footprint/1", "run_id": run_id, "status": "completed", "duration_s": 10.0,
        "energy": {"it_j": 10.0},
        "components": [
            {"id": "npu:0", "kind": "npu", "energy_j": 4.0, "measured": True, "source": "vendor"},
            {"id": "gpu:0", "kind": "gpu", "energy_j": 6.0, "measured": True, "source": "nvml"},
        ],
    }
    doc.update(extra)
    return Footprint(doc)


def test_comparison_has_one_column_per_kind_and_other_once():
    table = report.comparison_table([_doc("a"), _doc("b")])
    energy_cols = [h for h in table.headers if h.endswith("[J]")]
    assert energy_cols == ["IT energy [J]", "GPU [J]", "OTHER [J]"]
    assert table.rows[0][table.headers.index("OTHER [J]")] == "4.00"


def test_window_totals_are_shown_per_name_when_present():
    fp = _doc(
        "w",
        windows=[{"name": "eval", "energy_j": 1.0, "duration_s": 1.0}],
        window_totals=[{"name": "eval", "count": 250, "energy_j": 250.0, "duration_s": 250.0, "steps": 0}],
    )
    figures = report.run_tables(fp)[1]
    labels = [row[0] for row in figures.rows]
    assert "window eval (×250)" in labels and "window eval" not in labels
    row = figures.rows[labels.index("window eval (×250)")]
    assert row[1] == "250 J" and row[2] == "4 min 10 s"
