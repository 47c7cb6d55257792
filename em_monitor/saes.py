"""Load a sae-lens SAE: the one loader every tool uses (monitor, build-pack, diff, train-probe, build-sae).

From a folder in sae-lens's on-disk format, or, as ``sae-lens:RELEASE/SAE_ID``, from a release in
sae-lens's registry through its own ``from_pretrained`` where the Hugging Face hub is reachable.

Why one: the loaders had drifted apart (different dtypes, different errors caught). This one
reads sae-lens's own on-disk format (``cfg.json`` + ``sae_weights.safetensors``), always as
float32 on the CPU (signals move it to the activations' device on first use), and refuses
what would break or silently blind a run: files that are not regular (a FIFO would block),
a ``cfg.json`` with NaN or of the wrong shape (sae-lens raises ``TypeError`` and the like on
those), NaN or infinite weights, and latents that are not finite on a test input.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from em_monitor.errors import InputError
from em_monitor.jsonl import loads_strict
from em_monitor.sae_releases import SaeError, check_release_reachable, is_release, release_parts
from em_monitor.textfiles import read_text

__all__ = ["SAE_FILES", "SaeError", "check_weights", "load_sae", "sae_layer", "sae_read_layer"]

#: The files of a sae-lens SAE folder that loading reads.
SAE_FILES = ("cfg.json", "sae_weights.safetensors")


def check_weights(path: Path, key: str, tensor: torch.Tensor) -> None:
    """A weight must be floating point and finite: NaN or inf would make the signals built on it vanish."""
    if not tensor.is_floating_point():
        raise SaeError(f"{path}: tensor {key!r} has dtype {tensor.dtype}, expected a floating-point type")
    if not bool(torch.isfinite(tensor).all()):
        raise SaeError(f"{path}: tensor {key!r} holds NaN or infinite values")


def _load_release(source: str):
    """A released SAE through sae-lens's ``from_pretrained`` (which checks the release and id against its registry)."""
    check_release_reachable(source)
    release, sae_id = release_parts(source)
    from sae_lens import SAE

    try:
        loaded = SAE.from_pretrained(release, sae_id, device="cpu")
    except Exception as error:  # noqa: BLE001 — an unknown release or id (ValueError), a failed download (OSError, HTTP errors): each means no SAE
        raise SaeError(f"{source}: sae-lens could not load it ({type(error).__name__}: {error})") from error
    sae = loaded[0] if isinstance(loaded, tuple) else loaded
    return sae.to(dtype=torch.float32)


def load_sae(path: str | Path, *, d_model: int | None = None):
    """The SAE in ``path`` (a folder, or ``sae-lens:RELEASE/SAE_ID``) as float32 on the CPU, in eval mode.

    ``d_model`` (if given) must equal its input width.
    """
    if is_release(path):
        return _checked(_load_release(str(path)), str(path), d_model)
    path = Path(path)
    if not path.is_dir():
        raise SaeError(f"{path}: not a folder; give the folder sae-lens (or `em-monitor build-sae`) saved the SAE in")
    for name in SAE_FILES:
        if not (path / name).is_file():
            raise SaeError(f"{path}: no regular file {name}; this is not a sae-lens SAE folder")
    try:
        loads_strict(read_text(path / "cfg.json"))
    except (InputError, ValueError) as error:
        raise SaeError(f"{path / 'cfg.json'}: not a valid SAE config ({error})") from None
    # sae-lens imports wandb and costs seconds: import it only when an SAE is actually loaded.
    from sae_lens import SAE

    try:
        sae = SAE.load_from_disk(path, device="cpu", dtype="float32")
    except Exception as error:  # noqa: BLE001 — sae-lens reports a bad cfg.json as TypeError, KeyError, ...: each means an unusable SAE
        raise SaeError(f"{path}: not a loadable sae-lens SAE ({type(error).__name__}: {error})") from error
    return _checked(sae, path, d_model)


def _checked(sae, path: str | Path, d_model: int | None):
    """Refuse an SAE of the wrong width, with non-finite weights, or whose latents are not finite on a test input."""
    if d_model is not None and int(sae.cfg.d_in) != d_model:
        raise SaeError(f"{path}: SAE d_in={sae.cfg.d_in}, but the residual width here is {d_model}")
    for key, tensor in sae.state_dict().items():
        check_weights(path, key, tensor)
    sae.eval()
    # Finite weights can still give non-finite latents through a broken cfg.json (a NaN scaling, say): try it once.
    with torch.no_grad():
        latents = sae.encode(torch.randn(4, int(sae.cfg.d_in), generator=torch.Generator().manual_seed(0)))
    if not bool(torch.isfinite(latents).all()):
        raise SaeError(f"{path}: the SAE gives NaN or infinite latents on test input (look at its cfg.json)")
    return sae


#: Hook names (``cfg.metadata.hook_name``) of the residual stream after decoder block N: TransformerLens's,
#: em-monitor's own, and Hugging Face module paths (Llama-style, GPT-2, GPT-NeoX).
_AFTER_BLOCK = (r"blocks\.(\d+)\.hook_resid_post", r"blocks\.(\d+)\.output", r"(?:model\.)?layers\.(\d+)(?:\.output)?",
                r"(?:transformer\.)?h\.(\d+)", r"(?:gpt_neox\.)?layers\.(\d+)")
#: TransformerLens's residual stream *before* block N: the output of block N - 1.
_BEFORE_BLOCK = r"blocks\.(\d+)\.hook_resid_pre"


def sae_layer(sae, source: str | Path) -> int | None:
    """The decoder block whose output the SAE reads, from the hook name its config records (None when it records none).

    Raises :class:`SaeError` for a hook point that is not the residual stream between blocks (an
    MLP or attention output, the middle of a block, the embeddings): the monitor reads a block's
    output, and latents learnt elsewhere would read noise there.
    """
    hook = str(getattr(sae.cfg.metadata, "hook_name", None) or "").strip()
    if not hook:
        return None
    for pattern in _AFTER_BLOCK:
        if match := re.fullmatch(pattern, hook):
            return int(match.group(1))
    if (match := re.fullmatch(_BEFORE_BLOCK, hook)) and int(match.group(1)) > 0:
        return int(match.group(1)) - 1
    raise SaeError(f"{source}: the SAE reads {hook!r}, not the residual stream after a decoder block, which is what em-monitor reads; "
                   "use an SAE trained on blocks.N.hook_resid_post (TransformerLens) or model.layers.N (Hugging Face)")


def sae_read_layer(requested: int | None, sae, source: str | Path) -> int | None:
    """The layer to read with this SAE: the one it was trained on, which ``requested`` (``--layer``), if given, must equal."""
    recorded = sae_layer(sae, source)
    if requested is not None and recorded is not None and requested != recorded:
        raise SaeError(f"{source}: the SAE reads decoder block {recorded} ({sae.cfg.metadata.hook_name}), but --layer is {requested}: "
                       f"drop --layer or pass --layer {recorded}")
    return requested if requested is not None else recorded
