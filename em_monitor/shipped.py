"""``builtin:NAME``: how configs and flags name what ships inside the package (packs, prompt sets).

One resolver for every kind, so an unknown name fails the same way everywhere: naming the
kind, the name and the choices.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from em_monitor.errors import InputError

__all__ = ["BUILTIN_PREFIX", "SHIPPED_DATA", "is_builtin", "resolve_builtin"]

BUILTIN_PREFIX = "builtin:"
#: Everything the package ships besides code: datasets, prompt sets, the demo thresholds, persona packs.
SHIPPED_DATA = Path(__file__).parent / "data"


def is_builtin(spec: str | Path) -> bool:
    return str(spec).startswith(BUILTIN_PREFIX)


def resolve_builtin(spec: str | Path, shipped: Mapping[str, Path], kind: str) -> Path:
    """The shipped file or folder ``builtin:NAME`` stands for, among ``shipped`` (the ``kind`` named in errors)."""
    name = str(spec).removeprefix(BUILTIN_PREFIX)
    if name not in shipped:
        raise InputError(f"unknown built-in {kind} {name!r}; choose one of {', '.join(f'{BUILTIN_PREFIX}{key}' for key in shipped)} or give a path")
    return shipped[name]
