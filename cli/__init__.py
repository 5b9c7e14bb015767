"""The ``rhip`` command line: a thin click layer over node, hub and the generator."""

from __future__ import annotations

from ._main import main, rhip

__all__ = ["main", "rhip"]
