"""Before a command does any work: its outputs can be written, and none of them overwrites an input.

Why up front: scoring a dataset or training an SAE takes minutes to hours; finding out after
that the output folder is read-only wastes all of it, and writing the scores over the dataset
they came from (``audit --data X --out X``) destroys the user's data while exiting 0.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from em_monitor.errors import InputError

__all__ = ["Output", "OutputError", "check_outputs"]


class OutputError(InputError):
    """An output path is unusable, or would overwrite an input; the message names both flags."""


@dataclass(frozen=True)
class Output:
    """One thing a command writes: a file, or a folder it fills (``directory=True``)."""

    flag: str
    path: Path
    directory: bool = False


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def _clash(output: Output, target: Path, source: Path) -> str | None:
    """How writing ``output`` (resolved to ``target``) meets the input at ``source``, or None when it cannot touch it."""
    if target == source:
        return "is the same path as"
    if source.is_dir() and _inside(target, source):
        return "lies inside"
    if output.directory and _inside(source, target):
        return "is a folder that holds"
    return None


def _check_writable(output: Output, target: Path) -> None:
    """The output can be created: probe with a scratch file in the deepest folder that exists (root ignores permission bits).

    Nothing is left behind: folders the command will create are not created here.
    """
    if target.exists() and output.directory != target.is_dir():
        raise OutputError(f"{output.flag} {output.path}: exists and is {'a file' if output.directory else 'a folder'}; "
                          f"give {'a folder' if output.directory else 'a file'} path")
    folder = target if output.directory else target.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(f"{output.flag} {output.path}: {folder} is a file, so no folder can be made there; choose another path")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".em-monitor-write-check-"):
            pass
        if not output.directory and target.exists() and not os.access(target, os.W_OK):
            raise PermissionError(13, "the file is read-only")
    except OSError as error:
        raise OutputError(f"{output.flag} {output.path}: cannot write there ({error.strerror or error}); choose a writable location") from None


def check_outputs(outputs: Sequence[Output], inputs: Iterable[tuple[str, str | Path | None]]) -> None:
    """Refuse an output that is, contains or lies inside an input, or that cannot be written.

    ``inputs`` are ``(flag, path)`` pairs; paths that do not exist on disk (a hub model id,
    ``builtin:...``, an unset option) cannot be overwritten and are skipped. Links are resolved,
    so a symlink to the dataset is the dataset.
    """
    existing = [(flag, Path(path).resolve()) for flag, path in inputs if path is not None and Path(path).exists()]
    for output in outputs:
        target = output.path.resolve()
        for flag, source in existing:
            reason = _clash(output, target, source)
            if reason is not None:
                raise OutputError(f"{output.flag} {output.path} {reason} {flag} {source}: writing there could destroy an input; "
                                  f"choose another {output.flag}")
        _check_writable(output, target)
