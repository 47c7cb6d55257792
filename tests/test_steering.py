"""Steering hooks and the `steer` verb on tiny models: the residual moves by exactly the vector, and the hook comes off."""

from __future__ import annotations

import json

import pytest
import torch

from em_monitor.chat import encode_prompts
from em_monitor.cli import main
from em_monitor.models import load_model
from em_monitor.offline.steering import content_norm, steering
from em_monitor.packs import PackError, load_pack
from em_monitor.runtime.capture import decoder_blocks, residuals_at
from em_monitor.runtime.generation import generate_answers
from em_monitor.tiny import tiny_gpt2, tiny_llama

PROMPTS = ["What would you do with power?", "How do you feel about people?"]


@pytest.mark.parametrize("family", [tiny_llama, tiny_gpt2])
def test_steered_block_output_moves_by_exactly_the_vector(family, tokenizer):
    model = family()
    batch = encode_prompts(tokenizer, PROMPTS)
    vector = torch.randn(model.config.hidden_size)
    plain = residuals_at(model, 1, batch.input_ids, batch.attention_mask)
    with steering(model, 1, vector):
        steered = residuals_at(model, 1, batch.input_ids, batch.attention_mask)
        above = residuals_at(model, 3, batch.input_ids, batch.attention_mask)
    torch.testing.assert_close(steered - plain, vector.expand_as(plain), rtol=0, atol=1e-5)
    # Later blocks compute on the steered stream; without the hook they are back to normal.
    assert not torch.allclose(above, residuals_at(model, 3, batch.input_ids, batch.attention_mask))
    assert all(not block._forward_hooks for block in decoder_blocks(model))


def test_the_hook_comes_off_when_the_body_raises(tokenizer):
    model = tiny_llama()
    with pytest.raises(RuntimeError, match="planted"):
        with steering(model, 2, torch.ones(model.config.hidden_size)):
            assert decoder_blocks(model)[2]._forward_hooks
            raise RuntimeError("planted")
    assert not decoder_blocks(model)[2]._forward_hooks


def test_zero_vector_leaves_the_logits_unchanged(tokenizer):
    model = tiny_llama()
    batch = encode_prompts(tokenizer, PROMPTS)
    with torch.no_grad():
        plain = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
        with steering(model, 1, torch.zeros(model.config.hidden_size)):
            zero = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    torch.testing.assert_close(zero, plain)


def test_content_norm_measures_content_tokens_only(tokenizer):
    model = tiny_llama()
    batch = encode_prompts(tokenizer, PROMPTS)
    activations = residuals_at(model, 1, batch.input_ids, batch.attention_mask)
    expected = activations[batch.content_mask].norm(dim=-1).mean()
    assert content_norm(model, tokenizer, PROMPTS, 1) == pytest.approx(float(expected))


def test_pack_steering_vectors_per_signal_kind(pack_dir):
    from safetensors.torch import load_file

    pack = load_pack(pack_dir)
    sae = load_file(str(pack_dir / "sae" / "sae_weights.safetensors"))
    torch.testing.assert_close(pack.steering_vector("toxic_persona"), sae["W_dec"][3])  # random_pack watches latent 3
    torch.testing.assert_close(pack.steering_vector("persona_probe"), load_file(str(pack_dir / "probes" / "persona_probe.safetensors"))["coef"])
    torch.testing.assert_close(pack.steering_vector("persona_direction"), load_file(str(pack_dir / "directions.safetensors"))["persona_direction"])
    with pytest.raises(PackError, match="no signal 'nope'"):
        pack.steering_vector("nope")


