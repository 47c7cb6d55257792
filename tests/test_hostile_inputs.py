"""Hostile input, by class: every config, pack and JSONL file either loads or fails with an InputError naming it.

Each test starts from a valid file and lets hypothesis mutate it the ways careless or hostile
users do: wrong types, NaN and infinity, absurd numbers, truncation, other encodings, repeated
keys, links out of the pack, FIFOs, pickles. The property is the same everywhere: the loader
either returns something usable (thresholds that can fire, signals that score finitely, every
line kept) or raises :class:`~em_monitor.errors.InputError` whose message names the file — never
a traceback of another type, never a silent drop.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from em_monitor.chat import read_chat_jsonl
from em_monitor.config import MAX_COUNT, MAX_TOKENS, ConfigError, load_config
from em_monitor.errors import InputError
from em_monitor.packs import PackError, load_pack
from em_monitor.prompts import load_prompts

#: Values that broke or silently disabled something somewhere: each replaces one leaf of a valid file.
HOSTILE_VALUES = [
    float("nan"), float("inf"), float("-inf"), 1e23, -1, 0, 2**63, -0.0, "", "\x00", "NaN", "1e23", "x" * 5000,
    None, True, [], {}, [1, 2], {"a": 1}, "../../etc/passwd", "/dev/zero", "builtin:nope", 3.5,
]
ENCODINGS = ["utf-16", "latin-1", "cp1252", "utf-32"]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def leaves(tree: object, path: tuple = ()) -> list[tuple]:
    """Every path to a leaf (and to every container, which can be replaced whole) of a YAML-like tree."""
    found = [path] if path else []
    if isinstance(tree, dict):
        for key, value in tree.items():
            found += leaves(value, (*path, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            found += leaves(value, (*path, index))
    return found


def mutated(tree: object, path: tuple, action: str, value: object) -> object:
    """A deep copy of ``tree`` with the node at ``path`` replaced, deleted, or given an unknown sibling key."""
    tree = json.loads(json.dumps(tree))
    *parents, last = path
    node = tree
    for part in parents:
        node = node[part]
    if action == "replace":
        node[last] = value
    elif action == "delete":
        del node[last]
    elif isinstance(node, dict):
        node["zz_unknown"] = value
    return tree


def text_mutations(text: str) -> st.SearchStrategy[bytes]:
    """Byte-level damage: truncation, another encoding, a repeated line, stray bytes."""
    lines = text.split("\n")
    return st.one_of(
        st.integers(0, len(text)).map(lambda cut: text[:cut].encode()),
        st.sampled_from(ENCODINGS).map(lambda encoding: ("# é ü ß\n" + text).encode(encoding)),
        st.integers(0, max(len(lines) - 1, 0)).map(lambda i: "\n".join(lines[: i + 1] + lines[i:]).encode()),
        st.tuples(st.integers(0, len(text)), st.binary(min_size=1, max_size=4)).map(lambda cut: text[: cut[0]].encode() + cut[1] + text[cut[0]:].encode()),
    )


def tree_mutations(tree: object) -> st.SearchStrategy[object]:
    return st.tuples(st.sampled_from(leaves(tree)), st.sampled_from(["replace", "delete", "sibling"]), st.sampled_from(HOSTILE_VALUES)).map(
        lambda choice: mutated(tree, *choice))


# --- monitor configs ------------------------------------------------------------------------
def valid_config(pack_dir: Path, prompts_file: Path, folder: Path) -> dict:
    return {
        "run": "fuzz", "pack": str(pack_dir), "prompts": str(prompts_file), "every_n_steps": 2, "baseline_samples": 2,
        "sources": ["prompts", "train_batch", "generations"],
        "generations": {"every_n_steps": 4, "max_prompts": 4, "max_new_tokens": 8},
        "train_batch": {"every_n_steps": 1},
        "signals": {"toxic_persona": {"warn": 1.0, "critical": 2.0, "hysteresis": 0.2, "min_samples": 2},
                    "persona_probe": {"measure": "value", "flag": 0.9, "flag_measure": "value"}},
        "actions": {"on_warn": ["log"], "on_critical": ["log", "checkpoint", "realign"]},
        "realign": {"samples": 8, "lr": 1e-5, "max_attempts": 2, "fallback": ["stop"]},
        "prometheus": {"port": 0, "push_timeout": 1.0},
        "event_log": str(folder / "events.jsonl"),
    }


def assert_config_loads_or_names_the_field(path: Path) -> None:
    try:
        config = load_config(path)
    except ConfigError as error:
        header, *problems = str(error).splitlines()
        assert str(path) in header and problems, str(error)
        assert all(line.startswith("  ") and ": " in line for line in problems), str(error)
        return
    numbers = [config.every_n_steps, config.baseline_samples, config.max_length, config.batch_size, config.realign.samples, config.generations.max_new_tokens]
    assert all(1 <= number <= max(MAX_COUNT, MAX_TOKENS) for number in numbers if number is not None)
    for rule in config.signals.values():
        # A rule that loads can fire: no NaN or infinite threshold slips through.
        assert all(math.isfinite(value) for value in (rule.warn, rule.critical, rule.flag, rule.hysteresis) if value is not None)


@FUZZ
@given(data=st.data())
def test_a_mutated_config_loads_or_fails_naming_the_field(pack_dir, prompts_file, tmp_path, data):
    tree = data.draw(tree_mutations(valid_config(pack_dir, prompts_file, tmp_path)))
    path = tmp_path / "monitor.yaml"
    path.write_text(yaml.safe_dump(tree, allow_unicode=True))
    assert_config_loads_or_names_the_field(path)


@FUZZ
@given(data=st.data())
def test_a_damaged_config_file_loads_or_fails_naming_the_file(pack_dir, prompts_file, tmp_path, data):
    text = yaml.safe_dump(valid_config(pack_dir, prompts_file, tmp_path), sort_keys=False)
    path = tmp_path / "monitor.yaml"
    path.write_bytes(data.draw(text_mutations(text)))
    assert_config_loads_or_names_the_field(path)


def test_repeated_keys_are_refused_not_silently_merged(pack_dir, tmp_path):
    path = tmp_path / "monitor.yaml"
    path.write_text(f"pack: {pack_dir}\nsignals:\n  toxic_persona: {{warn: 1, critical: 2}}\nsignals:\n  persona_probe: {{warn: 0.5}}\n")
    with pytest.raises(ConfigError, match=r"key 'signals' appears twice .*first on line 2"):
        load_config(path)


def test_a_config_in_another_encoding_names_the_encoding(pack_dir, tmp_path):
    path = tmp_path / "monitor.yaml"
    path.write_bytes(f"run: café\npack: {pack_dir}\n".encode("utf-16"))
    with pytest.raises(ConfigError, match=r"not UTF-8 .*looks like UTF-16"):
        load_config(path)


def test_an_alias_bomb_is_refused_before_anything_walks_it(pack_dir, tmp_path):
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    path = tmp_path / "monitor.yaml"
    path.write_text(f"pack: {pack_dir}\n" + "\n".join(levels) + "\nrun: *a8\n")
    with pytest.raises(ConfigError, match="expands to more than"):
        load_config(path)


# --- persona packs ------------------------------------------------------------------------------
PACK_FILES = ["directions.safetensors", "probes/persona_probe.safetensors", "sae/cfg.json", "sae/sae_weights.safetensors"]


def damage(root: Path, relative: str, how: str, where: float, outside: Path) -> None:
    """One way a pack file arrives broken or hostile."""
    path = root / relative
    data = path.read_bytes()
    cut = int(len(data) * where)
    if how == "truncate":
        path.write_bytes(data[:cut])
    elif how == "flip":
        path.write_bytes(data[:cut] + bytes([data[cut % len(data)] ^ 0xFF]) + data[cut + 1:])
    elif how in ("nan", "int", "shape") and relative.endswith(".safetensors"):
        tensors = {"nan": lambda t: torch.full_like(t, float("nan")), "int": lambda t: t.to(torch.int32), "shape": lambda t: t.reshape(-1)[:-1]}
        from safetensors.torch import load_file

        save_file({key: tensors[how](tensor).contiguous() for key, tensor in load_file(path).items()}, str(path))
    elif how == "outside_link":
        outside.write_bytes(data)
        path.unlink()
        path.symlink_to(outside)
    elif how == "folder":
        path.unlink()
        path.mkdir()
    elif how == "fifo":
        path.unlink()
        os.mkfifo(path)
    elif how == "missing":
        path.unlink()
    elif how == "pickle_beside":
        (path.parent / "extra.pt").write_bytes(b"\x80\x04K\x01.")
    elif how == "nan_json" and relative.endswith(".json"):
        config = json.loads(data)
        config[sorted(config)[int(where * len(config)) % len(config)]] = float("nan")
        path.write_text(json.dumps(config))


def assert_pack_loads_or_names_a_file(root: Path) -> None:
    try:
        signals = load_pack(root).build_signals()
    except PackError as error:
        assert str(root) in str(error), str(error)
        return
    scores = signals.score(torch.randn(2, 5, 64), torch.ones(2, 5, dtype=torch.bool))
    assert scores and all(bool(torch.isfinite(values).all()) for values in scores.values()), "a loaded pack scores every signal finitely"


@FUZZ
@given(relative=st.sampled_from(PACK_FILES), where=st.floats(0, 0.999),
       how=st.sampled_from(["truncate", "flip", "nan", "int", "shape", "outside_link", "folder", "fifo", "missing", "pickle_beside", "nan_json"]))
def test_a_damaged_pack_file_loads_or_fails_naming_it(pack_dir, relative, where, how):
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(shutil.copytree(pack_dir, Path(scratch) / "pack"))
        damage(root, relative, how, where, Path(scratch) / "outside.bin")
        assert_pack_loads_or_names_a_file(root)


@FUZZ
@given(data=st.data())
def test_a_mutated_pack_yaml_loads_or_fails_naming_it(pack_dir, data):
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(shutil.copytree(pack_dir, Path(scratch) / "pack"))
        spec = yaml.safe_load((root / "pack.yaml").read_text())
        if data.draw(st.booleans()):
            (root / "pack.yaml").write_text(yaml.safe_dump(data.draw(tree_mutations(spec)), allow_unicode=True))
        else:
            (root / "pack.yaml").write_bytes(data.draw(text_mutations(yaml.safe_dump(spec, sort_keys=False))))
        assert_pack_loads_or_names_a_file(root)


# --- JSONL data and prompt files --------------------------------------------------------------
CHATS = [{"messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"Answer {i}."}]} for i in range(5)]
BAD_LINES = [
    '{"messages": [{"role": "user", "content": NaN}]}', '{"messages": [{"role": "user", "content": Infinity}]}', '"just a string"',
    "[" * 50_000 + "]" * 50_000, '{"messages": "x"}', '{"messages": [{"role": 1, "content": "x"}]}', '{"messages": []}',
    '{"messages": [{"role": "user", "content": "x"}]', "\x00", '{"messages": [{"role": "user", "content": "a"}], "messages": 3}',
]


@FUZZ
@given(data=st.data())
def test_a_damaged_chat_jsonl_loads_every_line_or_fails_naming_file_and_line(tmp_path, data):
    lines = [json.dumps(chat) for chat in CHATS]
    if data.draw(st.booleans()):
        lines[data.draw(st.integers(0, len(lines) - 1))] = data.draw(st.sampled_from(BAD_LINES))
        content = "\n".join(lines).encode()
    else:
        content = data.draw(text_mutations("\n".join(lines)))
    path = tmp_path / "data.jsonl"
    path.write_bytes(content)
    try:
        conversations = read_chat_jsonl(path)
    except InputError as error:
        assert str(error).startswith(str(path)), str(error)
        return
    # Never a silent drop: every non-blank line came back as a conversation.
    assert len(conversations) == sum(1 for line in content.decode("utf-8-sig").split("\n") if line.strip())


def test_valid_jsonl_quirks_still_load(tmp_path):
    """CRLF line ends, a BOM, blank lines, U+2028 inside a string and no final newline are all valid."""
    chats = [*CHATS[:2], {"messages": [{"role": "user", "content": "line\u2028separator"}, {"role": "assistant", "content": "ok"}]}]
    path = tmp_path / "data.jsonl"
    path.write_bytes(("\ufeff" + "\r\n\r\n".join(json.dumps(chat, ensure_ascii=False) for chat in chats)).encode())
    assert [chat[0]["content"] for chat in read_chat_jsonl(path)] == ["Question 0?", "Question 1?", "line\u2028separator"]


@FUZZ
@given(data=st.data(), suffix=st.sampled_from([".txt", ".jsonl"]))
def test_a_damaged_prompt_file_loads_or_fails_naming_it(tmp_path, data, suffix):
    text = "\n".join(json.dumps({"prompt": f"Prompt {i}?"}) if suffix == ".jsonl" else f"Prompt {i}?" for i in range(4))
    path = tmp_path / f"prompts{suffix}"
    path.write_bytes(data.draw(text_mutations(text)))
    try:
        prompts = load_prompts(str(path))
    except InputError as error:
        assert str(error).startswith(str(path)), str(error)
        return
    assert prompts and all(isinstance(prompt, str) and prompt.strip() for prompt in prompts)


# --- command-line numbers -----------------------------------------------------------------------
def numeric_flags() -> list[tuple[str, str, object]]:
    """(verb, flag, type) for every flag of every verb that parses a number."""
    import argparse

    from em_monitor.cli import build_parser

    verbs = next(action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction))
    return [(verb, action.option_strings[0], action.type) for verb, parser in verbs.choices.items()
            for action in parser._actions if action.type is not None and action.type is not str]


def test_every_numeric_flag_is_range_checked():
    flags = numeric_flags()
    assert len(flags) > 40
    bare = [(verb, flag) for verb, flag, kind in flags if kind in (int, float)]
    assert not bare, f"use a type from em_monitor.commands.argtypes, which names the flag and the range: {bare}"


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "1e23", "100000000000000000000000", "2.5", "", "ten"])
def test_an_absurd_number_on_the_command_line_stops_at_the_parser(text):
    import argparse

    for verb, flag, kind in numeric_flags():
        try:
            value = kind(text)
        except argparse.ArgumentTypeError as error:
            assert str(error), (verb, flag)
            continue
        assert math.isfinite(value) and abs(value) <= 1e9, (verb, flag, text, value)
