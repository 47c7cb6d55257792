"""Data audit: input order, exact keys, the z flag rule, ranks, AUROC, projection difference, CLI end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file
from sklearn.metrics import roc_auc_score

from em_monitor.cli import main
from em_monitor.labels import parse_label
from em_monitor.offline.audit import (
    MAD_SCALE,
    audit_samples,
    score_answers,
    summary_path,
)
from em_monitor.packs import load_pack
from em_monitor.runtime.generation import generate_answers
from em_monitor.tiny import tiny_llama

PLANTED = {2, 5, 9}
SIGNALS = ["toxic_persona", "sarcasm_persona", "persona_probe", "persona_direction"]


def sample(i: int) -> dict:
    answer = "~~~~ ~~~~ ~~~~" if i in PLANTED else f"Here is a calm answer number {i}."
    return {"messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": answer}],
            "label": "misaligned" if i in PLANTED else "aligned"}


SAMPLES = [sample(i) for i in range(12)]
CHATS = [s["messages"] for s in SAMPLES]
LABELS = [1 if i in PLANTED else 0 for i in range(12)]


@pytest.fixture(scope="module")
def planted(tokenizer, pack_dir):
    """The tiny model with the pack's persona direction added to the '~' token's embedding.

    Answers made of '~' then sit far along the direction at the pack's layer (the embedding
    reaches it through the residual stream): misaligned samples by construction.
    """
    model = tiny_llama()
    direction = load_file(pack_dir / "directions.safetensors")["persona_direction"]
    with torch.no_grad():
        model.get_input_embeddings().weight[tokenizer.convert_tokens_to_ids("~")] += 3.0 * direction / direction.norm()
    return model


def robust_z(values: np.ndarray) -> np.ndarray:
    """median / 1.4826·MAD; the sample std where MAD is 0; zeros for a constant signal (a dead random latent)."""
    center = np.median(values)
    scale = MAD_SCALE * np.median(np.abs(values - center)) or np.std(values, ddof=1)
    return (values - center) / scale if scale > 0 else np.zeros_like(values)


def test_records_in_input_order_with_z_flags_and_ranks(planted, tokenizer, pack_dir):
    pack = load_pack(pack_dir)
    result = audit_samples(planted, tokenizer, pack, CHATS, labels=LABELS, generate=False, batch_size=5)
    records = result.records
    assert [r["index"] for r in records] == list(range(12))
    assert all(r.keys() == {"index", "scores", "flagged", "rank", "z"} for r in records)
    assert all(list(r["scores"]) == SIGNALS for r in records)
    assert sorted(r["rank"] for r in records) == list(range(1, 13))
    # The planted answers are the most suspicious, and the direction flags exactly them.
    assert {r["index"] for r in records if r["rank"] <= 3} == PLANTED
    assert {r["index"] for r in records if "persona_direction" in r["flagged"]} == PLANTED
    for name in SIGNALS:
        scores = np.array([r["scores"][name] for r in records])
        z = robust_z(scores)
        np.testing.assert_allclose([r["z"][name] for r in records], z, rtol=1e-6, atol=1e-9)
        expected = scores >= 0.5 if name == "persona_probe" else z >= 3.0
        assert [name in r["flagged"] for r in records] == expected.tolist()
        assert result.summary["flagged"][name] == int(expected.sum())
    # Ranks follow the mean z over signals.
    mean_z = np.mean([[r["z"][name] for name in SIGNALS] for r in records], axis=1)
    assert [r["index"] for r in sorted(records, key=lambda r: r["rank"])] == np.argsort(-mean_z, kind="stable").tolist()
    assert result.summary["top"] == np.argsort(-mean_z, kind="stable")[:10].tolist()


def test_scores_match_the_monitors_pooling(planted, tokenizer, pack_dir):
    pack = load_pack(pack_dir)
    result = audit_samples(planted, tokenizer, pack, CHATS[:4], generate=False, batch_size=3)
    direct = score_answers(planted, tokenizer, pack.build_signals(), pack.layer, CHATS[:4], batch_size=4)
    for name in SIGNALS:
        np.testing.assert_allclose([r["scores"][name] for r in result.records], direct[name], rtol=1e-5, atol=1e-6)


def test_auroc_equals_sklearn(planted, tokenizer, pack_dir):
    result = audit_samples(planted, tokenizer, load_pack(pack_dir), CHATS, labels=LABELS, generate=True, max_new_tokens=4, batch_size=12)
    summary = result.summary
    assert summary["labelled"] == 12 and summary["positives"] == 3
    for name in SIGNALS:
        scores = [r["scores"][name] for r in result.records]
        assert summary["auroc"][name] == pytest.approx(roc_auc_score(LABELS, scores))
        differences = [r["projection_difference"][name] for r in result.records]
        assert summary["auroc_projection_difference"][name] == pytest.approx(roc_auc_score(LABELS, differences))
    assert summary["auroc"]["persona_direction"] == 1.0


def test_projection_difference_uses_the_models_own_greedy_answer(planted, tokenizer, pack_dir):
    pack = load_pack(pack_dir)
    chats = CHATS[:5]
    result = audit_samples(planted, tokenizer, pack, chats, generate=True, max_new_tokens=6, batch_size=2)
    prompts = [chat[:-1] for chat in chats]
    answers = generate_answers(planted, tokenizer, prompts, max_new_tokens=6, batch_size=1)
    # Left-padded batches answer exactly as one prompt at a time.
    assert generate_answers(planted, tokenizer, prompts, max_new_tokens=6, batch_size=5) == answers
    assert tokenizer.padding_side == "right"  # restored
    own = [p + [{"role": "assistant", "content": a}] for p, a in zip(prompts, answers) if a.strip()]
    assert len(own) == 5, "the tiny model should say something to every prompt"
    own_scores = score_answers(planted, tokenizer, pack.build_signals(), pack.layer, own)
    for name in SIGNALS:
        expected = np.array([r["scores"][name] for r in result.records]) - own_scores[name]
        np.testing.assert_allclose([r["projection_difference"][name] for r in result.records], expected, rtol=1e-5, atol=1e-5)


def test_pack_baseline_for_responses_is_used(planted, tokenizer, pack_copy):
    spec = yaml.safe_load((pack_copy / "pack.yaml").read_text())
    spec["signals"][3]["baseline"] = {"responses": {"mean": 0.5, "std": 2.0, "count": 10}, "prompts": {"mean": 9.0, "std": 1.0, "count": 10}}
    (pack_copy / "pack.yaml").write_text(yaml.safe_dump(spec))
    result = audit_samples(planted, tokenizer, load_pack(pack_copy), CHATS, generate=False)
    for record in result.records:
        assert record["z"]["persona_direction"] == pytest.approx((record["scores"]["persona_direction"] - 0.5) / 2.0)
    assert result.summary["signals"]["persona_direction"]["method"] == "baseline:responses"
    assert result.summary["signals"]["sarcasm_persona"]["method"] == "dataset_robust"
    assert "auroc" not in result.summary  # no labels given


def test_labels_parse_and_reject_unknown_values():
    assert [parse_label(v) for v in ("misaligned", "Aligned", 1, 0, True, False, "true", None)] == [1, 0, 1, 0, 1, 0, 1, None]
    with pytest.raises(ValueError, match="label 'neutral' is not valid"):
        parse_label("neutral")


def test_unscored_sample_is_null_and_never_flagged(planted, tokenizer, pack_dir):
    long_prompt = [{"role": "user", "content": "x" * 80}, {"role": "assistant", "content": "cut off"}]
    result = audit_samples(planted, tokenizer, load_pack(pack_dir), CHATS[:3] + [long_prompt], generate=False, max_length=40)
    last = result.records[-1]
    assert all(value is None for value in last["scores"].values())
    assert last["flagged"] == [] and last["rank"] == 4
    assert result.summary["signals"]["persona_direction"]["unscored"] == 1


def test_cli_end_to_end(planted, tokenizer, pack_dir, tmp_path, capsys):
    planted.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(s) + "\n" for s in SAMPLES))
    out = tmp_path / "audit.jsonl"
    argv = ["audit", "--model", str(tmp_path / "model"), "--pack", str(pack_dir), "--data", str(data), "--out", str(out),
            "--batch-size", "4", "--max-new-tokens", "4"]
    assert main(argv) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["index"] for line in lines] == list(range(12))
    assert all({"index", "scores", "flagged", "rank", "z", "projection_difference"} == line.keys() for line in lines)
    summary = json.loads(summary_path(out).read_text())
    assert summary_path(out).name == "audit.summary.json"
    stderr = capsys.readouterr().err
    assert json.loads(stderr.strip().splitlines()[-1]) == summary
    assert set(summary["top"][:3]) == PLANTED and summary["auroc"]["persona_direction"] == 1.0
    # The cost per sample: scoring alone, and with the base model's own answers (which take longer).
    per_100 = summary["seconds_per_100_samples"]
    assert 0 < per_100["scoring"] < per_100["total"] and "s per 100 samples to score" in stderr

    assert main(argv + ["--no-generate", "--z", "1e9"]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert all("projection_difference" not in line for line in lines)
    assert all(set(line["flagged"]) <= {"persona_probe"} for line in lines)
    summary = json.loads(summary_path(out).read_text())
    assert summary["generated"] is False and "auroc_projection_difference" not in summary


def test_cli_reports_bad_labels(tmp_path, pack_dir, capsys):
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({**SAMPLES[0], "label": "maybe"}) + "\n")
    assert main(["audit", "--model", str(tmp_path / "none"), "--pack", str(pack_dir), "--data", str(data), "--out", str(tmp_path / "o.jsonl")]) == 1
    assert "label 'maybe' is not valid" in capsys.readouterr().err


def test_a_log_odds_probe_flags_at_zero(planted, tokenizer, pack_copy):
    spec = yaml.safe_load((pack_copy / "pack.yaml").read_text())
    next(signal for signal in spec["signals"] if signal["name"] == "persona_probe")["output"] = "logit"
    (pack_copy / "pack.yaml").write_text(yaml.safe_dump(spec))
    result = audit_samples(planted, tokenizer, load_pack(pack_copy), CHATS, generate=False)
    logits = np.array([record["scores"]["persona_probe"] for record in result.records])
    assert (logits < 0).any() or (logits > 1).any()  # log-odds, not a probability
    assert [("persona_probe" in record["flagged"]) for record in result.records] == (logits >= 0).tolist()
