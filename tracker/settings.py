"""Settings: arguments first, then ``WATTPRINT_*`` environment variables, then defaults.

Every value is checked when the tracker is built; a wrong one raises
:class:`~wattprint.errors.ConfigError` naming the setting (or the variable)
and what is allowed.
"""

from __future__ import annotations

import math
import os
from typing import Any, Mapping, Optional

from wattprint.errors import ConfigError

__all__ = ["setting_float", "setting_str", "setting_bool", "check_output_dir", "DEFAULT_OUTPUT_DIR"]

DEFAULT_OUTPUT_DIR = "wattprint-runs"


def setting_float(
    name: str,
    value: Any,
    env: Mapping[str, str],
    default: Optional[float],
    *,
    minimum: float,
    inclusive: bool = True,
    allow_inf: bool = False,
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
    return v


def setting_str(name: str, value: Optional[str], env: Mapping[str, str], default: Optional[str]) -> Optional[str]:
    if value is not None:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(name, f"must be a non-empty string, got {value!r}")
        return value
    raw = env.get("WATTPRINT_" + name.upper())
    return raw if raw not in (None, "") else default


def setting_bool(name: str, value: Optional[bool], env: Mapping[str, str], default: bool) -> bool:
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
