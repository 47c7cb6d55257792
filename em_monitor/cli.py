"""The ``em-monitor`` command line. Each verb lives in its own module under ``em_monitor.commands``;
this file only builds the parser and dispatches."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from em_monitor.commands import register_all
from em_monitor.errors import InputError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="em-monitor", description="Catch emergent misalignment while a language model fine-tunes.")
    register_all(parser.add_subparsers(dest="verb", required=True, metavar="VERB"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one verb. Input a user must fix, and files that cannot be read or written, end in one line and exit 1.

    Verbs catch what they expect themselves; this is the net under all of them, so a broken file
    never shows a user a traceback, whichever verb met it.
    """
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (InputError, OSError) as error:
        print(f"em-monitor {args.verb}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
