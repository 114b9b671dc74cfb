"""One read loop for GPU sensors: a channel per GPU, the vendor supplies only the raw read.

A :class:`GpuChannel` is one GPU's measuring state: either an
:class:`~wattprint.engine.counters.EnergyCounter` (the device has an energy
counter) or a :class:`~wattprint.engine.sensors.base.PowerIntegrator` (polled
watts), its cumulative joules, the time of its last good read and the message of
its last failure. :class:`ChannelSensor` reads every channel under one lock and
turns each outcome into the sensor contract; NVIDIA (:mod:`.nvidia`) and AMD
(:mod:`.amd`) subclass it and implement :meth:`ChannelSensor.read_raw` only.

Failure modes: a :class:`~wattprint.errors.SensorError` from ``read_raw`` drops
that GPU from this reading (the ledger opens a gap, :meth:`ChannelSensor.last_error`
says why) and breaks the power integration, so the hole is never bridged; a
counter reset or impossible jump is recorded with :meth:`Sensor.record_gap`.
Any other exception escapes ``read`` (the ledger counts the whole sensor as failed).

:class:`GpuUsage` is what a vendor can say about who uses one GPU (its process list,
per-process SM utilisation, a MIG slice's share of its parent); :meth:`ChannelSensor.gpu_usage`
returns ``None`` where the vendor says nothing (the attributor then treats the GPU as the job's).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from wattprint.engine.counters import CounterStep, EnergyCounter
from wattprint.engine.sensors.base import UNCERTAINTY_COUNTER, UNCERTAINTY_POLLED, Component, PowerIntegrator, Sensor, SensorMode
from wattprint.errors import SensorError

__all__ = ["GpuChannel", "ChannelSensor", "GpuUsage"]


@dataclass
class GpuUsage:
    """Who used one GPU since the previous query.

    Attributes:
        processes: ``(pid, used_memory_bytes or None)`` of the compute processes NVML lists now
            (pids in the host's PID namespace); ``None`` when the driver cannot list them.
        sm_util: per pid, the sum of its SM-utilisation samples (percent) since the previous query;
            ``None`` when per-process utilisation is not supported, ``{}`` when no sample is new.
        last_seen_us: the newest sample's timestamp (µs), to pass back next time.
        mig_slice: for a MIG instance, its share of the parent GPU's compute (SMs), else ``None``.
        mig: the channel is a MIG instance (its energy is the parent's).
    """

    processes: Optional[List[Tuple[int, Optional[int]]]]
    sm_util: Optional[Dict[int, float]]
    last_seen_us: int = 0
    mig_slice: Optional[float] = None
    mig: bool = False


class GpuChannel:
    """One GPU's energy state.

    Args:
        component_id: ``"gpu:<n>"``.
        source: the component's source label (``"nvml.total_energy"``, ``"amdsmi.power"``...).
        device: the vendor's record for this GPU (handle, name...), opaque here.
        counter: the energy counter when the device has one; ``None`` means polled power.

    Attributes:
        energy_j: joules since the channel opened.
        last_ok_s: monotonic time of the last good read, seconds (``None`` before the first).
        last_error: the message of the most recent failed read (``None`` if none failed).
    """

    __slots__ = ("component_id", "source", "device", "counter", "integrator", "energy_j", "last_ok_s", "last_error", "fast_raw")

    def __init__(self, component_id: str, source: str, device: Any, counter: Optional[EnergyCounter] = None) -> None:
        self.component_id = component_id
        self.source = source
        self.device = device
        self.counter = counter
        self.integrator = PowerIntegrator()
        self.energy_j = 0.0
        self.last_ok_s: Optional[float] = None
        self.last_error: Optional[str] = None
        # the tick's hot path: a zero-argument call giving the raw counter (e.g. a partial of the
        # vendor function on the kept handle); on any error the channel falls back to read_raw
        self.fast_raw: Optional[Callable[[], Any]] = None

    @property
    def mode(self) -> SensorMode:
        return "counter" if self.counter is not None else "power"

    def fail(self, err: BaseException) -> None:
        """This read failed: remember why and do not bridge the hole in the power integration."""
        self.integrator.drop()
        self.last_error = str(err)


class ChannelSensor(Sensor):
    """A sensor made of :class:`GpuChannel` s; subclasses implement :meth:`read_raw`.

    ``gap_label`` prefixes counter-gap reasons (``"nvml counter reset"``).
    """

    gap_label = "gpu"

    def __init__(self, channels: Sequence[GpuChannel], power_interval_s: float) -> None:
        super().__init__()
        self._lock = threading.Lock()  # vendor handles are not used concurrently from our side
        self._channels: List[GpuChannel] = list(channels)
        polled = any(ch.mode == "power" for ch in self._channels)
        self.mode: SensorMode = "power" if polled else "counter"
        self.poll_interval_s = power_interval_s if polled else 1.0

    @staticmethod
    def gpu_component(ch: GpuChannel, name: str, info: Dict[str, Any]) -> Component:
        """The measured ``gpu:N`` component of one channel (uncertainty from its mode)."""
        return Component(
            id=ch.component_id,
            kind="gpu",
            name=name,
            source=ch.source,
            measured=True,
            uncertainty_rel=UNCERTAINTY_COUNTER if ch.mode == "counter" else UNCERTAINTY_POLLED,
            scope="device",
            info=info,
        )

    def read_raw(self, channel: GpuChannel) -> float:
        """One raw reading: counter units for a counter channel, watts for a power channel.

        Raises:
            SensorError: this GPU could not be read this time.
        """
        raise NotImplementedError

    def read(self, now_s: float) -> Mapping[str, float]:
        out: Dict[str, float] = {}
        with self._lock:
            for ch in self._channels:
                fast = ch.fast_raw
                try:
                    if fast is None:
                        raw = self.read_raw(ch)
                    else:
                        try:
                            raw = fast()  # the vendor's integer counter
                        except Exception:  # read_raw translates the vendor's error (one more call, on failure only)
                            raw = self.read_raw(ch)
                except SensorError as err:
                    ch.fail(err)
                    continue  # missing from the reading: the ledger records the gap
                counter = ch.counter
                if counter is not None:
                    step = counter.update_fast(int(raw), now_s)  # a bare float for an ordinary step: no allocation
                    if isinstance(step, CounterStep):
                        if step.is_gap:
                            start_s = now_s if ch.last_ok_s is None else ch.last_ok_s
                            self.record_gap(ch.component_id, start_s, now_s, f"{self.gap_label} counter {step.event}")
                        ch.energy_j += step.delta_j
                    else:
                        ch.energy_j += step
                else:
                    ch.energy_j = ch.integrator.add(raw, now_s)
                ch.last_ok_s = now_s
                out[ch.component_id] = ch.energy_j
        return out

    def gpu_usage(self, component_id: str, since_us: int) -> Optional[GpuUsage]:
        """Who used this GPU since ``since_us`` (``None``: the vendor cannot say). Never raises."""
        return None

    def channel(self, component_id: str) -> Optional[GpuChannel]:
        for ch in self._channels:
            if ch.component_id == component_id:
                return ch
        return None

    def last_error(self, component_id: str) -> Optional[str]:
        for ch in self._channels:
            if ch.component_id == component_id:
                return ch.last_error
        return None
