"""A test hook on footprint construction: see every footprint the library builds.

    with checking_footprints(lambda fp: validate(fp.to_dict())):
        run_the_code_under_test()

Inside the block, every :class:`~wattprint.Footprint` that library code builds
(the tracker's live, checkpoint and final footprints, the job merge: any
construction from a ``wattprint.*`` module other than the report,
which only re-wraps documents read back from disk, and this package) is passed
to ``check`` right after construction. Footprints built by the caller's own
code (hand-made partial documents) are not checked.

The hook wraps the public constructor, ``Footprint.__init__``, so it holds
whatever module assembles the document. It is process-wide (every thread) and
not re-entrant-safe across overlapping blocks in different threads.

Failure modes: whatever ``check`` raises propagates from the construction
site (so an ``AssertionError`` fails the build, and the test, at once).
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Callable, Iterator

from wattprint.footprint.model import Footprint

__all__ = ["checking_footprints", "UNCHECKED_BUILDERS"]

UNCHECKED_BUILDERS = ("wattprint.report", "wattprint.testing")
"""Module prefixes whose ``Footprint(...)`` calls only re-wrap existing documents."""


def _built_by_library(module: str) -> bool:
    if module != "wattprint" and not module.startswith("wattprint."):
        return False
    return not any(module == p or module.startswith(p + ".") for p in UNCHECKED_BUILDERS)


@contextlib.contextmanager
def checking_footprints(check: Callable[[Footprint], Any]) -> Iterator[None]:
    """Call ``check(footprint)`` on every footprint the library builds inside the block."""
    original = Footprint.__init__

    def checked_init(self: Footprint, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if _built_by_library(str(caller)):
            check(self)

    Footprint.__init__ = checked_init  # type: ignore[method-assign]
    try:
        yield
    finally:
        Footprint.__init__ = original  # type: ignore[method-assign]
