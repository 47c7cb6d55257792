"""Read the residual stream at the output of one decoder block, with hooks that always come off.

The output of decoder block ``L`` is what transformers calls ``hidden_states[L + 1]``. Hooks
live in context managers: a handle created before ``try`` and removed in ``finally``, so an
exception inside the forward pass (or inside the training step) never leaves a hook behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress

import torch
from torch import nn

from em_monitor.errors import InputError

__all__ = [
    "CaptureError",
    "ResidualBuffer",
    "decoder_blocks",
    "hidden_size",
    "model_device",
    "capture_residual",
    "check_layer",
    "scoring_mode",
    "residuals_at",
    "residuals_at_layers",
]


class CaptureError(InputError):
    """The model's layout or the requested layer does not allow capture."""


class ResidualBuffer:
    """Holds the most recent activations a capture hook saw (``None`` until a forward pass runs)."""

    def __init__(self) -> None:
        self.activations: torch.Tensor | None = None


class _StopForward(Exception):
    """Raised by a hook to skip the layers above the captured one (their output is not needed)."""


def _model_config(model: nn.Module):
    config = getattr(model, "config", None)
    if config is None:
        # PEFT wrappers and Lightning modules keep the transformers model one level down.
        inner = getattr(model, "get_base_model", None)
        config = getattr(inner(), "config", None) if callable(inner) else None
    if config is None:
        raise CaptureError(f"{type(model).__name__} has no transformers config; pass the Hugging Face model itself")
    # A vision-language model (Gemma 3 from 4B up) keeps the language model's width and depth in its
    # text config; for a text-only model this is the config itself.
    return config.get_text_config()


def hidden_size(model: nn.Module) -> int:
    """The width of the residual stream (``d_model``)."""
    return int(_model_config(model).hidden_size)


def model_device(model: nn.Module) -> torch.device:
    """Where the model's weights live: inputs go there."""
    return next(model.parameters()).device


def decoder_blocks(model: nn.Module) -> nn.ModuleList:
    """Find the list of decoder blocks in a Llama-, GPT-2- or PEFT-wrapped model.

    Rather than hard-coding ``model.layers`` / ``transformer.h`` per family, take the shallowest
    ``ModuleList`` whose length equals the config's layer count: it is the block stack in every
    decoder-only architecture transformers ships, and it survives PEFT/LoRA wrapping. The search
    runs inside the model's language decoder where transformers names one (``get_decoder``), so a
    vision tower of the same depth in a vision-language model is never taken for it.
    """
    config = _model_config(model)
    if getattr(config, "is_encoder_decoder", False) or getattr(getattr(model, "config", None), "is_encoder_decoder", False):
        # Its shallowest block list is the encoder's, which reads the prompt but never writes the answer.
        raise CaptureError(f"{type(model).__name__} is an encoder-decoder model; em-monitor reads the residual stream of "
                           "decoder-only causal LMs (Llama, Mistral, Qwen, Gemma, Phi-3, GPT-2, GPT-NeoX, ...)")
    n_layers = int(config.num_hidden_layers)
    get_decoder = getattr(model, "get_decoder", None)
    decoder = get_decoder() if callable(get_decoder) else None
    root = decoder if isinstance(decoder, nn.Module) else model
    candidates = [
        (name.count("."), name, module)
        for name, module in root.named_modules()
        if isinstance(module, nn.ModuleList) and len(module) == n_layers
    ]
    if not candidates:
        raise CaptureError(f"no ModuleList of {n_layers} decoder blocks found in {type(model).__name__}")
    return min(candidates, key=lambda candidate: candidate[:2])[2]


def _store_hook(buffer: ResidualBuffer, stop: bool) -> Callable:
    """Build a forward hook that stores the block output (first element when it is a tuple)."""

    def hook(_module: nn.Module, _inputs: tuple, output) -> None:
        hidden = output[0] if isinstance(output, tuple) else output
        buffer.activations = hidden.detach()
        if stop:
            raise _StopForward

    return hook


def check_layer(layer: int, n_layers: int, *, field: str = "layer") -> int:
    """``layer`` if the model has that decoder block; else an error naming the setting (``field``) to fix.

    Adapters call it at start-up with the model's depth (``check-config --model`` with the depth
    from the model's config alone), so a wrong layer stops the run before its first step.
    """
    if not 0 <= layer < n_layers:
        raise CaptureError(f"{field}: decoder block {layer} does not exist; this model has blocks 0..{n_layers - 1}: "
                           "choose one of them, or use a pack built for this model")
    return layer


@contextmanager
def capture_residual(model: nn.Module, layer: int, *, stop_after: bool = False) -> Iterator[ResidualBuffer]:
    """Capture block ``layer``'s output on every forward pass inside the ``with`` body.

    With ``stop_after=True`` the forward pass is cut short right after the block: scoring needs
    no logits, and skipping the upper layers roughly halves the cost of a mid-layer probe pass.
    The body must then run the forward inside :func:`residuals_at`, which absorbs the cut.
    """
    blocks = decoder_blocks(model)
    buffer = ResidualBuffer()
    handle = blocks[check_layer(layer, len(blocks))].register_forward_hook(_store_hook(buffer, stop_after))
    try:
        yield buffer
    finally:
        handle.remove()


@contextmanager
def scoring_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode and no autograd for a scoring pass, restoring the model's train/eval mode after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def residuals_at(
    model: nn.Module, layer: int, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, cache=None
) -> torch.Tensor:
    """Run ``model`` on a batch in scoring mode and return block ``layer``'s output ``[batch, tokens, d_model]``.

    With ``cache`` (a transformers ``Cache``), ``input_ids`` continue the positions already in it
    (``attention_mask`` then covers both), and the cache gains this pass's keys and values for
    blocks ``0..layer``: how :mod:`em_monitor.runtime.shared_prefix` runs a prefix once and suffixes on it.
    """
    return residuals_at_layers(model, [layer], input_ids, attention_mask, cache=cache)[layer]


def residuals_at_layers(
    model: nn.Module, layers: Sequence[int], input_ids: torch.Tensor, attention_mask: torch.Tensor, *, cache=None
) -> dict[int, torch.Tensor]:
    """``{layer: [batch, tokens, d_model]}`` for several blocks from one forward pass, cut after the deepest.

    Comparing layers (``build-pack --layers``) then costs one pass, not one per layer.
    """
    device = model_device(model)
    caching = {"use_cache": False} if cache is None else {"past_key_values": cache, "use_cache": True}
    deepest = max(layers)
    with scoring_mode(model), ExitStack() as hooks:
        buffers = {layer: hooks.enter_context(capture_residual(model, layer, stop_after=layer == deepest)) for layer in sorted(set(layers))}
        # The hook on the deepest block cuts the pass short on purpose once the activations are stored.
        with suppress(_StopForward):
            model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device), **caching)
    for layer, buffer in buffers.items():
        if buffer.activations is None:
            raise CaptureError(f"the forward pass never reached decoder block {layer}")
    return {layer: buffer.activations for layer, buffer in buffers.items()}
