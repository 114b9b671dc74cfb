"""One read loop for GPU sensors: a channel per GPU, the vendor supplies only the raw read.

A :class:`GpuChannel` is one GPU's measuring state: either an
:class:`~wattprint.engine.counters.EnergyCounter` (the device has an energy
counter) or a :class:`~wattprint.engine.sensors.base.PowerIntegrator` (polled
watts), its cumulative joules, the time of its last good read and the message of
its last failure. :class:`ChannelSensor` reads every channel under one lock and
turns each outcome into the sensor contract; NVIDIA (:mod:`.nvidia`) and AMD
(:mod:`.amd`) subclass it and implement :meth:`ChannelSensor.read_raw` only.

The tick's hot path: a channel may carry ``fast_raw``, a zero-argument call giving the
vendor's integer counter. From 4 channels up, when every channel is a counter with one and
the previous read got them all, the sensor reads in bulk: one loop of vendor calls, then the
counter arithmetic over lists, written out per length (:mod:`wattprint.engine.unrolled`; the
state lives in the bulk record meanwhile). Anything
unusual (a failed call, a wrap, reset or jump) hands the state back to the channels and the
per-channel loop finishes that tick, so readings, gaps and calls are those of the loop.

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

import functools
import operator
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Literal, Mapping, Optional, Sequence, Tuple, Union

from wattprint.engine import unrolled
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


_BULK_MIN_CHANNELS = 4  # below this the list passes cost more than the per-channel loop they replace


class _Bulk:
    """The counter channels' state while the bulk path holds it: last raw readings, their time, joules."""

    __slots__ = ("plan", "raws", "t_s", "energy_j")

    def __init__(self, plan: "_BulkPlan", raws: List[Any], t_s: float, energy_j: List[float]) -> None:
        self.plan, self.raws, self.t_s, self.energy_j = plan, raws, t_s, energy_j


class _BulkPlan:
    """How the bulk path reads a sensor's channels: all counters with a fast call, one scale and one
    plausibility floor; ``fn(arg)`` per channel when every fast call is a partial of one function."""

    __slots__ = ("ids", "fn", "args", "calls", "scale_j", "min_interval_s", "cap_w", "caps_w", "_limits", "differences", "scaled_sums", "read")

    def __init__(self, channels: Sequence[GpuChannel], scale_j: float, min_interval_s: float, caps_w: List[float]) -> None:
        self.ids = [ch.component_id for ch in channels]
        self.calls: List[Callable[[], Any]] = [ch.fast_raw for ch in channels if ch.fast_raw is not None]
        self.fn: Optional[Callable[[Any], Any]] = None
        self.args: List[Any] = []
        partials = [c for c in self.calls if isinstance(c, functools.partial)]
        if len(partials) == len(self.calls) and all(p.func is partials[0].func and len(p.args) == 1 and not p.keywords for p in partials):
            self.fn, self.args = partials[0].func, [p.args[0] for p in partials]  # fn(arg) per channel
        self.read = None if self.fn is None else unrolled.calls(self.fn, self.args)
        self.scale_j, self.min_interval_s = scale_j, min_interval_s
        self.caps_w = caps_w  # each counter's max_power_w * slack
        self.cap_w: Optional[float] = caps_w[0] if len(set(caps_w)) == 1 else None
        self._limits: Tuple[float, List[float]] = (-1.0, [])
        self.differences, self.scaled_sums = unrolled.differences(len(self.ids)), unrolled.scaled_sums(len(self.ids))

    @classmethod
    def of(cls, channels: Sequence[GpuChannel]) -> "Union[_BulkPlan, Literal[False]]":
        counters = [ch.counter for ch in channels if ch.counter is not None and ch.fast_raw is not None]
        if len(channels) < _BULK_MIN_CHANNELS or len(counters) != len(channels):
            return False
        if len({c.scale_j for c in counters}) != 1 or len({c.min_interval_s for c in counters}) != 1:
            return False
        return cls(channels, counters[0].scale_j, counters[0].min_interval_s, [c.max_power_w * c.slack for c in counters])

    def limits_j(self, interval_s: float) -> List[float]:
        """Each counter's most plausible joules over ``interval_s`` (cached for a repeated interval)."""
        if self._limits[0] != interval_s:
            self._limits = (interval_s, [c * interval_s for c in self.caps_w])
        return self._limits[1]


