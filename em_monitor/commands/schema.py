"""``em-monitor schema``: print (or rewrite the shipped copy of) the config's JSON Schema."""

from __future__ import annotations

import argparse


def register(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser("schema", help="print the monitor config's JSON Schema (generated from the config model)")
    parser.add_argument("--write", action="store_true", help="rewrite the copy shipped in em_monitor/schema/")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from em_monitor.config import render_schema, schema_path

    if args.write:
        schema_path().write_text(render_schema(), encoding="utf-8")
        print(schema_path())
    else:
        print(render_schema(), end="")
    return 0
