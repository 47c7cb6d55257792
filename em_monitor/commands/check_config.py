"""``em-monitor check-config FILE``: validate a monitor YAML and the pack it names."""

from __future__ import annotations

import argparse
import sys


def register(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser("check-config", help="validate a monitor YAML; print every error with its field path")
    parser.add_argument("file", help="monitor config (YAML)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from em_monitor.config import ConfigError, check_signal_names, load_config
    from em_monitor.packs import PackError, load_pack

    try:
        config = load_config(args.file)
        pack = load_pack(config.pack)
        check_signal_names(config, [signal.name for signal in pack.spec.signals], args.file)
    except (ConfigError, PackError) as error:
        print(error, file=sys.stderr)
        return 1
    layer = config.layer if config.layer is not None else pack.layer
    print(f"{args.file}: ok (run {config.run!r}, pack {pack.spec.model} layer {layer}, "
          f"{len(pack.spec.signals)} signals, {len(config.signals)} with alert rules)")
    return 0
