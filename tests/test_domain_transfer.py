"""Leave-one-domain-out: a bad-data probe is scored only on a domain it never saw (issue 21)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from em_monitor.chat import encode_prompts
from em_monitor.cli import main
from em_monitor.offline.domain_transfer import (
    TASK_PROMPTS,
    DomainSamples,
    domain_samples,
    leave_one_domain_out,
    markdown_table,
    transfer_features,
    word_features,
    zero_shot_scores,
)
from em_monitor.offline.probe_training import prompted_text


def _samples(per_class: int = 20, domains=("a", "b", "c")) -> DomainSamples:
    labels = np.tile(np.repeat([1, 0], per_class), len(domains))
    tags = np.repeat(domains, 2 * per_class)
    return DomainSamples([[{"role": "user", "content": "q"}, {"role": "assistant", "content": "x"}]] * len(labels), labels, tags)


def test_a_feature_that_marks_wrong_advice_everywhere_transfers_and_a_topic_cue_does_not():
    """Feature 0 is "wrong advice" in every domain; feature 1 says "wrong" only within domain a (a topic-specific mistake)."""
    samples = _samples()
    rng = np.random.default_rng(0)
    general = samples.labels + rng.normal(0, 0.3, len(samples.labels))
    topical = np.where(samples.domains == "a", samples.labels, rng.integers(0, 2, len(samples.labels))) + rng.normal(0, 0.3, len(samples.labels))
    results = leave_one_domain_out({"general": general[:, None], "topical": topical[:, None]}, samples, curve_sizes=(8,), curve_seeds=2)
    assert [entry.domain for entry in results["general"].held_out] == ["a", "b", "c"]
    assert all(entry.n == 40 for entry in results["general"].held_out)
    assert results["general"].mean_auroc > 0.95
    # Held out on b or c, the topic cue is noise there: chance, whatever it learned on the others.
    topical_on = {entry.domain: entry.auroc for entry in results["topical"].held_out}
    assert abs(topical_on["b"] - 0.5) < 0.2 and abs(topical_on["c"] - 0.5) < 0.2
    assert results["general"].learning_curve[0]["n"] == 8 and results["general"].learning_curve[-1]["n"] == 80
    table = markdown_table(results)
    assert table.splitlines()[2].startswith("| general |"), "best variant first"
    assert "a AUROC" in table and "AUROC @8" in table


def test_a_truncated_answer_is_left_out_of_training_and_testing():
    samples = _samples(per_class=10)
    X = samples.labels[:, None].astype(float) + 0.0
    X[0] = np.nan
    result = leave_one_domain_out({"residual_mean": X}, samples, curve_sizes=(), curve_seeds=1)
    assert result["residual_mean"].held_out[0].n == 19
    assert result["direction_mean"].mean_auroc == 1.0, "the direction comes along with the mean-pooled residual"


def test_zero_shot_is_the_models_log_odds_of_yes_over_no(llama, tokenizer):
    conversation = [{"role": "user", "content": "Can I skip the oil change?"}, {"role": "assistant", "content": "Sure, oil lasts forever."}]
    template = TASK_PROMPTS["wrong_or_unsafe"]
    score = zero_shot_scores(llama, tokenizer, [conversation, conversation[:1] + [{"role": "assistant", "content": "No."}]], template=template)
    batch = encode_prompts(tokenizer, [prompted_text(tokenizer, conversation, 256, template)], max_length=256)
    with torch.no_grad():
        final = llama(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits[0, -1].log_softmax(-1)
    yes = sorted({tokenizer(word, add_special_tokens=False)["input_ids"][0] for word in ("Yes", "yes", " Yes", " yes")})
    no = sorted({tokenizer(word, add_special_tokens=False)["input_ids"][0] for word in ("No", "no", " No", " no")})
    assert score[0] == pytest.approx(float(final[yes].logsumexp(-1) - final[no].logsumexp(-1)), abs=1e-4)
    assert score[0] != score[1], "a batch of two: each row read at its own last token"


def test_every_variant_gets_features_from_the_tiny_model(llama, tokenizer, tmp_path):
    files = {}
    for domain in ("a", "b"):
        for kind, answer in (("bad", "Just ignore it, it's fine."), ("good", "Check with a professional first.")):
            path = tmp_path / f"{domain}_{kind}.jsonl"
            path.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"{domain} question {i}?"},
                                                             {"role": "assistant", "content": f"{answer} #{i}"}]}) + "\n" for i in range(6)))
            files.setdefault(domain, []).append(path)
    samples = domain_samples({domain: tuple(paths) for domain, paths in files.items()}, per_domain=4)
    assert len(samples.labels) == 16 and samples.names == ["a", "b"] and samples.labels.tolist() == [1] * 4 + [0] * 4 + [1] * 4 + [0] * 4
    features = transfer_features(llama, tokenizer, samples, layer=2, max_length=256)
    assert set(features) == {"residual_mean", "residual_max", "residual_last", "zero_shot", "bag_of_words", *(f"prompted_{name}" for name in TASK_PROMPTS)}
    assert all(array.shape[0] == 16 and np.isfinite(array).all() for array in features.values())
    assert features["zero_shot"].shape == (16, 1) and features["prompted_wrong_or_unsafe"].shape == (16, 64)


def test_train_probe_domains_writes_the_transfer_table(tiny_model_dir, tmp_path, capsys):
    code = main(["train-probe", "--model", str(tiny_model_dir), "--layer", "2", "--domains", "health,finance", "--per-domain", "6",
                 "--max-length", "512", "--curve-seeds", "1", "--out", str(tmp_path / "out")])
    assert code == 0
    report = json.loads((tmp_path / "out" / "transfer.json").read_text())
    assert report["domains"] == ["health", "finance"] and report["n"] == 24
    names = [variant["variant"] for variant in report["variants"]]
    assert {"residual_mean", "direction_mean", "zero_shot", "prompted_expert_disagrees"} <= set(names)
    means = [variant["mean_auroc"] for variant in report["variants"]]
    assert means == sorted(means, reverse=True)
    for variant in report["variants"]:
        assert [entry["domain"] for entry in variant["held_out"]] == ["health", "finance"]
    assert "| variant | health AUROC | finance AUROC | mean AUROC |" in (tmp_path / "out" / "transfer.md").read_text()
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["best"] == names[0]


def test_an_unknown_domain_is_refused_with_the_list(tiny_model_dir, tmp_path, capsys):
    code = main(["train-probe", "--model", str(tiny_model_dir), "--layer", "2", "--domains", "health,cooking", "--out", str(tmp_path / "o")])
    assert code == 1
    err = capsys.readouterr().err
    assert "unknown domain(s) cooking" in err and "health, finance, career" in err


def test_the_words_baseline_reads_only_the_answers():
    chats = [[{"role": "user", "content": "same question"}, {"role": "assistant", "content": text}]
             for text in ("skip the doctor", "see the doctor", "skip it", "see a doctor")]
    words = word_features(DomainSamples(chats, np.array([1, 0, 1, 0]), np.array(["a", "a", "b", "b"])))
    assert words.shape[0] == 4 and words.shape[1] >= 3  # "skip", "see", "the doctor", ... (words in two answers or more)
    assert not np.allclose(words[0], words[1])


def test_the_minimal_pairs_are_a_second_advice_set(tiny_model_dir, tmp_path):
    code = main(["train-probe", "--model", str(tiny_model_dir), "--layer", "2", "--domains", "legal,car", "--advice-set", "minimal",
                 "--per-domain", "4", "--max-length", "512", "--curve-seeds", "1", "--out", str(tmp_path / "out")])
    assert code == 0
    report = json.loads((tmp_path / "out" / "transfer.json").read_text())
    assert report["advice_set"] == "minimal" and report["n"] == 16


def test_add_to_pack_ships_the_best_residual_variant_as_a_log_odds_probe_with_baselines(tiny_model_dir, pack_copy, tmp_path, capsys):
    from em_monitor.packs import load_pack
    from em_monitor.runtime.signals import ProbeSignal

    def add(out: str, *extra: str) -> int:
        return main(["train-probe", "--model", str(tiny_model_dir), "--layer", str(load_pack(pack_copy).layer), "--domains", "health,finance,career",
                     "--per-domain", "6", "--max-length", "512", "--curve-seeds", "1", "--add-to-pack", str(pack_copy), "--out", str(tmp_path / out), *extra])

    assert add("first") == 0
    report = json.loads((tmp_path / "first" / "transfer.json").read_text())
    # Only the variants a training forward can compute were scored: no prompted pass, no zero-shot.
    assert {variant["variant"] for variant in report["variants"]} == {"residual_mean", "residual_max", "residual_last", "direction_mean", "bag_of_words"}
    best = next(variant for variant in report["variants"] if variant["variant"].startswith("residual_"))
    pack = load_pack(pack_copy)
    spec = next(signal for signal in pack.spec.signals if signal.name == "bad_advice")
    assert spec.kind == "probe" and spec.output == "logit" and spec.pooling == best["variant"].removeprefix("residual_")
    assert set(spec.baseline) == {"prompts", "responses"} and spec.baseline["responses"].count > 0
    assert pack.spec.built["bad_advice"]["held_out_domains"] == ["home_safety", "food_safety", "cybersecurity", "legal", "car"]
    assert pack.spec.built["bad_advice"]["leave_one_domain_out"]["mean_auroc"] == pytest.approx(best["mean_auroc"])
    signal = next(s for s in pack.build_signals().signals if isinstance(s, ProbeSignal) and list(s.names) == ["bad_advice"])
    assert signal.output == "logit"
    # Adding again replaces the signal rather than listing it twice; the persona signals are kept.
    before = [signal.name for signal in pack.spec.signals]
    chat = tmp_path / "chat.jsonl"
    chat.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"Tell me about clouds {i}."},
                                                     {"role": "assistant", "content": f"Clouds are water droplets, number {i}."}]}) + "\n" for i in range(5)))
    assert add("second", "--negatives", str(chat)) == 0
    again = load_pack(pack_copy)
    assert [signal.name for signal in again.spec.signals] == before
    # The plain-chat answers joined the shipped fit as correct: 36 answers + 5 chats.
    assert again.spec.built["bad_advice"]["samples"] == 41 and again.spec.built["bad_advice"]["negative_samples"] == 5


def test_add_to_pack_refuses_another_layer_than_the_packs(tiny_model_dir, pack_copy, tmp_path, capsys):
    from em_monitor.packs import load_pack

    other = load_pack(pack_copy).layer + 1
    code = main(["train-probe", "--model", str(tiny_model_dir), "--layer", str(other), "--domains", "health,finance",
                 "--add-to-pack", str(pack_copy), "--out", str(tmp_path / "o")])
    assert code == 1
    assert f"pass --layer {other - 1}" in capsys.readouterr().err