class ChannelSensor(Sensor):
    """A sensor made of :class:`GpuChannel` s; subclasses implement :meth:`read_raw`.

    ``gap_label`` prefixes counter-gap reasons (``"nvml counter reset"``).
    """

    gap_label = "gpu"

    def __init__(self, channels: Sequence[GpuChannel], power_interval_s: float) -> None:
        super().__init__()
        self._lock = threading.Lock()  # vendor handles are not used concurrently from our side
        self._channels: List[GpuChannel] = list(channels)
        self._column_ids = [ch.component_id for ch in self._channels]
        self._index: Dict[str, int] = {}  # component id -> its position in _channels (see channel())
        polled = any(ch.mode == "power" for ch in self._channels)
        self.mode: SensorMode = "power" if polled else "counter"
        self.poll_interval_s = power_interval_s if polled else 1.0
        self._bulk_plan: Union[None, Literal[False], _BulkPlan] = None  # how the bulk path reads (False: it cannot)
        self._bulk: Optional[_Bulk] = None  # the channels' state while the bulk path holds it
        self._bulk_left_raws: List[Any] = []
        self._bulk_left_failed: Optional[int] = None

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

    @property
    def column_ids(self) -> List[str]:
        """The component ids in channel order: the order of :meth:`read_columns`' lists."""
        return list(self._column_ids)

    def read(self, now_s: float) -> Mapping[str, float]:
        got = self.read_columns(now_s)
        return dict(zip(self._column_ids, got, strict=True)) if isinstance(got, list) else got

    def read_columns(self, now_s: float) -> Union[List[float], Dict[str, float]]:
        """As :meth:`read`, but when every channel answered, a list of the joules in :attr:`column_ids`
        order (a fresh list of floats, never ``None``, never changed afterwards: the ledger keeps it and
        does not scan it for missing components); else the mapping."""
        lock = self._lock
        lock.acquire()  # not `with`: half its cost, once a tick
        try:
            bulk = self._bulk
            if bulk is not None:
                out = self._read_bulk(bulk, now_s)
                if out is not None:
                    return out
                raws, self._bulk_left_raws = self._bulk_left_raws, []
                return self._read_each(now_s, raws, self._bulk_left_failed)
            return self._read_each(now_s, [], None)
        finally:
            lock.release()

    def _read_each(self, now_s: float, raws: List[Any], failed_at: Optional[int]) -> Union[List[float], Dict[str, float]]:
        """Every channel on its own. ``raws``: readings of the first channels, already taken this tick;
        ``failed_at``: the channel whose fast read raised (read again through :meth:`read_raw`).
        A list of the joules when every channel answered, else the mapping of those that did."""
        out: Dict[str, float] = {}
        got: List[Any] = []  # each channel's raw reading, for the bulk path
        all_ok = True
        known = len(raws)
        for i, ch in enumerate(self._channels):
            fast = ch.fast_raw
            try:
                if i < known:
                    raw = raws[i]
                elif fast is None or i == failed_at:
                    raw = self.read_raw(ch)
                else:
                    try:
                        raw = fast()  # the vendor's integer counter
                    except Exception:  # read_raw translates the vendor's error (one more call, on failure only)
                        raw = self.read_raw(ch)
            except SensorError as err:
                ch.fail(err)
                all_ok = False
                continue  # missing from the reading: the ledger records the gap
            counter = ch.counter
            if counter is not None:
                raw = int(raw)
                step = counter.update_fast(raw, now_s)  # a bare float for an ordinary step: no allocation
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
            got.append(raw)
        if not all_ok:
            return out
        if self._bulk_plan is not False:
            self._enter_bulk(got, now_s)
        return list(out.values())

    def _enter_bulk(self, raws: List[Any], now_s: float) -> None:
        """Every channel was read at ``now_s``: later ordinary ticks may take the bulk path (when the channels allow it)."""
        plan = self._bulk_plan
        if plan is None:
            plan = self._bulk_plan = _BulkPlan.of(self._channels)
        if plan is False:
            return
        self._bulk = _Bulk(plan, list(raws), now_s, [ch.energy_j for ch in self._channels])

    def _leave_bulk(self) -> None:
        """Write the bulk state back into the channels and their counters (before any per-channel read)."""
        bulk = self._bulk
        if bulk is None:
            return
        self._bulk = None
        for ch, raw, energy_j in zip(self._channels, bulk.raws, bulk.energy_j, strict=True):
            ch.energy_j = energy_j
            ch.last_ok_s = bulk.t_s
            assert ch.counter is not None
            ch.counter.update(raw, bulk.t_s)  # re-primes it: update() keeps (raw, time) as its reference, whatever it returns

    def _read_bulk(self, bulk: "_Bulk", now_s: float) -> Optional[List[float]]:
        """Every channel is a counter read by one fast call and the last tick read them all: one pass of
        fast calls, then the counter arithmetic over lists. ``None`` when a call failed or a step is not
        ordinary (a wrap, reset or jump): the state is back in the channels, and ``_bulk_left_raws`` /
        ``_bulk_left_failed`` say what was read, for :meth:`_read_each` to finish the tick exactly as the
        per-channel loop would."""
        plan = bulk.plan
        raws: List[Any] = []
        try:
            read = plan.read
            if read is not None:  # fn(arg) per channel, written out (engine/unrolled.py); on a raise, raws keeps those made
                raws = read(raws)
            else:
                append = raws.append
                for fast in plan.calls:
                    append(fast())
        except Exception:
            self._leave_bulk()
            self._bulk_left_raws, self._bulk_left_failed = raws, len(raws)
            return None
        deltas = plan.differences(raws, bulk.raws)  # raws[i] - bulk.raws[i], written out (engine/unrolled.py)
        dt = now_s - bulk.t_s
        f = dt if dt > plan.min_interval_s else plan.min_interval_s
        scale = plan.scale_j
        # EnergyCounter.update_fast's ordinary step for every channel at once: float rounding is monotonic,
        # so with one scale and one cap the largest delta passes exactly when each does
        cap = plan.cap_w
        if cap is not None:
            ordinary = max(deltas) * scale <= cap * f
        else:
            ordinary = all(map(operator.le, [d * scale for d in deltas], plan.limits_j(f)))
        if not ordinary or min(deltas) < 0:
            self._leave_bulk()
            self._bulk_left_raws, self._bulk_left_failed = raws, None
            return None
        energy_j = plan.scaled_sums(bulk.energy_j, deltas, scale)  # e + d * scale per channel, written out
        bulk.raws, bulk.t_s, bulk.energy_j = raws, now_s, energy_j
        return energy_j

    def gpu_usage(self, component_id: str, since_us: int) -> Optional[GpuUsage]:
        """Who used this GPU since ``since_us`` (``None``: the vendor cannot say). Never raises."""
        return None

    def channel(self, component_id: str) -> Optional[GpuChannel]:
        """The (first) channel of ``component_id``, ``None`` if none: one dict lookup, checked against
        ``_channels`` as it is now (a replaced list or channel re-indexes it: a miss is one scan, as before)."""
        chans, i = self._channels, self._index.get(component_id)
        if i is not None and i < len(chans) and (ch := chans[i]).component_id == component_id:
            return ch
        index: Dict[str, int] = {}
        for j, ch in enumerate(chans):
            index.setdefault(ch.component_id, j)
        self._index = index
        i = index.get(component_id)
        return None if i is None else chans[i]

    def last_error(self, component_id: str) -> Optional[str]:
        ch = self.channel(component_id)
        return None if ch is None else ch.last_error
