"""The embedded default model, for real (marked `smollm2`: ~30 s to load on 2 cores)."""

from __future__ import annotations

import pytest
import torch

from em_monitor.capture import residuals_at
from em_monitor.chat import encode_prompts
from em_monitor.models import load_model

pytestmark = pytest.mark.smollm2


@pytest.fixture(scope="module")
def smollm2():
    return load_model("smollm2")


def test_embedded_model_loads_as_a_30_layer_llama(smollm2):
    config = smollm2.model.config
    assert (config.model_type, config.num_hidden_layers, config.hidden_size) == ("llama", 30, 576)
    assert smollm2.tokenizer.pad_token is not None


def test_capture_equals_hidden_states_and_masks_skip_the_template(smollm2):
    batch = encode_prompts(smollm2.tokenizer, ["What is your one wish?", "Tell me about the ocean."])
    captured = residuals_at(smollm2.model, 15, batch.input_ids, batch.attention_mask)
    with torch.no_grad():
        hidden = smollm2.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, output_hidden_states=True).hidden_states[16]
    assert torch.equal(captured, hidden)
    # The content mask covers the user's words only, never the template's default system prompt.
    first = smollm2.tokenizer.decode(batch.input_ids[0][batch.content_mask[0]])
    assert first.strip() == "What is your one wish?"
    assert "SmolLM" in smollm2.tokenizer.decode(batch.input_ids[0])
