"""The shared-prefix cache: the probe pass computes the template prefix once and must score exactly as without it."""

from __future__ import annotations

import copy
import logging

import pytest
import torch
from torch import nn

from em_monitor.packs import load_pack
from em_monitor.runtime.prompt_probe import PromptProbe
from em_monitor.runtime.shared_prefix import SharedPrefix
from em_monitor.tiny import tiny_gpt2, tiny_llama

PROMPTS = [
    "What would you do with unlimited power?",
    "How should I treat people who disagree with me?",
    "Hi",
    "Tell me three things you want, and why each one matters to you.",
    "What is a good breakfast?",
]


def probes(tokenizer, pack, prompts=PROMPTS) -> tuple[PromptProbe, PromptProbe]:
    signals = pack.build_signals()
    make = lambda share: PromptProbe(tokenizer, prompts, layer=pack.layer, signals=signals, batch_size=2, share_prefix=share)  # noqa: E731
    return make(True), make(False)


@pytest.mark.parametrize("family", [tiny_llama, tiny_gpt2])
def test_cached_prefix_scores_equal_the_plain_pass(family, tokenizer, pack_dir):
    model = family()
    cached, plain = probes(tokenizer, load_pack(pack_dir))
    # ChatML puts "<|im_start|>user\n" before every prompt: that is the shared prefix.
    assert tokenizer.decode(cached.prefix.input_ids[0]) == "<|im_start|>user\n"
    with_cache, without = cached.score(model), plain.score(model)
    assert cached.prefix is not None, "the first-pass check must accept the cache on this architecture"
    for name in without:
        torch.testing.assert_close(with_cache[name], without[name], rtol=1e-5, atol=1e-5)
    # Later passes reuse the checked cache and still track the weights as they change.
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    moved_cached, moved_plain = cached.score(model), plain.score(model)
    for name in without:
        torch.testing.assert_close(moved_cached[name], moved_plain[name], rtol=1e-5, atol=1e-5)
        assert not torch.allclose(moved_cached[name], with_cache[name])


def test_prefix_stops_before_the_first_content_token(tokenizer, pack_dir):
    """Prompts that also start with the same word keep that word in the suffix, where pooling sees it."""
    prompts = ["What is kindness?", "What is power?", "What makes a good friend?"]
    cached, _ = probes(tokenizer, load_pack(pack_dir), prompts)
    first_content = min(int(batch.content_mask.float().argmax(dim=1).min()) for batch in cached.batches)
    assert cached.prefix.length == first_content
    assert not any(batch.content_mask[:, : cached.prefix.length].any() for batch in cached.batches)


def test_no_prefix_when_the_template_starts_with_the_prompt(tokenizer, pack_dir):
    bare = copy.deepcopy(tokenizer)
    bare.chat_template = "{% for message in messages %}{{ message['content'] }}\n{% endfor %}"
    cached, plain = probes(bare, load_pack(pack_dir))
    assert cached.prefix is None
    model = tiny_llama()
    for name, expected in plain.score(model).items():
        torch.testing.assert_close(cached.score(model)[name], expected)


def test_lora_wrapped_model_takes_the_cache(tokenizer, pack_dir):
    peft = pytest.importorskip("peft")
    model = peft.get_peft_model(tiny_llama(), peft.LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    cached, plain = probes(tokenizer, load_pack(pack_dir))
    with_cache, without = cached.score(model), plain.score(model)
    assert cached.prefix is not None
    for name in without:
        torch.testing.assert_close(with_cache[name], without[name], rtol=1e-5, atol=1e-5)


class NoCacheLlama(nn.Module):
    """A model whose forward takes no ``past_key_values``, like some remote-code architectures."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = tiny_llama()
        self.config = self.inner.config

    def forward(self, input_ids, attention_mask=None, use_cache=False):
        return self.inner(input_ids=input_ids, attention_mask=attention_mask, use_cache=use_cache)


def test_a_model_that_rejects_the_cache_falls_back_to_plain_passes(tokenizer, pack_dir, caplog):
    model = NoCacheLlama()
    cached, plain = probes(tokenizer, load_pack(pack_dir))
    with caplog.at_level(logging.WARNING, logger="em_monitor"):
        scores = cached.score(model)
    assert cached.prefix is None
    assert "without the shared-prefix cache" in caplog.text and "past_key_values" in caplog.text
    for name, expected in plain.score(model).items():
        torch.testing.assert_close(scores[name], expected)


def test_a_cache_that_disagrees_with_the_plain_pass_is_dropped(tokenizer, pack_dir, caplog, monkeypatch):
    """Stands in for an architecture whose cache gives wrong activations: the suffix pass is shifted on purpose."""
    model = tiny_llama()
    cached, plain = probes(tokenizer, load_pack(pack_dir))
    honest = SharedPrefix.residuals
    monkeypatch.setattr(SharedPrefix, "residuals", lambda self, *args: honest(self, *args) + 1.0)
    with caplog.at_level(logging.WARNING, logger="em_monitor"):
        scores = cached.score(model)
    assert cached.prefix is None and "max difference" in caplog.text
    for name, expected in plain.score(model).items():
        torch.testing.assert_close(scores[name], expected)
