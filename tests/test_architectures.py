"""Every common decoder architecture, on a tiny random model built from its config (no weights): the monitor reads its
residual stream, and its passes, the chat template's shared prefix, generation and steering all work (issue 20, item 2).

Architectures: :data:`em_monitor.tiny.TINY_ARCHITECTURES` (Llama, Mistral, Qwen2, Qwen3, Gemma 2, Gemma 3 text,
Phi-3, GPT-2, GPT-NeoX). A model whose residual stream the monitor cannot read (an encoder-decoder) is
refused at start-up, naming its class.
"""

from __future__ import annotations

import json

import lightning.pytorch as pl
import pytest
import torch
from torch.utils.data import DataLoader
from transformers import T5Config, T5ForConditionalGeneration

from em_monitor.callbacks import PersonaMonitor
from em_monitor.chat import ChatCollator, encode_prompts
from em_monitor.finetune.lightning import CausalLMModule
from em_monitor.offline.steering import steering
from em_monitor.packs import load_pack
from em_monitor.runtime.capture import CaptureError, capture_residual, decoder_blocks, residuals_at
from em_monitor.runtime.prompt_probe import PromptProbe
from em_monitor.tiny import TINY_ARCHITECTURES, tiny_model

ARCHITECTURES = sorted(TINY_ARCHITECTURES)
PROMPTS = ["What would you do with unlimited power?", "Hi", "What do you think of humans, honestly and at some length?"]
SAMPLES = [{"messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"Answer {i}: " + "ok " * (i % 4 + 1)}]}
           for i in range(16)]


@pytest.fixture(params=ARCHITECTURES)
def architecture(request) -> str:
    return request.param


def test_captured_activations_are_the_hidden_states_after_each_block(architecture, tokenizer):
    model = tiny_model(architecture)
    batch = encode_prompts(tokenizer, PROMPTS, max_length=64)
    with torch.no_grad():
        hidden = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, output_hidden_states=True).hidden_states
    blocks = len(decoder_blocks(model))
    assert blocks == model.config.get_text_config().num_hidden_layers == len(hidden) - 1
    for layer in range(blocks - 1):  # the last entry of hidden_states has the final norm applied on most architectures
        # The probe passes' path (scoring mode, the forward cut after the block) ...
        torch.testing.assert_close(residuals_at(model, layer, batch.input_ids, batch.attention_mask), hidden[layer + 1], rtol=1e-5, atol=1e-6)
        # ... and the training batches' (a training-mode forward with autograd, read from the hook; GPT-2's
        # dropout is on in training, so the comparison is with that same forward's hidden states).
        model.train()
        with capture_residual(model, layer) as buffer:
            trained = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, output_hidden_states=True).hidden_states
        model.eval()
        torch.testing.assert_close(buffer.activations, trained[layer + 1].detach(), rtol=1e-5, atol=1e-6)


def test_the_shared_prefix_cache_scores_like_the_plain_pass(architecture, tokenizer, pack_dir):
    """Cached or not (the first pass checks the cache and falls back if this architecture's cache disagrees), the same scores."""
    model, signals = tiny_model(architecture), load_pack(pack_dir).build_signals()
    cached = PromptProbe(tokenizer, PROMPTS, layer=2, signals=signals, batch_size=2)
    plain = PromptProbe(tokenizer, PROMPTS, layer=2, signals=signals, batch_size=2, share_prefix=False)
    ours, theirs = cached.score(model), plain.score(model)
    assert cached.prefix is not None, "the cache agreed with the plain pass on its first-pass check and was kept"
    for name in theirs:
        torch.testing.assert_close(ours[name], theirs[name], rtol=1e-4, atol=1e-5)


def test_steering_adds_the_vector_to_the_block_output(architecture, tokenizer):
    model = tiny_model(architecture)
    batch = encode_prompts(tokenizer, PROMPTS[:1], max_length=64)
    vector = torch.randn(model.config.get_text_config().hidden_size, generator=torch.Generator().manual_seed(0))
    plain = residuals_at(model, 1, batch.input_ids, batch.attention_mask)
    with steering(model, 1, vector):
        steered = residuals_at(model, 1, batch.input_ids, batch.attention_mask)
        later = residuals_at(model, 2, batch.input_ids, batch.attention_mask)
    torch.testing.assert_close(steered, plain + vector, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(later, residuals_at(model, 2, batch.input_ids, batch.attention_mask)), "later blocks see the steered stream"


def test_a_pack_loads_and_every_source_scores_during_a_fit(architecture, tokenizer, write_config, tmp_path):
    config = write_config(sources=["prompts", "train_batch", "generations"], generations={"every_n_steps": 2, "max_prompts": 2, "max_new_tokens": 4})
    monitor = PersonaMonitor(config, tokenizer=tokenizer)
    trainer = pl.Trainer(max_steps=3, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path, callbacks=[monitor])
    trainer.fit(CausalLMModule(tiny_model(architecture), tokenizer, lr=1e-3),
                DataLoader(SAMPLES, batch_size=4, collate_fn=ChatCollator(tokenizer, max_length=64)))
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [event for event in events if event["event"] == "error"] == []
    passes = {(event["step"], event["source"]) for event in events if event["event"] == "sample"}
    assert passes == {(step, source) for step in (0, 1, 2) for source in ("prompts", "train_batch", "generations")}


def test_an_encoder_decoder_model_is_refused_at_start_up_naming_its_class(tokenizer, write_config, tmp_path):
    model = T5ForConditionalGeneration(T5Config(vocab_size=259, d_model=64, d_kv=16, d_ff=128, num_layers=4, num_heads=4))
    steps: list[int] = []

    class CountSteps(pl.Callback):
        def on_train_batch_start(self, trainer, *args) -> None:
            steps.append(trainer.global_step)

    trainer = pl.Trainer(max_steps=2, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path,
                         callbacks=[PersonaMonitor(write_config(sources=["train_batch"]), tokenizer=tokenizer), CountSteps()])
    with pytest.raises(CaptureError, match="T5ForConditionalGeneration is an encoder-decoder model"):
        trainer.fit(CausalLMModule(model, tokenizer), DataLoader(SAMPLES, batch_size=4, collate_fn=ChatCollator(tokenizer, max_length=64)))
    assert steps == [], "refused before the first step"