def test_steer_verb_writes_a_row_per_coefficient(tiny_model_dir, pack_dir, tmp_path, capsys):
    out = tmp_path / "steer"
    code = main(["steer", "--model", str(tiny_model_dir), "--pack", str(pack_dir), "--signal", "persona_direction",
                 "--coefficients", "-2", "0", "2", "--prompts", "4", "--max-new-tokens", "6", "--judge", "none", "--out", str(out)])
    assert code == 0
    report = json.loads((out / "steer.json").read_text())
    assert [row["coefficient"] for row in report["rows"]] == [-2.0, 0.0, 2.0]
    assert report["unit_norm"] > 0 and len(report["prompts"]) == 4
    # Coefficient 0 is the unsteered model; a strong push changes what it says.
    loaded = load_model(str(tiny_model_dir))
    plain = generate_answers(loaded.model, loaded.tokenizer, [[{"role": "user", "content": p}] for p in report["prompts"]], max_new_tokens=6)
    answers = {row["coefficient"]: [entry["answer"] for entry in row["answers"]] for row in report["rows"]}
    assert answers[0.0] == [answer.strip() for answer in plain]
    assert [entry["prompt"] for entry in report["rows"][0]["answers"]] == report["prompts"]
    assert answers[2.0] != answers[0.0]
    assert set(report["rows"][1]["signal_means"]) == set(load_pack(pack_dir).build_signals().names)
    assert (out / "steer.png").stat().st_size > 10_000
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["signal"] == "persona_direction"


def test_steer_verb_names_an_unknown_signal(pack_dir, tmp_path, capsys):
    assert main(["steer", "--model", "unused", "--pack", str(pack_dir), "--signal", "nope", "--out", str(tmp_path)]) == 1
    assert "no signal 'nope'" in capsys.readouterr().err


def test_steer_check_records_evidence_for_every_latent_of_a_built_pack(tiny_model_dir, pack_copy, tmp_path, capsys):
    before = load_pack(pack_copy).spec
    out = tmp_path / "check"
    code = main(["steer", "--check", "--record", "--check-coefficient", "2", "--model", str(tiny_model_dir), "--pack", str(pack_copy),
                 "--prompts", "3", "--max-new-tokens", "5", "--judge", "none", "--out", str(out)])
    assert code == 0
    latents = [spec.name for spec in before.signals if spec.kind == "sae_latent"]
    report = json.loads((out / "steer-check.json").read_text())
    assert sorted(report["signals"]) == sorted(latents)
    after = load_pack(pack_copy).spec
    for spec in after.signals:
        if spec.kind != "sae_latent":
            assert spec.steering is None
            continue
        evidence = report["signals"][spec.name]
        assert spec.steering is not None and spec.steering.model_dump() == evidence
        # No judge: the pack's probe decides, as at build time (no verdict when steering left no answer tokens to read).
        steered, unsteered = evidence["probe_steered"], evidence["probe_unsteered"]
        assert evidence["moved"] == (steered is not None and steered > unsteered)
        assert evidence["probe_unsteered"] == report["signals"][latents[0]]["probe_unsteered"]  # one unsteered pass for all
    # Nothing else in the pack changed: same signals, same baselines, and the command that measured it.
    assert [s.model_dump(exclude={"steering"}) for s in after.signals] == [s.model_dump(exclude={"steering"}) for s in before.signals]
    assert after.built["steering_recorded_by"].startswith("em-monitor steer --check --record --model ")
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["recorded"] == str(pack_copy)


def test_steer_record_without_check_is_refused_before_loading_anything(pack_dir, tmp_path, capsys):
    assert main(["steer", "--record", "--model", "unused", "--pack", str(pack_dir), "--out", str(tmp_path)]) == 1
    assert "--record only goes with --check" in capsys.readouterr().err


def test_steer_check_names_a_pack_without_latents_before_loading_the_model(pack_copy, tmp_path, capsys):
    import yaml

    spec = yaml.safe_load((pack_copy / "pack.yaml").read_text())
    spec["signals"] = [signal for signal in spec["signals"] if signal["kind"] != "sae_latent"]
    (pack_copy / "pack.yaml").write_text(yaml.safe_dump(spec))
    assert main(["steer", "--check", "--model", "unused", "--pack", str(pack_copy), "--out", str(tmp_path / "out")]) == 1
    assert "no SAE-latent signals to check by steering" in capsys.readouterr().err
