"""``em-monitor check-config FILE [--model M]``: validate everything a run with this config will load.

The config and every file it names (prompt sets, the realignment data), the pack's ``pack.yaml``
and every tensor in it (headers, shapes, dtypes, finite values, files inside the pack, no pickle
files), the event log (writable, and a log em-monitor created if it exists), and with
``--model`` the pack against the model's width and depth, read from the model's config alone
(no weights load). It opens the same loaders the run opens, so "ok" here means the run starts.

Exit codes: 0 valid; 1 invalid (every problem printed, one line each); 2 could not check (the
model's config could not be read, so the layer and width are unchecked).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: The exit code for "the check itself could not be completed", apart from "invalid" (1).
EXIT_INVALID, EXIT_UNCHECKED = 1, 2


def register(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "check-config", help="validate a monitor YAML and everything it loads; print every error with its field path",
        description="Exit 0 when valid, 1 when invalid (each problem on its own line), 2 when the check could not be completed.",
    )
    parser.add_argument("file", help="monitor config (YAML)")
    parser.add_argument("--model", default=None, help="also check the pack's layer and width against this model's config (HF id, path, or smollm2); no weights are loaded")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from em_monitor.config import ConfigError, check_signal_names, load_config
    from em_monitor.errors import InputError
    from em_monitor.models import ModelLoadError, load_model_config
    from em_monitor.packs import load_pack
    from em_monitor.runtime.capture import check_layer
    from em_monitor.runtime.events import check_event_log

    try:
        config = load_config(args.file)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return EXIT_INVALID
    problems: list[str] = []
    pack = None
    try:
        pack = load_pack(config.pack)
        check_signal_names(config, [signal.name for signal in pack.spec.signals], args.file)
        pack.build_signals()  # every tensor of the pack, as the run loads them
    except InputError as error:
        problems.append(str(error))
    if config.event_log is not None:
        try:
            check_event_log(Path(config.event_log))
        except InputError as error:
            problems.append(str(error))
    layer = config.layer if config.layer is not None else (pack.layer if pack is not None else None)
    unchecked = None
    if args.model is not None and pack is not None:
        try:
            model_config = load_model_config(args.model).get_text_config()
            pack.check_width(int(model_config.hidden_size))
            check_layer(layer, int(model_config.num_hidden_layers), field="layer" if config.layer is not None else f"{pack.root / 'pack.yaml'}: layer")
        except InputError as error:
            problems.append(str(error))
        except ModelLoadError as error:
            unchecked = str(error).splitlines()[0]
    if problems:
        print(f"invalid: {args.file}", file=sys.stderr)
        print("\n".join(f"  {problem}" for problem in problems), file=sys.stderr)
        return EXIT_INVALID
    if unchecked is not None:
        print(f"{args.file}: could not check against --model {args.model}: {unchecked}", file=sys.stderr)
        return EXIT_UNCHECKED
    against = f", fits {args.model}" if args.model is not None else " (add --model to check layer and width against the model)"
    print(f"{args.file}: ok (run {config.run!r}, pack {pack.spec.model} layer {layer}, "
          f"{len(pack.spec.signals)} signals, {len(config.signals)} with alert rules{against})")
    return 0
