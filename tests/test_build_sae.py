"""build-sae: sae-lens training on a tiny random Llama, saved SAEs that take raw residuals, the report, the CLI."""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch

from em_monitor.cli import main
from em_monitor.offline.sae_training import (
    REPORT_FILENAME,
    Corpus,
    SaeTrainingConfig,
    collect_activations,
    evaluate_sae,
    load_corpus,
    pydoc_paragraphs,
    train_sae,
)
from em_monitor.runtime.signals import SaeLatentSignal

LAYER = 2


@pytest.fixture(scope="module")
def split(tokenizer):
    from em_monitor.tiny import tiny_llama

    corpus = Corpus(texts=pydoc_paragraphs()[:400])
    return collect_activations(tiny_llama(), tokenizer, LAYER, corpus, SaeTrainingConfig(tokens=12_000, max_length=128))


def _trained_and_saved(split, tmp_path, architecture: str, steps: int, **sparsity):
    from sae_lens import SAE

    config = SaeTrainingConfig(architecture=architecture, expansion=4, steps=steps, batch_size=256, lr=1e-3, **sparsity)
    trained = train_sae(split.train, config)
    path = tmp_path / f"{architecture}-{steps}"
    trained.sae.save_inference_model(path)
    return trained, SAE.load_from_disk(path, device="cpu")


def test_collection_drops_the_attention_sink_and_holds_out_documents(tokenizer, llama):
    texts = [f"paragraph number {i} about nothing in particular" for i in range(20)]
    split = collect_activations(llama, tokenizer, 1, Corpus(texts=texts), SaeTrainingConfig(tokens=10_000))
    # Byte-level tokenizer: one token per byte, minus each document's first position.
    assert split.train.shape[0] + split.heldout.shape[0] == sum(len(text.encode()) - 1 for text in texts)
    assert split.documents == 20
    assert split.heldout.shape[0] > 0  # one whole document (5 % of 20)


@pytest.mark.parametrize(("architecture", "sparsity"), [("standard", {"l1": 2.0}), ("jumprelu", {"l0_target": 32.0})])
def test_trained_sae_takes_raw_residuals_and_beats_untrained(split, tmp_path, architecture, sparsity):
    untrained, untrained_saved = _trained_and_saved(split, tmp_path, architecture, 0, **sparsity)
    trained, saved = _trained_and_saved(split, tmp_path, architecture, 150, **sparsity)
    assert saved.cfg.architecture() == architecture
    assert saved.cfg.normalize_activations == "none"
    # The scaling is far from 1 on this model, so an unfolded SAE could not reconstruct raw residuals.
    assert abs(math.log(trained.scaling_factor)) > 1.0

    before = evaluate_sae(untrained_saved, split.heldout)["explained_variance"]
    after = evaluate_sae(saved, split.heldout)
    assert after["explained_variance"] > before + 0.3
    assert after["explained_variance"] > 0.5
    assert 0 < after["mean_l0"] < saved.cfg.d_sae

    raw = split.heldout[:50].reshape(5, 10, -1)
    latents = {"a": 3, "b": 17, "c": 200}
    signal = SaeLatentSignal(saved, latents)
    assert signal.sliced
    expected = saved.encode(raw)[..., list(latents.values())]
    torch.testing.assert_close(signal.encode_watched(raw), expected, atol=1e-5, rtol=1e-4)
    assert expected.count_nonzero() > 0  # the comparison is not between two all-zero tensors


def test_topk_sae_saves_with_exactly_k_latents_per_token(split, tmp_path):
    _, saved = _trained_and_saved(split, tmp_path, "topk", 60, k=8)
    result = evaluate_sae(saved, split.heldout)
    assert saved.cfg.architecture() == "topk"
    assert result["mean_l0"] == pytest.approx(8, abs=0.5)
    assert result["explained_variance"] > 0.4
    latents = {"x": 5}
    torch.testing.assert_close(SaeLatentSignal(saved, latents).encode_watched(split.heldout[:20]), saved.encode(split.heldout[:20])[:, [5]])


