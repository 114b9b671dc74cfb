"""File exporters check their path template when built (issue 17), not when the run ends."""

from __future__ import annotations

import pytest
from wattprint.errors import ConfigError
from wattprint.exporters import CsvExporter, JsonExporter


@pytest.mark.parametrize("cls", [JsonExporter, CsvExporter])
@pytest.mark.parametrize("template, says", [("{user}.json", "{user}"), ("runs/{run_id", "not a valid template"), ("{0}.json", "not a valid"), ("  ", "blank")])
def test_bad_templates_fail_at_construction_naming_path(cls, template, says):
    with pytest.raises(ConfigError, match="path") as err:
        cls(template)
    assert says in str(err.value)


@pytest.mark.parametrize("cls", [JsonExporter, CsvExporter])
def test_good_templates_and_literal_braces_are_accepted(cls, tmp_path):
    assert cls(str(tmp_path / "{project}-{run_id}.out")).path
    assert cls(str(tmp_path / "{{literal}}.out")).path
