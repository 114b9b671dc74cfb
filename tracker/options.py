"""The option readers: a setting from its argument, else its ``WATTPRINT_*`` variable, else a default.

:func:`setting_float`, :func:`setting_str` and :func:`setting_bool` are what
:class:`wattprint.settings.TrackerSettings` is made of; the CLI, ``estimate``, the live grid and
the exporters use them too (through :mod:`wattprint.settings`, which re-exports them).

Failure modes: a wrong value raises :class:`~wattprint.errors.ConfigError` naming the argument
(or the variable, when the value came from the environment) and what is allowed; a blank
variable (only spaces) is an error, an empty one means unset.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, overload

from wattprint.errors import ConfigError

__all__ = ["setting_float", "setting_str", "setting_bool"]


@overload
def setting_float(
    name: str, value: Any, env: Mapping[str, str], default: float, *, minimum: float, inclusive: bool = ..., allow_inf: bool = ...,
    maximum: Optional[float] = ...
) -> float: ...


@overload
def setting_float(
    name: str, value: Any, env: Mapping[str, str], default: None, *, minimum: float, inclusive: bool = ..., allow_inf: bool = ...,
    maximum: Optional[float] = ...
) -> Optional[float]: ...


def setting_float(
    name: str,
    value: Any,
    env: Mapping[str, str],
    default: Optional[float],
    *,
    minimum: float,
    inclusive: bool = True,
    allow_inf: bool = False,
    maximum: Optional[float] = None,
) -> Optional[float]:
    """Resolve a number: ``value``, else ``WATTPRINT_<NAME>``, else ``default``.

    Raises:
        ConfigError: not a number, NaN, below the minimum, or infinite where not allowed.
    """
    setting = name
    if value is None:
        var = "WATTPRINT_" + name.upper()
        raw = env.get(var)
        if raw is None or raw.strip() == "":
            return default
        setting, value = var, raw.strip()
    if isinstance(value, bool):
        raise ConfigError(setting, f"must be a number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(setting, f"must be a number {'>=' if inclusive else '>'} {minimum:g}, got {value!r}") from None
    rel = ">=" if inclusive else ">"
    if math.isnan(v) or (math.isinf(v) and not (allow_inf and v > 0)):
        allowed = f"a finite number {rel} {minimum:g}" + (" or inf" if allow_inf else "")
        raise ConfigError(setting, f"must be {allowed}, got {value!r}")
    if v < minimum or (not inclusive and v == minimum):
        raise ConfigError(setting, f"must be {rel} {minimum:g}{' (or inf)' if allow_inf else ''}, got {value!r}")
    if maximum is not None and math.isfinite(v) and v > maximum:
        raise ConfigError(setting, f"must be at most {maximum:g}{' (or inf)' if allow_inf else ''}, got {value!r}")
    return v


@overload
def setting_str(name: str, value: Optional[str], env: Mapping[str, str], default: str) -> str: ...


@overload
def setting_str(name: str, value: Optional[str], env: Mapping[str, str], default: None) -> Optional[str]: ...


def setting_str(name: str, value: Optional[str], env: Mapping[str, str], default: Optional[str]) -> Optional[str]:
    """Resolve a string: ``value`` (non-empty), else ``WATTPRINT_<NAME>``, else ``default``."""
    if value is not None:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(name, f"must be a non-empty string, got {value!r}")
        return value
    var = "WATTPRINT_" + name.upper()
    raw = env.get(var)
    if raw is not None and raw != "" and not raw.strip():
        raise ConfigError(var, f"is blank ({raw!r}); unset it or give a value")
    return raw if raw not in (None, "") else default


def setting_bool(name: str, value: Optional[bool], env: Mapping[str, str], default: bool) -> bool:
    """Resolve a flag: ``value``, else ``WATTPRINT_<NAME>`` (1/0, true/false, yes/no, on/off), else ``default``."""
    if value is not None:
        if not isinstance(value, bool):
            raise ConfigError(name, f"must be True or False, got {value!r}")
        return value
    var = "WATTPRINT_" + name.upper()
    raw = env.get(var)
    if raw is None or raw == "":
        return default
    low = raw.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise ConfigError(var, f"must be one of 1/0, true/false, yes/no, on/off, got {raw!r}")