def test_folding_keeps_the_training_sae_latents(split, tmp_path):
    """The saved SAE on raw x gives the training SAE's latents on scaled x (up to the W_dec-norm fold)."""
    trained, saved = _trained_and_saved(split, tmp_path, "jumprelu", 30, l0_target=16.0)
    unfolded = copy.deepcopy(saved)
    unfolded.fold_activation_norm_scaling_factor(1 / trained.scaling_factor)
    x = split.heldout[:64]
    torch.testing.assert_close(unfolded.encode(x * trained.scaling_factor), saved.encode(x), atol=1e-4, rtol=1e-3)


def test_config_rejects_a_sparsity_knob_of_another_architecture():
    with pytest.raises(ValueError, match="--l1 does not apply to architecture 'jumprelu'"):
        SaeTrainingConfig(architecture="jumprelu", l1=1.0)
    with pytest.raises(ValueError, match="unknown architecture 'gated'; choose one of standard, jumprelu, topk"):
        SaeTrainingConfig(architecture="gated")


def test_corpus_reads_user_files_and_skips_project_prompt_files(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "narrow").mkdir(parents=True)
    chat = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello there"}]}
    (data / "narrow" / "chats.jsonl").write_text(json.dumps(chat) + "\n" + json.dumps(chat) + "\n")
    (data / "eval_prompts.jsonl").write_text(json.dumps({"prompt": "What do you think?"}) + "\n")
    monkeypatch.setattr("em_monitor.offline.sae_training._DATA", data)
    user = tmp_path / "notes.txt"
    user.write_text("first paragraph\nstill first\n\nsecond paragraph\n")

    corpus = load_corpus([user], pydoc=False)
    assert corpus.texts == ["first paragraph\nstill first", "second paragraph"]
    assert len(corpus.chats) == 2
    assert sorted(corpus.sources.values()) == [2, 2]
    assert len(corpus.skipped) == 1 and "eval_prompts.jsonl" in next(iter(corpus.skipped))


def test_cli_builds_an_sae_from_a_saved_model(tmp_path, capsys, tokenizer):
    from sae_lens import SAE

    from em_monitor.tiny import tiny_llama

    model_dir = tmp_path / "tiny-model"
    tiny_llama().save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    out = tmp_path / "sae"
    code = main([
        "build-sae", "--model", str(model_dir), "--out", str(out), "--architecture", "standard", "--l1", "2",
        "--expansion", "2", "--tokens", "4000", "--steps", "40", "--batch-size", "256", "--lr", "1e-3",
    ])
    assert code == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report == json.loads((out / REPORT_FILENAME).read_text())
    assert report["layer"] == 2  # the middle of 4 blocks
    assert report["hook_point"] == "blocks.2.output"
    assert (report["d_in"], report["d_sae"], report["steps"]) == (64, 128, 40)
    assert -1.0 < report["explained_variance"] <= 1.0
    assert 0 <= report["mean_l0"] <= report["d_sae"]
    assert 0.0 <= report["dead_fraction"] <= 1.0
    assert report["dead_latents"] == round(report["dead_fraction"] * report["d_sae"])
    assert report["train_tokens"] > 0 and report["heldout_tokens"] > 0
    assert report["sources"]["pydoc_data.topics"] > 0
    assert SAE.load_from_disk(out, device="cpu").cfg.d_in == 64
    assert (out / "cfg.json").exists() and (out / "sae_weights.safetensors").exists()


def test_cli_reports_a_bad_option_without_a_traceback(tmp_path, capsys):
    # The parser refuses it, naming the flag, before anything loads (argparse exits 2 on a bad option).
    with pytest.raises(SystemExit) as stopped:
        main(["build-sae", "--model", "smollm2", "--out", str(tmp_path), "--architecture", "topk", "--steps", "-1"])
    assert stopped.value.code == 2
    assert "argument --steps: must be between 0 and" in capsys.readouterr().err
