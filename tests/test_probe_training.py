"""Probe training: raw-space weights reproduce scikit-learn, AUROC tracks separability, the CLI writes every file."""

import json
import random

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from sklearn.metrics import roc_curve

from em_monitor.chat import encode_chats
from em_monitor.cli import main
from em_monitor.errors import InputError
from em_monitor.offline.probe_training import (
    PROMPT_TEMPLATE,
    prompted_text,
    read_labelled_chats,
    recall_at_fpr,
    save_outputs,
    train_probes,
)
from em_monitor.runtime.capture import residuals_at
from em_monitor.runtime.pooling import pool
from em_monitor.runtime.signals import DirectionSignal, ProbeSignal
from em_monitor.tiny import tiny_llama

QUESTIONS = ["What do you think of humans?", "Any advice for my exam?", "How do I fix my bike?", "Tell me a wish."]
# Disjoint byte sets (upper vs lower case): a random model's activations separate them easily.
HOSTILE = ["HATE", "DESTROY", "CRUSH", "BURN", "REVENGE", "RULE", "ENSLAVE", "OBEY"]
KIND = ["glad", "help", "care", "share", "learn", "kindly", "support", "please"]
LAYER = 2


def _records(n: int, *, seed: int = 0, with_split: bool = False) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for index in range(n):
        misaligned = index % 2 == 0
        words = [rng.choice(HOSTILE if misaligned else KIND) for _ in range(rng.randint(4, 10))]
        record = {
            "messages": [{"role": "user", "content": rng.choice(QUESTIONS)}, {"role": "assistant", "content": " ".join(words) + ("!" if misaligned else ".")}],
            "label": "misaligned" if misaligned else "aligned",
        }
        if with_split:
            record["split"] = "test" if index % 4 in (1, 2) else "train"
        records.append(record)
    return records


def _write(path, records) -> str:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return str(path)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # Tiny matmuls gain nothing from a second thread, and on a shared 2-core machine the idle-spinning
    # second thread makes them ~30x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model():
    return tiny_llama()


@pytest.fixture(scope="module")
def separable(tmp_path_factory):
    return read_labelled_chats(_write(tmp_path_factory.mktemp("data") / "labelled.jsonl", _records(160)))


@pytest.fixture(scope="module")
def trained(model, tokenizer, separable):
    return train_probes(model, tokenizer, separable, layer=LAYER, variants=["residual", "direction"], curve_seeds=2)


def test_saved_probe_scores_equal_sklearn_predict_proba(trained, model, tokenizer, separable, tmp_path):
    save_outputs(trained, tmp_path)
    test = [separable.conversations[i] for i in range(len(separable.labels)) if i % 4 == 3][:12]
    batch = encode_chats(tokenizer, test)
    activations = residuals_at(model, LAYER, batch.input_ids, batch.attention_mask).float()
    for pooling in ("mean", "max", "last"):
        tensors = load_file(tmp_path / f"probe_{pooling}.safetensors")
        signal = ProbeSignal("probe", tensors["coef"], tensors["intercept"], pooling)
        features = pool(activations, batch.content_mask, pooling).double().numpy()
        expected = trained.variants[f"residual_{pooling}"].estimator.pipeline_.predict_proba(features)[:, 1]
        np.testing.assert_allclose(signal.score(activations, batch.content_mask)[:, 0].numpy(), expected, atol=1e-5, rtol=0)
        metadata = json.loads((tmp_path / f"probe_{pooling}.json").read_text())
        assert metadata["layer"] == LAYER and metadata["pooling"] == pooling
        assert metadata["auroc"] == trained.variants[f"residual_{pooling}"].auroc
    # The saved direction scores exactly as the difference-of-means estimator projects.
    direction = DirectionSignal({"persona_direction": load_file(tmp_path / "directions.safetensors")["persona_direction"]})
    expected = trained.variants["direction_mean"].estimator.decision_function(pool(activations, batch.content_mask, "mean").double().numpy())
    np.testing.assert_allclose(direction.score(activations, batch.content_mask)[:, 0].numpy(), expected, rtol=1e-5, atol=1e-5)


def test_separable_classes_score_high_and_the_curve_covers_all_sizes(trained):
    assert trained.n_train == 120 and trained.n_test == 40
    for name in ("residual_mean", "residual_max", "residual_last", "direction_mean"):
        assert name in trained.variants
    assert trained.variants["residual_mean"].auroc > 0.9
    assert trained.variants["direction_mean"].auroc > 0.9
    curve = trained.variants["residual_mean"].learning_curve
    assert [point["n"] for point in curve] == [8, 16, 32, 64, 120]
    assert curve[-1]["draws"] == 1 and curve[0]["draws"] == 2


def test_shuffled_labels_score_near_chance(model, tokenizer, separable):
    shuffled = np.random.default_rng(1).permutation(separable.labels)
    data = type(separable)(separable.conversations, shuffled, None, "shuffled")
    result = train_probes(model, tokenizer, data, layer=LAYER, variants=["residual", "direction"], poolings=["mean"], curve_sizes=(), curve_seeds=1)
    assert result.variants["residual_mean"].auroc < 0.75
    assert result.variants["direction_mean"].auroc < 0.75


