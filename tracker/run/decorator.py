"""``track``: the decorator form of the :class:`~wattprint.Tracker`, and the early settings check.

Failure modes: ``track(...)`` raises :class:`~wattprint.errors.ConfigError` (or
``TypeError`` for an unknown keyword) when decorating, before any call, without
building a Tracker; each call then runs as ``with Tracker(**kwargs):`` does.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable, Mapping, Optional, TypeVar, overload

from wattprint.run.grid_live import resolve_run_factors
from wattprint.settings import TrackerSettings

__all__ = ["track", "check_settings"]

F = TypeVar("F", bound=Callable[..., Any])


def check_settings(*, env: Optional[Mapping[str, str]] = None, **tracker_kwargs: Any) -> TrackerSettings:
    """Check a :class:`Tracker`'s keyword arguments, factors included, without building one.

    Raises:
        ConfigError: a setting out of range, naming it. TypeError: an unknown keyword.
    """
    settings = TrackerSettings.resolve(env=env, **tracker_kwargs)
    resolve_run_factors(env=os.environ if env is None else env, **settings.factor_args)
    return settings


@overload
def track(fn: F) -> F: ...


@overload
def track(fn: None = None, **kwargs: Any) -> Callable[[F], F]: ...


def track(fn: Optional[F] = None, **kwargs: Any) -> Any:
    """Track each call of a function: ``@track`` or ``@track(region="US-VA", ...)``.

    Each call gets a fresh :class:`Tracker` built with ``kwargs`` (settings are
    checked once, when decorating, without building a Tracker). The last call's
    footprint is on ``wrapper.footprint``.
    """
    check_settings(**kwargs)  # check the settings now, at decoration time

    def decorate(func: F) -> F:
        def _wrapper_tracked(*args: Any, **kw: Any) -> Any:
            from wattprint.run.tracker import Tracker  # here: the tracker module imports this one

            tracker = Tracker(**kwargs)
            try:
                with tracker:
                    return func(*args, **kw)
            finally:
                _wrapper_tracked.footprint = tracker.footprint  # type: ignore[attr-defined]

        functools.update_wrapper(_wrapper_tracked, func)
        _wrapper_tracked.footprint = None  # type: ignore[attr-defined]
        return _wrapper_tracked  # type: ignore[return-value]

    return decorate(fn) if fn is not None else decorate
