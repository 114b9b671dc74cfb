"""Moved to :mod:`wattprint.testing.fake_pynvml` (shipped); re-exported here for the suite."""

from wattprint.testing.fake_pynvml import (  # noqa: F401
    FakeGpu,
    make_fake_nvml,
    two_gpus,
    NVMLError,
)
