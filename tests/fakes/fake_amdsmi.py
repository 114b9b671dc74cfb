"""Moved to :mod:`wattprint.testing.fake_amdsmi` (shipped); re-exported here for the suite."""

from wattprint.testing.fake_amdsmi import (  # noqa: F401
    AmdSmiLibraryException,
    FakeAmdGpu,
    make_fake_amdsmi,
    AMDSMI_STATUS_NOT_SUPPORTED,
)