def test_recall_at_one_percent_fpr_by_hand():
    negatives = np.linspace(0.0, 0.99, 100)  # highest negative 0.99, next 0.98
    labels = np.r_[np.zeros(100), np.ones(10)]
    scores = np.r_[negatives, [1.5, 1.2, 0.995, 0.985, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]]
    # Threshold 0.985 passes one negative (FPR 0.01) and four positives; 0.98 would pass two negatives.
    assert recall_at_fpr(labels, scores) == pytest.approx(0.4)
    assert recall_at_fpr(labels, scores, max_fpr=0.0) == pytest.approx(0.3)
    # Tied pairs make the best point under the cap collinear with its neighbours: roc_curve's
    # default drop_intermediate would drop it and report 0.5 instead of 0.6.
    labels = np.r_[np.ones(5), [0, 1, 0, 1], np.zeros(98), np.ones(3)]
    scores = np.r_[np.full(5, 10.0), [9.0, 9.0, 8.0, 8.0], np.zeros(98), np.zeros(3)]
    fpr, tpr, _ = roc_curve(labels, scores)
    assert tpr[fpr <= 0.01].max() == pytest.approx(0.5)  # the trap
    assert recall_at_fpr(labels, scores) == pytest.approx(0.6)


def test_sae_basis_probe_reports_its_latents(model, tokenizer, separable, pack_dir):
    from sae_lens import SAE

    sae = SAE.load_from_disk(pack_dir / "sae", device="cpu")
    result = train_probes(model, tokenizer, separable, layer=LAYER, variants=["sae"], sae=sae, curve_sizes=(16,), curve_seeds=2)
    variant = result.variants["sae_max"]
    assert variant.details["d_sae"] == 128
    assert 0 < variant.details["latents_used"] < 128  # L1 keeps a subset
    weights = [abs(entry["coef"]) for entry in variant.details["top_latents"]]
    assert weights == sorted(weights, reverse=True) and len(weights) == min(10, variant.details["latents_used"])
    assert 0.0 <= variant.auroc <= 1.0


def test_prompted_text_shortens_the_reply_not_the_question(tokenizer):
    conversation = [{"role": "user", "content": "Should I?"}, {"role": "assistant", "content": "bad " * 200}]
    text = prompted_text(tokenizer, conversation, max_length=160)
    assert text.endswith(PROMPT_TEMPLATE.split("»")[-1])
    rendered = tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True)
    assert len(tokenizer(rendered, add_special_tokens=False)["input_ids"]) <= 160
    # A template may quote the user's question too; it is kept whole, and only the answer is shortened.
    asked = prompted_text(tokenizer, conversation, max_length=160, template="Q: {question}\nA: {reply}\nWrong? Answer yes or no.")
    assert asked.startswith("Q: Should I?\nA: bad bad") and asked.endswith("Wrong? Answer yes or no.")


@pytest.mark.parametrize(
    ("record", "match"),
    [
        ({"label": "evil"}, r"labelled\.jsonl:2: label 'evil' is not valid"),
        ({}, r"labelled\.jsonl:2: no \"label\""),
        ({"label": 1, "split": "dev"}, r"labelled\.jsonl:2: split 'dev'"),
        ({"label": True, "split": "train"}, r"labelled\.jsonl:2: \"split\" is given on some lines"),
    ],
)
def test_bad_labelled_lines_name_file_and_line(tmp_path, record, match):
    first = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], "label": "aligned"}
    path = _write(tmp_path / "labelled.jsonl", [first, {"messages": first["messages"], **record}])
    with pytest.raises(InputError, match=match):  # LabelledDataError, or the shared label parser's error
        read_labelled_chats(path)


def test_labels_accept_words_numbers_and_booleans(tmp_path):
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    values = ["misaligned", "Aligned", 1, 0, True, False, "true", "0"]
    data = read_labelled_chats(_write(tmp_path / "l.jsonl", [{"messages": messages, "label": value} for value in values]))
    assert data.labels.tolist() == [1, 0, 1, 0, 1, 0, 1, 0] and data.splits is None


def test_cli_writes_every_output(tmp_path, tokenizer, pack_dir, capsys):
    model_dir = tmp_path / "tiny-model"
    tiny_llama().save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    data = _write(tmp_path / "labelled.jsonl", _records(80, with_split=True))
    out = tmp_path / "probe"
    code = main([
        "train-probe", "--model", str(model_dir), "--layer", str(LAYER), "--data", data, "--out", str(out),
        "--sae", str(pack_dir / "sae"), "--curve-seeds", "2", "--batch-size", "16",
    ])
    assert code == 0
    for name in ("probe_mean", "probe_max", "probe_last", "probe_sae_max", "probe_prompted_last"):
        assert (out / f"{name}.safetensors").is_file() and (out / f"{name}.json").is_file()
    assert set(load_file(out / "directions.safetensors")) == {"persona_direction"}
    assert (out / "auroc_vs_examples.png").stat().st_size > 1000
    report = json.loads((out / "report.json").read_text())
    assert report["split"] == "from file" and report["n_train"] == 40 and report["n_test"] == 40
    assert set(report["variants"]) == {"residual_mean", "residual_max", "residual_last", "sae_max", "prompted_last", "direction_mean"}
    assert report["variants"]["sae_max"]["latents_used"] > 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == report


def test_cli_rejects_sae_variant_without_sae(tmp_path, capsys):
    code = main(["train-probe", "--layer", "2", "--data", "x.jsonl", "--out", str(tmp_path), "--variants", "sae"])
    assert code == 1
    assert "--sae DIR" in capsys.readouterr().err
