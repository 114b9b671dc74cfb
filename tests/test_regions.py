"""`wattprint regions [QUERY]`: codes with their factors and sources; unknown codes suggest matches."""

from __future__ import annotations

import json

from wattprint.cli.app import main


def test_regions_lists_everything(capsys):
    assert main(["regions"]) == 0
    out = capsys.readouterr().out
    for code in ("world", "IE", "US-VA", "aws:us-east-1", "gcp:us-central1", "azure:eastus", "li2023:arizona", "report:singapore"):
        assert f"\n{code} " in out


def test_regions_query_filters_by_code_and_name(capsys):
    assert main(["regions", "virginia", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    codes = {r["code"] for r in rows}
    assert {"US-VA", "aws:us-east-1", "gcp:us-east4", "azure:eastus", "li2023:virginia", "report:virginia"} <= codes
    for r in rows:
        for f in r["factors"].values():
            assert f["source"] and f["unit"] and "value" in f


def test_regions_exact_code_shows_every_source(capsys):
    assert main(["regions", "aws:eu-west-1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("aws:eu-west-1:")
    assert "source: Ember" in out and "licence: CC BY 4.0" in out and "AWS sustainability" in out


def test_unknown_region_is_a_clear_error(capsys):
    assert main(["regions", "aws:us-east1"]) == 2
    err = capsys.readouterr().err
    assert "unknown region" in err and "aws:us-east-1" in err
