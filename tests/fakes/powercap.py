"""Moved to :mod:`wattprint.testing.powercap` (shipped); re-exported here for the suite."""

from wattprint.testing.powercap import (  # noqa: F401
    FakePowercap,
)
