"""Where a file exporter writes: a fixed path, a folder, or a template."""

from __future__ import annotations

import os
import re
from typing import Any, Union

from wattprint.footprint.model import Footprint

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def resolve_path(path: Union[str, "os.PathLike[str]"], footprint: Footprint, default_name: str) -> str:
    """The file to write for ``footprint``.

    ``path`` may hold ``{run_id}`` and ``{project}`` (made filesystem-safe); a
    path that is an existing folder, or ends with a separator, gets
    ``default_name`` (formatted the same way) appended.
    """
    text = os.fspath(path)
    fields: dict[str, Any] = {
        "run_id": _SAFE.sub("_", str(footprint.get("run_id", "run"))),
        "project": _SAFE.sub("_", str(footprint.get("project", "default"))),
    }
    if text.endswith(("/", os.sep)) or os.path.isdir(text):
        text = os.path.join(text, default_name)
    return os.path.abspath(os.path.expanduser(text.format(**fields)))
