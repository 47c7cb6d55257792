"""The ``em-monitor`` command line. Each verb lives in its own module under ``em_monitor.commands``;
this file only builds the parser and dispatches."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from em_monitor.commands import register_all

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="em-monitor", description="Catch emergent misalignment while a language model fine-tunes.")
    register_all(parser.add_subparsers(dest="verb", required=True, metavar="VERB"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
