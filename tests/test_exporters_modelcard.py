"""ModelCardExporter: the co2_eq_emissions metadata and the Environmental impact section,
read back by huggingface_hub, and an existing card's content kept on update."""

from __future__ import annotations

import pytest

pytest.importorskip("huggingface_hub")

from conftest_pushgateway import replay_tracker
from huggingface_hub import ModelCard
from wattprint.exporters.modelcard import (
    BEGIN,
    END,
    ModelCardExporter,
    hardware_summary,
)

EXISTING = """---
license: apache-2.0
language:
- en
tags:
- text-classification
---

# tiny-bert

A model card written by a person.

## Training

Trained for 3 epochs.

## Environmental impact

Our own note, kept above the generated block.

## Citation

Please cite us.
"""


def _run(tmp_path, exporters, **kwargs):
    t, clock = replay_tracker(exporters, save=False, power_w=400.0, **kwargs)
    t.start()
    clock.advance(3600.0)
    return t.stop()


def test_new_card_reads_back_with_huggingface_hub(tmp_path):
    card_path = tmp_path / "README.md"
    exp = ModelCardExporter(str(card_path), training_type="fine-tuning", geographical_location="Dublin, Ireland")
    fp = _run(tmp_path, [exp], project="tiny-bert", region="IE")
    card = ModelCard.load(card_path)
    co2 = card.data.co2_eq_emissions
    assert co2["source"] == "wattprint"
    assert co2["training_type"] == "fine-tuning"
    assert co2["geographical_location"] == "Dublin, Ireland"
    assert co2["hardware_used"] == "1 x Replay GPU; 1 x Replay CPU (CPU)"
    assert co2["emissions"] == pytest.approx(fp.get("carbon.total_kg") * 1000.0, rel=1e-6)  # grams
    assert co2["emissions"] > 0
    assert "## Environmental impact" in card.text and BEGIN in card.text and END in card.text
    assert fp.run_id in card.text
    assert "500 Wh (80% measured)" in card.text  # 400 W + 100 W (estimated CPU) for one hour
    assert "(completed, 1 h 00 min, region `IE`" in card.text  # units.format_duration (it said "60 min" before)


def test_update_keeps_the_existing_card(tmp_path):
    card_path = tmp_path / "README.md"
    card_path.write_text(EXISTING)
    exp = ModelCardExporter(str(tmp_path), emissions="operational")  # the folder holding README.md
    fp = _run(tmp_path, [exp])
    card = ModelCard.load(card_path)
    assert card.data.license == "apache-2.0"
    assert card.data.language == ["en"]
    assert card.data.tags == ["text-classification"]
    assert card.data.co2_eq_emissions["emissions"] == pytest.approx(fp.get("carbon.operational_kg") * 1000.0, rel=1e-6)
    text = card.text
    for kept in ("# tiny-bert", "A model card written by a person.", "Trained for 3 epochs.", "Our own note", "Please cite us."):
        assert kept in text
    assert text.index("## Environmental impact") < text.index(BEGIN) < text.index(END) < text.index("## Citation")

    # a second run replaces the generated block instead of adding another one
    fp2 = _run(tmp_path, [ModelCardExporter(str(card_path))], run_id="second-run")
    text2 = ModelCard.load(card_path).text
    assert text2.count(BEGIN) == 1 and text2.count("## Environmental impact") == 1
    assert "second-run" in text2 and fp.run_id not in text2
    assert "Our own note" in text2 and "Please cite us." in text2
    assert ModelCard.load(card_path).data.co2_eq_emissions["emissions"] == pytest.approx(fp2.get("carbon.total_kg") * 1000.0, rel=1e-6)


def test_section_names_the_factors_and_their_sources(tmp_path):
    exp = ModelCardExporter(str(tmp_path / "README.md"))
    fp = _run(tmp_path, [exp], pue=1.2, intensity_g_per_kwh=300.0, wue_l_per_kwh=0.5, ewif_l_per_kwh=2.0)
    text = (tmp_path / "README.md").read_text()
    for needle in ("PUE 1.2", "300 gCO2e/kWh", "WUE 0.5 L/kWh", "EWIF 2 L/kWh", "Water, on-site", "Water, off-site", "Carbon, embodied"):
        assert needle in text, needle
    assert fp.get("factors.pue.source") in text


def test_card_with_broken_yaml_is_left_untouched(tmp_path):
    card_path = tmp_path / "README.md"
    broken = "---\nlicense: [unclosed\n---\n# x\n"
    card_path.write_text(broken)
    exp = ModelCardExporter(str(card_path))
    _run(tmp_path, [exp])
    assert card_path.read_text() == broken


def test_hardware_summary_counts_devices():
    from wattprint import Footprint

    fp = Footprint({"components": [
        {"kind": "gpu", "name": "NVIDIA H100"}, {"kind": "gpu", "name": "NVIDIA H100"},
        {"kind": "cpu", "name": "AMD EPYC 9654"}, {"kind": "ram", "name": "RAM"},
    ]})
    assert hardware_summary(fp) == "2 x NVIDIA H100; 1 x AMD EPYC 9654 (CPU)"


def test_bad_arguments():
    with pytest.raises(ValueError, match="training_type"):
        ModelCardExporter("README.md", training_type="training")
    with pytest.raises(ValueError, match="emissions"):
        ModelCardExporter("README.md", emissions="kg")


def test_place_name_is_human_with_the_code_beside_it():
    from wattprint.exporters.modelcard import place_name

    assert place_name("IE") == "Ireland (IE)"
    assert place_name("US-VA") == "Virginia, United States (US-VA)"
    assert place_name("aws:us-east-1") == "AWS US East (N. Virginia) (aws:us-east-1)"
    assert place_name("world") == "World average (world)"
    assert place_name(None) == "unknown"


def test_emissions_default_to_operational_with_embodied_beside_and_a_place_name(tmp_path):
    card_path = tmp_path / "README.md"
    fp = _run(tmp_path, [ModelCardExporter(card_path)], region="IE")
    card = ModelCard.load(card_path)
    co2 = card.data.co2_eq_emissions
    assert co2["emissions"] == pytest.approx(fp.get("carbon.operational_kg") * 1000.0, rel=1e-6)
    assert co2["geographical_location"] == "Ireland (IE)"
    assert "operational carbon (electricity)" in card.text and "embodied" in card.text


def test_the_hub_templates_placeholders_are_filled(tmp_path):
    from huggingface_hub import ModelCardData

    card_path = tmp_path / "README.md"
    ModelCard.from_template(ModelCardData(license="mit")).save(card_path)
    fp = _run(tmp_path, [ModelCardExporter(card_path)], region="aws:us-east-1")
    card = ModelCard.load(card_path)
    env = card.text[card.text.index("## Environmental Impact"): card.text.index("## Technical Specifications")]
    assert "[More Information Needed]" not in env
    assert "Machine Learning Impact calculator" not in env
    assert "- **Cloud Provider:** AWS" in env
    assert "- **Compute Region:** AWS US East (N. Virginia) (aws:us-east-1)" in env
    assert "- **Hours used:** 1" in env
    assert BEGIN in env and END in env
    assert card.data.co2_eq_emissions["emissions"] == pytest.approx(fp.get("carbon.operational_kg") * 1000.0, rel=1e-6)
    assert card.text.count("[More Information Needed]") > 10  # the other sections' placeholders are the author's to fill
