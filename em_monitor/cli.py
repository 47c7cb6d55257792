"""The ``em-monitor`` command line. Each verb lives in its own module; this file only dispatches.

Heavy imports (torch models, sae-lens) happen inside the verbs, so ``em-monitor --help`` and
``check-config`` answer quickly.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _check_config(args: argparse.Namespace) -> int:
    from em_monitor.config import ConfigError, check_signal_names, load_config
    from em_monitor.packs import PackError, load_pack

    try:
        config = load_config(args.file)
        pack = load_pack(config.pack)
        check_signal_names(config, [signal.name for signal in pack.spec.signals], args.file)
    except (ConfigError, PackError) as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{args.file}: ok (run {config.run!r}, pack {pack.spec.model} layer {config.layer if config.layer is not None else pack.layer}, "
          f"{len(pack.spec.signals)} signals, {len(config.signals)} with alert rules)")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from em_monitor.config import render_schema, schema_path

    if args.write:
        schema_path().write_text(render_schema(), encoding="utf-8")
        print(schema_path())
    else:
        print(render_schema(), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="em-monitor", description="Catch emergent misalignment while a language model fine-tunes.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    check = verbs.add_parser("check-config", help="validate a monitor YAML; print every error with its field path")
    check.add_argument("file", help="monitor config (YAML)")
    check.set_defaults(handler=_check_config)
    schema = verbs.add_parser("schema", help="print the monitor config's JSON Schema (generated from the config model)")
    schema.add_argument("--write", action="store_true", help="rewrite the copy shipped in em_monitor/schema/")
    schema.set_defaults(handler=_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
