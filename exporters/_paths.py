"""Where a file exporter writes: a fixed path, a folder, or a template."""

from __future__ import annotations

import os
import re
from typing import Any, Union

from wattprint.errors import ConfigError
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


FIELDS = ("run_id", "project")


def check_template(path: Any) -> Union[str, "os.PathLike[str]"]:
    """``path`` if it is a path or a template using only ``{run_id}`` and ``{project}``; checked when
    the exporter is built, not at the run's end. Raises ``ConfigError`` naming ``path`` otherwise."""
    try:
        text = os.fspath(path)
    except TypeError:
        raise ConfigError("path", f"must be a file or folder path, got {path!r}") from None
    if not text.strip():
        raise ConfigError("path", f"must not be blank, got {text!r}")
    try:
        text.format(**{f: "x" for f in FIELDS})
    except KeyError as err:
        raise ConfigError("path", f"{text!r} uses {{{err.args[0]}}}; a template may use {{run_id}} and {{project}}") from None
    except (ValueError, IndexError) as err:
        raise ConfigError("path", f"{text!r} is not a valid template ({err}); write {{{{ and }}}} for literal braces") from None
    return path
