"""Module attributes that load on first use (PEP 562), so a light import stays light.

``__getattr__, __dir__ = lazy_attributes(__name__, {"Tracker": "wattprint.run.tracker"}, globals())``
makes ``module.Tracker`` import ``wattprint.run.tracker`` the first time it is read, then caches it
in the module's globals.

Failure modes: a name not in the table raises ``AttributeError`` as usual; an import error of the
target module propagates unchanged.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Dict, List, Mapping, Tuple

__all__ = ["lazy_attributes"]


def lazy_attributes(
    module: str, targets: Mapping[str, str], namespace: Dict[str, Any]
) -> Tuple[Callable[[str], Any], Callable[[], List[str]]]:
    """``(__getattr__, __dir__)`` for ``module``: each name in ``targets`` loads from its module on first use."""

    def __getattr__(name: str) -> Any:
        target = targets.get(name)
        if target is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(target), name)
        namespace[name] = value  # later lookups skip this function
        return value

    def __dir__() -> List[str]:
        return sorted(set(namespace) | set(targets))

    return __getattr__, __dir__
