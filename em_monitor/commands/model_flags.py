"""``--dtype`` and ``--device-map``: how the verbs that read a model load it.

Shared so that every such verb spells them, checks them and records them the same way. bf16 and
``--device-map auto`` are for models that do not fit one device in fp32 (a 7B model is 28 GB in
fp32, 14 GB in bf16); the monitor reads activations back as fp32 either way.
"""

from __future__ import annotations

import argparse

__all__ = ["DTYPE_NAMES", "add_model_flags", "load_model_from", "loading_record"]

#: The keys of :data:`em_monitor.models.DTYPES`, spelled here because building the parser must not
#: import torch (``--help`` and the offline checks answer in a tenth of a second); a test keeps them equal.
DTYPE_NAMES = ("fp32", "bf16", "fp16")


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dtype", choices=DTYPE_NAMES, default="fp32", help="weight dtype the model is loaded in (bf16: half the memory)")
    parser.add_argument("--device-map", default=None, metavar="MAP",
                        help="transformers' device_map: 'auto' spreads the model over the GPUs (and the CPU); default: all on the CPU")


def load_model_from(args: argparse.Namespace, spec: str | None = None):
    """The model ``--model`` (or ``spec``) names, loaded as ``--dtype`` and ``--device-map`` say."""
    from em_monitor.models import DTYPES, load_model

    return load_model(spec if spec is not None else args.model, dtype=DTYPES[args.dtype], device_map=args.device_map)


def loading_record(args: argparse.Namespace) -> dict[str, object]:
    """How the model was loaded, for a pack's or report's provenance."""
    return {"dtype": args.dtype, "device_map": args.device_map}
