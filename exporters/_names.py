"""One name per figure in every output, derived from :data:`wattprint.footprint.model.FIGURES`.

Training logs (Lightning, HF Trainer and the loggers they feed: TensorBoard,
MLflow, CSV loggers) and the MLflow exporter use ``wattprint.`` + the figure
key (``wattprint.energy.it_kwh``, ``wattprint.carbon.total_kg``), in the unit
the key names; ``runs.csv`` uses the key itself; Prometheus exposes the same
figure in base units (``wattprint_energy_joules_total``,
``wattprint_carbon_grams_total``), as Prometheus names require.

Failure modes: :func:`log_name` raises ``KeyError`` for a key that is not in
the figure table (a typo is caught at import, not in a dashboard).
"""

from __future__ import annotations

from typing import Dict

from wattprint.footprint.model import FIGURES, LOG_PREFIX

__all__ = ["log_name", "LOG_NAMES", "LEGACY_LOG_NAMES"]

LOG_NAMES: Dict[str, str] = {f.key: f.log_name for f in FIGURES}
# names logged by wattprint before one name per figure; read back on resume only
LEGACY_LOG_NAMES: Dict[str, str] = {"wattprint/energy_kwh": "energy.it_kwh", "wattprint/carbon_kg": "carbon.total_kg"}


def log_name(key: str) -> str:
    """The logged name of the figure ``key`` (``"energy.it_kwh"`` -> ``"wattprint.energy.it_kwh"``)."""
    if key not in LOG_NAMES:
        raise KeyError(f"{key!r} is not a figure of wattprint.footprint.model.FIGURES")
    return LOG_NAMES[key]


assert LOG_PREFIX == "wattprint."
