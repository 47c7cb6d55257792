"""Read the text files users hand em-monitor (configs, packs' YAML, JSONL, prompts) strictly.

Why strictly: a monitor whose config is half-read is worse than none. A file that is not UTF-8
fails with one line naming the file and the encoding it looks like (not a ``UnicodeDecodeError``
traceback); a YAML mapping that repeats a key fails instead of silently keeping the last block
(PyYAML's default); and a YAML document whose aliases expand into millions of nodes fails
before anything walks it, instead of hanging the validator.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from em_monitor.errors import InputError

__all__ = ["MAX_YAML_NODES", "TextFileError", "decode_text", "load_yaml", "read_text"]

#: The most nodes a YAML document may expand to (aliases counted each time they are used); configs and packs hold a few hundred.
MAX_YAML_NODES = 100_000


class TextFileError(InputError):
    """A text file cannot be read as the format it should be; the message starts with the file's path."""


def decode_text(data: bytes, source: str) -> str:
    """``data`` as UTF-8 (a leading BOM dropped), or a one-line error naming ``source`` and what the bytes look like."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise TextFileError(
            f"{source}: not UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}; the file looks like {_guess_encoding(data)}); "
            "save it as UTF-8, e.g. `iconv -f ENCODING -t UTF-8`"
        ) from None


def _guess_encoding(data: bytes) -> str:
    """A best guess at the encoding, for the error message only (charset-normalizer does the guessing)."""
    from charset_normalizer import from_bytes

    match = from_bytes(data[:65536]).best()
    return match.encoding.replace("_", "-").upper() if match is not None else "binary data, not text"


def read_text(path: str | Path) -> str:
    """The contents of a UTF-8 text file; an unreadable or undecodable file raises :class:`TextFileError` naming it."""
    path = Path(path)
    if path.exists() and not path.is_file():
        # A FIFO or a device would block or never end: only regular files (or links to them) are read.
        raise TextFileError(f"{path}: not a regular file; give the path of a file")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TextFileError(f"{path}: cannot read it ({error.strerror or error})") from None
    return decode_text(data, str(path))


class _StrictSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` (no tags run) that refuses a key repeated in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[object, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) or key is None:
                if key in seen:
                    first = seen[key].start_mark.line + 1
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} appears twice in one mapping (first on line {first}); keep one of them", key_node.start_mark
                    )
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node: yaml.Node, budget: int) -> int:
    """Nodes the document expands to, aliases counted each time; stops counting once past ``budget``."""
    count, stack = 0, [node]
    while stack and count <= budget:
        current = stack.pop()
        count += 1
        if isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
        elif isinstance(current, yaml.MappingNode):
            stack.extend(item for pair in current.value for item in pair)
    return count


def load_yaml(text: str, source: str) -> object:
    """Parse one YAML document safely and strictly; every problem is a :class:`TextFileError` naming ``source`` and the line."""
    loader: _StrictSafeLoader | None = None
    try:
        loader = _StrictSafeLoader(text)  # the reader already refuses control characters here
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, MAX_YAML_NODES) > MAX_YAML_NODES:
            raise TextFileError(f"{source}: the document expands to more than {MAX_YAML_NODES:,} values (aliases repeated); write it out plainly")
        return loader.construct_document(node)
    except yaml.reader.ReaderError as error:
        raise TextFileError(f"{source}: character {error.character:#06x} at offset {error.position} is not allowed in YAML; remove it") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise TextFileError(f"{source}: {where}not valid YAML ({problem})") from None
    except RecursionError:
        raise TextFileError(f"{source}: nested too deeply to be a config; flatten it") from None
    finally:
        if loader is not None:
            loader.dispose()
