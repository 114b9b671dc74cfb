"""Carbon-intensity forecasts behind one interface (opt-in, cached, with timeouts and reasons).

- :class:`~wattprint.run.forecast.base.Forecast`: periods of gCO2e/kWh, labelled ``average`` or ``marginal``;
- :class:`~wattprint.run.forecast.base.ForecastProvider`: ``get()`` / ``history()`` never raise;
- providers (:mod:`.providers`, :mod:`.user_file`): ``ukci``, ``electricitymaps``, ``watttime``
  (marginal), ``energinet``, ``file``; built by :func:`~wattprint.run.forecast.registry.make_provider`.

The names load on first use, so the live grid (which shares :mod:`._http`) stays light.

Failure modes: see each module; importing this package opens nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wattprint._lazy import lazy_attributes

if TYPE_CHECKING:
    from wattprint.run.forecast.base import Forecast, ForecastProvider
    from wattprint.run.forecast.registry import PROVIDERS, make_provider
    from wattprint.run.forecast.user_file import FileProvider

_LAZY = {
    "Forecast": "wattprint.run.forecast.base",
    "ForecastProvider": "wattprint.run.forecast.base",
    "clear_cache": "wattprint.run.forecast.base",
    "PROVIDERS": "wattprint.run.forecast.registry",
    "make_provider": "wattprint.run.forecast.registry",
    "FileProvider": "wattprint.run.forecast.user_file",
}

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())

__all__ = ["Forecast", "ForecastProvider", "FileProvider", "PROVIDERS", "make_provider", "clear_cache"]
