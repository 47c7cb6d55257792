"""Capture reads exactly hidden_states[L + 1] and never leaves a hook behind."""

import pytest
import torch
from conftest import PROMPTS

from em_monitor.chat import encode_prompts
from em_monitor.runtime.capture import (
    CaptureError,
    capture_residual,
    decoder_blocks,
    residuals_at,
)
from em_monitor.tiny import tiny_gpt2, tiny_llama


def _hook_count(model: torch.nn.Module) -> int:
    """Forward hooks on the decoder blocks (transformers keeps hooks of its own elsewhere)."""
    return sum(len(block._forward_hooks) for block in decoder_blocks(model))


@pytest.mark.parametrize("build", [tiny_llama, tiny_gpt2], ids=["llama", "gpt2"])
@pytest.mark.parametrize("layer", [0, 2, 3])
def test_captured_equals_output_hidden_states(build, layer, tokenizer):
    model = build()
    batch = encode_prompts(tokenizer, PROMPTS)
    with torch.no_grad():
        hidden = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, output_hidden_states=True).hidden_states
    hooks_before = _hook_count(model)  # transformers leaves hooks of its own after output_hidden_states
    captured = residuals_at(model, layer, batch.input_ids, batch.attention_mask)
    assert _hook_count(model) == hooks_before
    if layer == model.config.num_hidden_layers - 1:
        # transformers applies the final norm to the last hidden state; the block output is pre-norm.
        assert not torch.equal(captured, hidden[layer + 1])
    else:
        assert torch.equal(captured, hidden[layer + 1])


def test_capture_during_a_training_forward_keeps_the_graph(llama, tokenizer):
    batch = encode_prompts(tokenizer, PROMPTS)
    llama.train()
    with capture_residual(llama, 1) as buffer:
        output = llama(input_ids=batch.input_ids, attention_mask=batch.attention_mask, labels=batch.input_ids)
    output.loss.backward()
    assert buffer.activations is not None and not buffer.activations.requires_grad
    assert llama.model.layers[0].self_attn.q_proj.weight.grad is not None
    assert _hook_count(llama) == 0


def test_hook_removed_when_the_body_raises(llama):
    with pytest.raises(RuntimeError, match="boom"):
        with capture_residual(llama, 1):
            raise RuntimeError("boom")
    assert _hook_count(llama) == 0


def test_scoring_restores_train_mode(llama, tokenizer):
    llama.train()
    batch = encode_prompts(tokenizer, PROMPTS[:2])
    residuals_at(llama, 1, batch.input_ids, batch.attention_mask)
    assert llama.training


def test_layer_out_of_range_names_the_valid_range(llama):
    with pytest.raises(CaptureError, match=r"0\.\.3"):
        with capture_residual(llama, 4):
            pass


def test_peft_lora_wrapped_model(tokenizer):
    peft = pytest.importorskip("peft")
    base = tiny_llama()
    reference = tiny_llama()
    wrapped = peft.get_peft_model(base, peft.LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    assert decoder_blocks(wrapped) is base.model.layers
    batch = encode_prompts(tokenizer, PROMPTS)
    captured = residuals_at(wrapped, 1, batch.input_ids, batch.attention_mask)
    with torch.no_grad():
        hidden = wrapped(input_ids=batch.input_ids, attention_mask=batch.attention_mask, output_hidden_states=True).hidden_states
        plain = residuals_at(reference, 1, batch.input_ids, batch.attention_mask)
    assert torch.equal(captured, hidden[2])
    # The LoRA adapters are live in the captured pass (non-zero init), so it differs from the bare model.
    assert not torch.allclose(captured, plain)
