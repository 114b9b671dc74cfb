"""Test doubles shipped with wattprint, for deterministic tests on CPU-only CI.

- :class:`ManualClock`, :class:`StepEvent`: time that moves only when told (``wattprint.testing.clock``);
- :func:`replay_tracker`, :func:`replay_sensor`: a Tracker on replayed power, no hardware (``.replay``);
- :func:`checking_footprints`: a hook that sees every footprint the library builds (``.hooks``);
- hardware fakes, shaped like the real modules at the calls wattprint makes:
  :func:`make_fake_nvml` / :class:`FakeGpu` / :func:`two_gpus` (a ``pynvml`` module, ``.fake_pynvml``),
  :func:`make_fake_amdsmi` / :class:`FakeAmdGpu` (an ``amdsmi`` module, ``.fake_amdsmi``),
  :class:`FakePowercap` (a ``/sys/class/powercap`` tree in a folder, ``.powercap``).

    from wattprint.testing import FakeGpu, make_fake_nvml
    from wattprint.engine.sensors.nvidia import NvidiaSensor
    sensor = NvidiaSensor(nvml=make_fake_nvml([FakeGpu(uuid="GPU-1")]))

The hardware fakes load on first use (the pynvml fake imports the real
``pynvml`` for its error classes), so ``import wattprint.testing`` stays light.
Nothing here imports pytest.

Failure modes: none at import; each double documents its own.
"""

from __future__ import annotations

from wattprint._lazy import lazy_attributes
from wattprint.testing.clock import ManualClock, StepEvent
from wattprint.testing.hooks import checking_footprints
from wattprint.testing.replay import replay_sensor, replay_tracker

__all__ = [
    "ManualClock",
    "StepEvent",
    "replay_tracker",
    "replay_sensor",
    "checking_footprints",
    "FakeGpu",
    "make_fake_nvml",
    "two_gpus",
    "FakeAmdGpu",
    "make_fake_amdsmi",
    "AmdSmiLibraryException",
    "FakePowercap",
]

_LAZY = {
    "FakeGpu": "fake_pynvml",
    "make_fake_nvml": "fake_pynvml",
    "two_gpus": "fake_pynvml",
    "FakeAmdGpu": "fake_amdsmi",
    "make_fake_amdsmi": "fake_amdsmi",
    "AmdSmiLibraryException": "fake_amdsmi",
    "FakePowercap": "powercap",
}


__getattr__, __dir__ = lazy_attributes(__name__, {name: f"wattprint.testing.{module}" for name, module in _LAZY.items()}, globals())
