"""The ``wattprint`` command line: the one composition root (it may import every layer and wing)."""

from wattprint.cli.app import main

__all__ = ["main"]
