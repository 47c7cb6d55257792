"""The ``em-monitor`` command line. Each verb lives in its own module under ``em_monitor.commands``;
this file only builds the parser and dispatches."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from em_monitor.commands import register_all
from em_monitor.errors import InputError

__all__ = ["build_parser", "main"]


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``verb`` (the verb the command line names), only that verb's flags are registered."""
    parser = argparse.ArgumentParser(prog="em-monitor", description="Catch emergent misalignment while a language model fine-tunes.")
    register_all(parser.add_subparsers(dest="verb", required=True, metavar="VERB"), only=verb)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one verb. Input a user must fix, and files that cannot be read or written, end in one line and exit 1.

    Verbs catch what they expect themselves; this is the net under all of them, so a broken file
    never shows a user a traceback, whichever verb met it.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv[0] if argv and not argv[0].startswith("-") else None).parse_args(argv)
    try:
        return args.handler(args)
    except (InputError, OSError) as error:
        print(f"em-monitor {args.verb}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
