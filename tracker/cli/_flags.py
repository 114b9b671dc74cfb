"""Flag names for CLI messages: errors name the option the user typed, not the Python argument.

:func:`flag_map` reads a (sub)parser's actions once (``dest`` -> its long option
string, e.g. ``interval_s`` -> ``--interval``); :func:`describe` rewrites a
:class:`~wattprint.errors.ConfigError` with it: the setting in front, and
Python argument names (those with an underscore, ``energy_kwh``) in the text.

Failure modes: none; a setting with no flag (an environment variable such as
``WATTPRINT_PUE``) is left as it is.
"""

from __future__ import annotations

import argparse
import re
from typing import Dict

from wattprint.errors import ConfigError

__all__ = ["flag_map", "describe"]


def flag_map(parser: argparse.ArgumentParser) -> Dict[str, str]:
    """``dest`` -> the long option string (``--interval``) of every optional argument of ``parser``."""
    flags: Dict[str, str] = {}
    for action in parser._actions:  # argparse offers no public accessor
        longs = [o for o in action.option_strings if o.startswith("--")]
        if longs and action.dest not in (argparse.SUPPRESS, "help"):
            flags[action.dest] = longs[0]
    return flags


def describe(err: ConfigError, flags: Dict[str, str]) -> str:
    """The error's message with its setting, and argument names in its text, spelt as flags."""
    setting = flags.get(err.setting, err.setting)
    text = str(err)
    prefix = f"{err.setting}: "
    body = text[len(prefix):] if text.startswith(prefix) else text
    named = {dest: flag for dest, flag in flags.items() if "_" in dest}
    if named:
        pattern = re.compile(r"(?<![\w-])(" + "|".join(re.escape(d) for d in sorted(named, key=len, reverse=True)) + r")(?![\w-])")
        body = pattern.sub(lambda m: named[m.group(1)], body)
    return f"{setting}: {body}"
