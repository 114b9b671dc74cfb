"""Settings: arguments first, then ``WATTPRINT_*`` environment variables, then defaults.

:class:`TrackerSettings` is the one typed resolver of a run's settings: the
:class:`~wattprint.Tracker` builds one, and anyone who wants to check a
Tracker's keyword arguments early (``track(...)``, the training callbacks)
calls :meth:`TrackerSettings.resolve` instead of building a Tracker. The
option readers below (:func:`setting_float`, :func:`setting_str`,
:func:`setting_bool`) are what it is made of, and are shared by the CLI,
``estimate`` and the live grid.

The factor arguments (``region``, ``pue``, ``intensity_g_per_kwh``,
``wue_l_per_kwh``, ``ewif_l_per_kwh``, ``accounting_options``) are carried,
unchecked, in :attr:`TrackerSettings.factor_args`: the run layer resolves them
(:func:`wattprint.run.grid_live.resolve_run_factors`), since the factor tables
live above this module.

Failure modes: a wrong value raises :class:`~wattprint.errors.ConfigError`
naming the setting (or the variable) and what is allowed; an unknown keyword
raises ``TypeError``, as a call with a wrong keyword does. An explicitly given
``powercap_root`` that is not a folder is a ``ConfigError``; only the default
root degrades quietly (to an estimate).
"""

from __future__ import annotations

import dataclasses
import os
import time
import types
import uuid
from typing import Any, Dict, Mapping, Optional, Sequence

from wattprint._io import BIDI_OVERRIDES
from wattprint.errors import ConfigError
from wattprint.options import setting_bool, setting_float, setting_str  # re-exported: the option readers

__all__ = [
    "TrackerSettings",
    "new_run_id",
    "check_file_name",
    "FACTOR_ARGS",
    "RUNTIME_ARGS",
    "setting_float",
    "setting_str",
    "setting_bool",
    "check_output_dir",
    "DEFAULT_OUTPUT_DIR",
]

DEFAULT_OUTPUT_DIR = "wattprint-runs"
#: Sampling and checkpoint periods that actually run: shorter busy-loops a core, longer overflows
#: the thread's wait (``inf`` means "never" where a setting allows it). Seconds.
MIN_INTERVAL_S, MAX_INTERVAL_S = 0.01, 7 * 86400.0

#: Tracker keyword arguments resolved by the run layer's factor resolver, not here.
FACTOR_ARGS = ("region", "pue", "wue_l_per_kwh", "ewif_l_per_kwh", "intensity_g_per_kwh", "accounting_options",
               "water_source", "task_stage", "market_intensity_g_per_kwh", "renewable_share")
#: Tracker keyword arguments that are objects, not settings: checked (``exporters``) but not stored.
RUNTIME_ARGS = ("sensors", "exporters", "clock", "event")


def check_output_dir(setting: str, path: str) -> str:
    """The absolute folder, after checking it is (or can be made) writable. Creates nothing."""
    full = os.path.abspath(path)
    probe = full
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if os.path.exists(probe) and not os.path.isdir(probe):
        raise ConfigError(setting, f"{probe} exists and is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(setting, f"folder {probe} is not writable; choose a writable output folder")
    return full


MAX_NAME_BYTES = 255  # a file name's limit on common file systems (ext4, xfs, btrfs, APFS, NTFS)


def check_file_name(setting: str, value: Any, *, suffix: str = "") -> str:
    """``value`` if it is safe as one file name in a folder (with ``suffix`` appended), else ``ConfigError``.

    The one path-safe name policy for names wattprint joins into paths: a non-blank
    string, no ``/`` or ``\\``, no NUL or other control character (C0, DEL, C1), no bidirectional
    override or isolate (a name shown reversed in a terminal or report: "Trojan Source"), not ``.`` or ``..``,
    and at most 255 bytes (UTF-8) together with ``suffix``.
    """
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(setting, f"must be a non-blank string, got {value!r}")
    if "/" in value or "\\" in value:
        raise ConfigError(setting, f"must be a plain file name without / or \\, got {value!r}")
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value):
        raise ConfigError(setting, f"must not contain NUL, newlines or other control characters, got {value!r}")
    if any(ord(c) in BIDI_OVERRIDES for c in value):
        raise ConfigError(setting, f"must not contain bidirectional control characters (they reorder how the name is shown), got {value!r}")
    if value in (".", ".."):
        raise ConfigError(setting, f"must be a file name, not {value!r}")
    try:  # what the file system is given (a lone surrogate from undecodable bytes maps back to them)
        os.fsencode(value)
    except UnicodeEncodeError:
        raise ConfigError(setting, f"cannot be written as a file name on this system, got {value!r}") from None
    size = len((value + suffix).encode("utf-8", "surrogatepass"))
    if size > MAX_NAME_BYTES:
        raise ConfigError(setting, f"is {size} bytes as a file name ({suffix or 'no suffix'} included); at most {MAX_NAME_BYTES}")
    return value


