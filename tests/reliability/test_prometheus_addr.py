"""PrometheusExporter(addr="") used to listen on every interface (issue 17): it is refused, naming addr."""

from __future__ import annotations

import pytest
from wattprint.errors import ConfigError

pytest.importorskip("prometheus_client")


@pytest.mark.parametrize("addr", ["", "   ", None])
def test_a_blank_bind_address_is_refused(addr):
    from wattprint.exporters import PrometheusExporter

    with pytest.raises(ConfigError, match="addr"):
        PrometheusExporter(port=0, addr=addr)
