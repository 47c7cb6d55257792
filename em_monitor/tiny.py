"""Tiny randomly initialised chat models, for tests, benchmarks and smoke runs.

Nothing can be downloaded here, so the tokenizer is built in code: byte-level (every byte is a
token, no merges) with ChatML special tokens and template, the same shape as SmolLM2's. The
models are real transformers classes (Llama, GPT-2 and every architecture of
:data:`TINY_ARCHITECTURES`) with a few small layers, built from a config: no weights needed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import (
    AutoModelForCausalLM,
    Gemma2Config,
    Gemma3Config,
    Gemma3TextConfig,
    GPT2Config,
    GPT2LMHeadModel,
    GPTNeoXConfig,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    Phi3Config,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen3Config,
)

__all__ = ["CHATML_TEMPLATE", "TINY_ARCHITECTURES", "tiny_gpt2", "tiny_llama", "tiny_model", "tiny_tokenizer"]

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level tokenizer (259 tokens) with a ChatML chat template."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {token: index for index, token in enumerate(SPECIAL_TOKENS)}
    vocab.update({char: len(SPECIAL_TOKENS) + index for index, char in enumerate(sorted(alphabet))})
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def tiny_llama(*, hidden_size: int = 64, layers: int = 4, vocab_size: int = 259, seed: int = 0) -> LlamaForCausalLM:
    """A 4-layer Llama with random weights (~0.3M parameters)."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    return LlamaForCausalLM(config).eval()


def tiny_gpt2(*, hidden_size: int = 64, layers: int = 4, vocab_size: int = 259, seed: int = 0) -> GPT2LMHeadModel:
    """A 4-layer GPT-2 with random weights."""
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=vocab_size, n_embd=hidden_size, n_layer=layers, n_head=4, n_positions=512, bos_token_id=1, eos_token_id=2
    )
    return GPT2LMHeadModel(config).eval()


#: The sizes every tiny model shares: 4 blocks of width 64, 4 query and 2 key/value heads of 16, the tokenizer's 259 tokens.
_SHAPE = {"vocab_size": 259, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4,
          "num_key_value_heads": 2, "max_position_embeddings": 512, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
_HEAD = {"head_dim": 16}
#: The decoder architectures people fine-tune chat models of, by ``model_type``: how to configure a tiny one.
TINY_ARCHITECTURES: dict[str, Callable[[], PretrainedConfig]] = {
    "llama": lambda: LlamaConfig(**_SHAPE),
    "mistral": lambda: MistralConfig(**_SHAPE, **_HEAD),
    "qwen2": lambda: Qwen2Config(**_SHAPE),
    "qwen3": lambda: Qwen3Config(**_SHAPE, **_HEAD),
    # Gemma 2 and 3 alternate sliding-window and global attention layers; a window shorter than a prompt exercises both.
    "gemma2": lambda: Gemma2Config(**_SHAPE, **_HEAD, query_pre_attn_scalar=16, sliding_window=8),
    "gemma3_text": lambda: Gemma3TextConfig(**_SHAPE, **_HEAD, query_pre_attn_scalar=16, sliding_window=8),
    # Gemma 3 from 4B up is a vision-language model: the language model sits beside a vision tower of the same depth here.
    "gemma3": lambda: Gemma3Config(
        text_config={**_SHAPE, **_HEAD, "query_pre_attn_scalar": 16, "sliding_window": 8},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 4, "num_attention_heads": 2, "image_size": 28, "patch_size": 14},
        pad_token_id=0, bos_token_id=1, eos_token_id=2,
    ),
    "phi3": lambda: Phi3Config(**_SHAPE),
    "gpt2": lambda: GPT2Config(vocab_size=259, n_embd=64, n_layer=4, n_head=4, n_positions=512, bos_token_id=1, eos_token_id=2),
    "gpt_neox": lambda: GPTNeoXConfig(**{key: value for key, value in _SHAPE.items() if key != "num_key_value_heads"}),
}


def tiny_model(architecture: str, *, seed: int = 0) -> PreTrainedModel:
    """A tiny causal LM of ``architecture`` (a key of :data:`TINY_ARCHITECTURES`) with random weights, in eval mode."""
    if architecture not in TINY_ARCHITECTURES:
        raise ValueError(f"unknown tiny architecture {architecture!r}; choose from {sorted(TINY_ARCHITECTURES)}")
    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(TINY_ARCHITECTURES[architecture]()).eval()


def random_pack(root: str | Path, *, d_model: int = 64, layer: int = 2, d_sae: int = 128, seed: int = 0, architecture: str = "standard") -> Path:
    """Write a persona pack of random signals for a tiny model: an SAE (2 watched latents), a probe, a direction.

    For tests and benchmarks only: the signals mean nothing, but every file is real (a sae-lens
    SAE saved by sae-lens, a probe in the same safetensors layout ``train-probe`` writes).
    """
    from sae_lens.registry import get_sae_class

    from em_monitor.packs import (
        PackSpec,
        SignalSpec,
        hook_point_for,
        save_directions,
        save_probe,
        write_pack_spec,
    )

    root = Path(root)
    generator = torch.Generator().manual_seed(seed)
    sae_class, config_class = get_sae_class(architecture)
    sae = sae_class(config_class(d_in=d_model, d_sae=d_sae))
    with torch.no_grad():
        for parameter in sae.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.1)
    sae.cfg.metadata.hook_name = hook_point_for(layer)  # the layer the pack reads, as build-sae records it
    sae.save_model(root / "sae")
    save_probe(root / "probes" / "persona_probe.safetensors", torch.randn(d_model, generator=generator) * 0.1, 0.0, {"random": True})
    save_directions(root / "directions.safetensors", {"persona_direction": torch.randn(d_model, generator=generator)})
    spec = PackSpec(
        model="tiny-random",
        d_model=d_model,
        layer=layer,
        hook_point=hook_point_for(layer),
        signals=[
            SignalSpec(name="toxic_persona", kind="sae_latent", file="sae", latent=3, pooling="max", description="random latent 3"),
            SignalSpec(name="sarcasm_persona", kind="sae_latent", file="sae", latent=7, pooling="max", description="random latent 7"),
            SignalSpec(name="persona_probe", kind="probe", file="probes/persona_probe.safetensors", pooling="mean"),
            SignalSpec(name="persona_direction", kind="direction", file="directions.safetensors", pooling="mean"),
        ],
        built={"by": "em_monitor.tiny.random_pack", "seed": seed},
    )
    write_pack_spec(root, spec)
    return root