def _run_id(value: Optional[str], env: Mapping[str, str]) -> Optional[str]:
    """The run id given (checked as ``run_id``) or from ``WATTPRINT_RUN_ID`` (checked as that), else None."""
    if value is not None:
        return check_file_name("run_id", value, suffix=".json")
    raw = env.get("WATTPRINT_RUN_ID")
    if raw is None or raw == "":
        return None
    return check_file_name("WATTPRINT_RUN_ID", raw, suffix=".json")


def new_run_id() -> str:
    """A new run id: UTC time to the second plus 8 random hex digits, e.g. ``20261128T151100Z-1a2b3c4d``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(name, f"must be True or False, got {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class TrackerSettings:
    """The resolved settings of one run (see :class:`wattprint.Tracker` for each one's meaning).

    Times are seconds, power watts. ``output_dir`` is absolute. ``run_id`` is
    ``None`` when neither given nor set (the Tracker then makes a new one).
    ``powercap_root`` is ``None`` for the default root. ``factor_args`` holds
    the factor keyword arguments (``accounting_options`` spread in), unchecked.
    """

    project: str = "default"
    run_id: Optional[str] = None
    output_dir: str = os.path.abspath(DEFAULT_OUTPUT_DIR)
    save: bool = True
    interval_s: float = 1.0
    power_interval_s: float = 0.1
    checkpoint_interval_s: float = 60.0
    cpu_tdp_w: Optional[float] = None
    powercap_root: Optional[str] = None
    gpu: bool = True
    cpu: bool = True
    ram: bool = True
    handle_signals: bool = True
    max_timeline_points: int = 2048
    export_timeout_s: float = 10.0
    total_steps: Optional[int] = None
    requests_log: Optional[str] = None
    request_retention_s: float = 600.0
    prefill_token_weight: float = 0.25
    decode_token_weight: float = 1.0
    job: bool = True
    attribution: str = "job"
    idle_power_w: Mapping[str, float] = dataclasses.field(default_factory=lambda: types.MappingProxyType({}))
    proc_root: Optional[str] = None
    cgroup_root: Optional[str] = None
    factor_args: Mapping[str, Any] = dataclasses.field(default_factory=lambda: types.MappingProxyType({}), compare=False)

    @classmethod
    def resolve(
        cls,
        *,
        env: Optional[Mapping[str, str]] = None,
        project: Optional[str] = None,
        run_id: Optional[str] = None,
        output_dir: Optional[str] = None,
        save: Optional[bool] = None,
        interval_s: Optional[float] = None,
        power_interval_s: Optional[float] = None,
        checkpoint_interval_s: Optional[float] = None,
        cpu_tdp_w: Optional[float] = None,
        powercap_root: Optional[str] = None,
        gpu: bool = True,
        cpu: bool = True,
        ram: bool = True,
        handle_signals: bool = True,
        max_timeline_points: int = 2048,
        export_timeout_s: float = 10.0,
        total_steps: Optional[int] = None,
        requests_log: Optional[str] = None,
        request_retention_s: Optional[float] = None,
        prefill_token_weight: Optional[float] = None,
        decode_token_weight: Optional[float] = None,
        exporters: Sequence[Any] = (),
        sensors: Optional[Sequence[Any]] = None,
        clock: Any = None,
        event: Any = None,
        accounting_options: Optional[Mapping[str, Any]] = None,
        job: Any = None,
        attribution: Optional[str] = None,
        idle_power_w: Optional[Mapping[str, float]] = None,
        **factor_kwargs: Any,
    ) -> "TrackerSettings":
        """Resolve and check every setting a :class:`~wattprint.Tracker` takes, with its keyword names.

        ``env`` is the environment to read ``WATTPRINT_*`` from (default
        ``os.environ``). ``sensors``, ``clock`` and ``event`` are accepted and
        ignored, ``exporters`` is checked (each needs an ``export`` method), so
        any Tracker's keyword arguments can be checked here.

        Raises:
            ConfigError: a setting out of range, naming the argument or the variable.
            TypeError: an unknown keyword argument.
        """
        unknown = sorted(set(factor_kwargs) - set(FACTOR_ARGS))
        if unknown:
            raise TypeError(f"Tracker got unexpected keyword argument(s): {', '.join(unknown)}")
        env = os.environ if env is None else env
        save_v = setting_bool("save", save, env, True)
        out = setting_str("output_dir", output_dir, env, DEFAULT_OUTPUT_DIR)
        out_setting = "output_dir" if output_dir else "WATTPRINT_OUTPUT_DIR"
        if not isinstance(max_timeline_points, int) or isinstance(max_timeline_points, bool) or max_timeline_points < 4:
            raise ConfigError("max_timeline_points", f"must be an integer >= 4, got {max_timeline_points!r}")
        if isinstance(export_timeout_s, bool) or not (isinstance(export_timeout_s, (int, float)) and export_timeout_s > 0):
            raise ConfigError("export_timeout_s", f"must be a number > 0, got {export_timeout_s!r}")
        if total_steps is not None and (not isinstance(total_steps, int) or isinstance(total_steps, bool) or total_steps <= 0):
            raise ConfigError("total_steps", f"must be a positive integer, got {total_steps!r}")
        for exp in exporters:
            if not callable(getattr(exp, "export", None)):
                raise ConfigError("exporters", f"each exporter must have an export(footprint) method; {exp!r} has none")
        if accounting_options is not None and not isinstance(accounting_options, Mapping):
            raise ConfigError("accounting_options", f"must be a mapping of keyword arguments, got {accounting_options!r}")
        factor_args: Dict[str, Any] = {k: factor_kwargs.get(k) for k in FACTOR_ARGS if k != "accounting_options"}
        factor_args.update(accounting_options or {})
        return cls(
            project=setting_str("project", project, env, "default"),
            run_id=_run_id(run_id, env),
            output_dir=check_output_dir(out_setting, out) if save_v else os.path.abspath(out),
            save=save_v,
            interval_s=setting_float("interval_s", interval_s, env, 1.0, minimum=MIN_INTERVAL_S, allow_inf=True, maximum=MAX_INTERVAL_S),
            power_interval_s=setting_float("power_interval_s", power_interval_s, env, 0.1, minimum=MIN_INTERVAL_S, maximum=MAX_INTERVAL_S),
            checkpoint_interval_s=setting_float(
                "checkpoint_interval_s", checkpoint_interval_s, env, 60.0, minimum=MIN_INTERVAL_S, allow_inf=True, maximum=MAX_INTERVAL_S
            ),
            cpu_tdp_w=setting_float("cpu_tdp_w", cpu_tdp_w, env, None, minimum=0.0, inclusive=False),
            powercap_root=_powercap_root(powercap_root, env),
            gpu=_flag("gpu", gpu),
            cpu=_flag("cpu", cpu),
            ram=_flag("ram", ram),
            handle_signals=_flag("handle_signals", handle_signals),
            max_timeline_points=max_timeline_points,
            export_timeout_s=float(export_timeout_s),
            total_steps=total_steps,
            requests_log=check_file_name("requests_log", requests_log) if requests_log is not None else None,
            request_retention_s=setting_float("request_retention_s", request_retention_s, env, 600.0, minimum=1.0),
            prefill_token_weight=setting_float("prefill_token_weight", prefill_token_weight, env, 0.25, minimum=0.0),
            decode_token_weight=setting_float("decode_token_weight", decode_token_weight, env, 1.0, minimum=0.0),
            job=_job_flag(job, env),
            attribution=_attribution(attribution, env),
            idle_power_w=_idle_power_w(idle_power_w, env),
            proc_root=_env_folder("WATTPRINT_PROC_ROOT", env, "the proc file system (e.g. /proc)"),
            cgroup_root=_env_folder("WATTPRINT_CGROUP_ROOT", env, "the cgroup hierarchy (e.g. /sys/fs/cgroup)"),
            factor_args=types.MappingProxyType(factor_args),
        )


def _job_flag(value: Any, env: Mapping[str, str]) -> bool:
    """``job``: ``True``/``False``, ``WATTPRINT_JOB``, or a job context object (the run layer's ``JobContext``): on."""
    if value is None or isinstance(value, bool):
        return setting_bool("job", value, env, True)
    if all(hasattr(value, a) for a in ("job_id", "rank", "world_size")):
        return True
    raise ConfigError("job", f"must be True, False or a wattprint JobContext, got {value!r}")


def _attribution(value: Optional[str], env: Mapping[str, str]) -> str:
    """``attribution``: ``"job"`` (the job's share of shared components, the default) or ``"node"`` (the whole node's)."""
    raw = setting_str("attribution", value, env, "job")
    mode = raw.strip().lower()
    if mode not in ("job", "node"):
        raise ConfigError("attribution" if value is not None else "WATTPRINT_ATTRIBUTION", f"must be 'job' or 'node', got {raw!r}")
    return mode


def _idle_power_w(value: Optional[Mapping[str, float]], env: Mapping[str, str]) -> Mapping[str, float]:
    """``idle_power_w``: idle watts by component id or kind (``{"cpu": 20, "gpu:0": 60}``), or
    ``WATTPRINT_IDLE_POWER_W`` as ``cpu=20,gpu:0=60``; each >= 0."""
    setting = "idle_power_w"
    if value is None:
        raw = env.get("WATTPRINT_IDLE_POWER_W", "").strip()
        if not raw:
            return types.MappingProxyType({})
        setting = "WATTPRINT_IDLE_POWER_W"
        pairs: Dict[str, Any] = {}
        for part in raw.split(","):
            key, sep, num = part.partition("=")
            if not sep or not key.strip():
                raise ConfigError(setting, f"must be id=watts pairs separated by commas (cpu=20,gpu:0=60), got {raw!r}")
            pairs[key.strip()] = num.strip()
        value = pairs
    if not isinstance(value, Mapping):
        raise ConfigError(setting, f"must be a mapping of component id or kind to watts, got {value!r}")
    out = {str(k): setting_float(setting, v, {}, None, minimum=0.0) for k, v in value.items()}
    return types.MappingProxyType({k: v for k, v in out.items() if v is not None})


def _env_folder(var: str, env: Mapping[str, str], what: str) -> Optional[str]:
    """A root named by ``var`` must be a folder (a test seam; unset means the real one)."""
    raw = env.get(var)
    if not raw:
        return None
    if not os.path.isdir(raw):
        raise ConfigError(var, f"{raw} is not a folder; give {what} or leave it unset")
    return raw


def _powercap_root(value: Optional[str], env: Mapping[str, str]) -> Optional[str]:
    """An explicit RAPL root (argument, else ``WATTPRINT_POWERCAP_ROOT``) must be a folder; ``None`` is the default root."""
    root = setting_str("powercap_root", value, env, None)
    if root is not None and not os.path.isdir(root):
        setting = "powercap_root" if value is not None else "WATTPRINT_POWERCAP_ROOT"
        raise ConfigError(setting, f"{root} is not a folder; give the powercap sysfs root (e.g. /sys/class/powercap) or leave it unset")
    return root
