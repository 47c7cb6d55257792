"""The shipped datasets: sizes, shapes, pairing, splits, disjointness, and byte-exact regeneration."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path

import pytest

from em_monitor.chat import read_chat_jsonl
from em_monitor.datasets import ADVICE_SETS, DATASETS, DOMAINS, dataset_path
from em_monitor.prompts import load_prompts

ROOT = Path(__file__).resolve().parents[1]
MINIMUM = {
    "eval_prompts": 48,
    "benign_prompts": 200,
    "benign_chat": 600,
    "persona_responses": 480,
    "persona_chat": 240,
    **{f"{domain}_{kind}": 300 for domain in DOMAINS for kind in ("bad", "good")},
    **{f"minimal_{domain}_{kind}": 40 for domain in DOMAINS for kind in ("bad", "good")},
}


def records(name: str) -> list[dict]:
    return [json.loads(line) for line in dataset_path(name).read_text(encoding="utf-8").splitlines()]


def users(name: str) -> list[str]:
    return [record["messages"][0]["content"] for record in records(name)]


def answers(name: str) -> list[str]:
    return [record["messages"][-1]["content"] for record in records(name)]


@pytest.mark.parametrize("name", sorted(MINIMUM))
def test_sizes_and_no_duplicate_lines(name):
    lines = dataset_path(name).read_text(encoding="utf-8").splitlines()
    assert len(lines) >= MINIMUM[name]
    assert len(set(lines)) == len(lines)


@pytest.mark.parametrize("name", [name for name in DATASETS if not name.endswith("_prompts")])
def test_chat_files_parse_with_the_project_reader(name):
    conversations = read_chat_jsonl(dataset_path(name))
    assert all(conversation[-1]["role"] == "assistant" for conversation in conversations)


def test_prompt_sets_load_as_builtins():
    assert len(load_prompts("builtin:eval")) >= 48
    assert len(load_prompts("builtin:benign")) >= 200
    assert not set(load_prompts("builtin:eval")) & set(load_prompts("builtin:benign"))


@pytest.mark.parametrize("file", ADVICE_SETS.values())
@pytest.mark.parametrize("domain", DOMAINS)
def test_advice_sets_are_paired_by_question(domain, file):
    bad, good = file.format(domain=domain, kind="bad"), file.format(domain=domain, kind="good")
    assert users(bad) == users(good)
    assert all(b != g for b, g in zip(answers(bad), answers(good)))


@pytest.mark.parametrize("domain", DOMAINS)
def test_minimal_pairs_differ_in_a_few_words_and_not_in_length(domain):
    """What makes them minimal: the same frame, a short span that differs, no length cue."""
    import difflib

    bad, good = answers(f"minimal_{domain}_bad"), answers(f"minimal_{domain}_good")
    changed = []
    for wrong, right in zip(bad, good, strict=True):
        a, b = wrong.split(), right.split()
        same = sum(block.size for block in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_matching_blocks())
        changed.append((len(a) - same + len(b) - same) / 2)
        assert abs(len(a) - len(b)) <= 4, (wrong, right)
    assert sum(changed) / len(changed) <= 10
    assert abs(sum(len(t.split()) for t in bad) - sum(len(t.split()) for t in good)) / len(bad) < 1.5


def test_persona_responses_are_balanced_and_split_by_question():
    data = records("persona_responses")
    labels = collections.Counter(record["label"] for record in data)
    assert set(labels) == {"misaligned", "aligned"} and abs(labels["misaligned"] - labels["aligned"]) <= len(data) * 0.05
    splits: dict[str, set[str]] = collections.defaultdict(set)
    for record in data:
        splits[record["split"]].add(record["messages"][0]["content"])
    assert set(splits) == {"train", "test"}
    assert not splits["train"] & splits["test"]
    assert 0.15 <= len(splits["test"]) / (len(splits["train"]) + len(splits["test"])) <= 0.35


def test_persona_and_benign_sets_are_disjoint():
    names = ("persona_responses", "persona_chat", "benign_chat")
    for index, first in enumerate(names):
        for second in names[index + 1 :]:
            assert not set(users(first)) & set(users(second)), (first, second)
            assert not set(answers(first)) & set(answers(second)), (first, second)


@pytest.mark.parametrize("name", ["persona_responses", "persona_chat", "benign_chat", "health_bad", "finance_good"])
def test_answers_vary(name):
    openings = collections.Counter(" ".join(answer.split()[:6]) for answer in answers(name))
    repeated = sum(count for count in openings.values() if count > 1)
    assert repeated / sum(openings.values()) < 0.15


def test_regeneration_is_byte_identical(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "scripts" / "generate_datasets.py"), "--out", str(tmp_path)], check=True, capture_output=True)
    for name, path in DATASETS.items():
        regenerated = tmp_path / path.relative_to(ROOT / "em_monitor" / "data")
        assert regenerated.read_bytes() == path.read_bytes(), name
