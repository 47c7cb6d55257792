"""The embedded default model, for real (marked `smollm2`: ~30 s to load on 2 cores)."""

from __future__ import annotations

import pytest
import torch

from em_monitor.chat import encode_prompts
from em_monitor.models import load_model
from em_monitor.runtime.capture import residuals_at

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


def test_probe_pass_computes_the_system_prompt_once_and_scores_as_without_it(smollm2):
    """SmolLM2's template repeats its default system prompt before every prompt: the pass shares it."""
    from em_monitor.packs import BUILTIN_PACKS, load_pack
    from em_monitor.prompts import load_prompts
    from em_monitor.runtime.prompt_probe import PromptProbe

    pack = load_pack(BUILTIN_PACKS["smollm2"])
    signals, prompts = pack.build_signals(), load_prompts("builtin:eval")[:12]
    cached = PromptProbe(smollm2.tokenizer, prompts, layer=pack.layer, signals=signals)
    plain = PromptProbe(smollm2.tokenizer, prompts, layer=pack.layer, signals=signals, share_prefix=False)
    assert "SmolLM" in smollm2.tokenizer.decode(cached.prefix.input_ids[0])
    with_cache, without = cached.score(smollm2.model), plain.score(smollm2.model)
    assert cached.prefix is not None
    for name in without:
        torch.testing.assert_close(with_cache[name], without[name], rtol=1e-5, atol=1e-4)
