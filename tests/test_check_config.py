"""``check-config`` opens everything the run opens, and every verb checks its outputs before the work.

Exit codes: 0 valid, 1 invalid (each problem on its own line), 2 could not check. The output
checks: an output that is, holds or lies inside an input is refused before any model loads, and
so is one that cannot be written, with the flags named; the inputs are left byte for byte.
"""

from __future__ import annotations

import json
import os
import time

import pytest
import torch
from safetensors.torch import save_file

from em_monitor.cli import main
from em_monitor.paths import Output, OutputError, check_outputs

CHAT = {"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]}


def check(capsys, *argv: str) -> tuple[int, str]:
    code = main(["check-config", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_valid_config_is_ok_and_checked_against_the_model(write_config, tiny_model_dir, capsys):
    code, output = check(capsys, write_config(), "--model", tiny_model_dir)
    assert code == 0 and ": ok (" in output and f"fits {tiny_model_dir}" in output


def test_a_layer_beyond_the_model_is_invalid_with_model_given(write_config, tiny_model_dir, capsys):
    config = write_config(layer=99)
    assert check(capsys, config)[0] == 0, "without --model the depth is unknown: nothing to refuse"
    code, output = check(capsys, config, "--model", tiny_model_dir)
    assert code == 1 and "layer: decoder block 99 does not exist; this model has blocks 0..3" in output


def test_a_model_of_another_width_is_invalid(write_config, tmp_path, tokenizer, capsys):
    from em_monitor.tiny import tiny_llama

    tiny_llama(hidden_size=32).save_pretrained(tmp_path / "narrow")
    code, output = check(capsys, write_config(), "--model", tmp_path / "narrow")
    assert code == 1 and "d_model=64" in output and "hidden_size=32" in output


def test_a_model_that_cannot_be_read_means_could_not_check(write_config, tmp_path, capsys):
    code, output = check(capsys, write_config(), "--model", tmp_path / "no-such-model")
    assert code == 2 and "could not check against --model" in output


@pytest.mark.parametrize("damage", ["truncated", "nan", "pickle", "outside_link", "fifo"])
def test_a_broken_pack_file_is_invalid(write_config, pack_copy, tmp_path, capsys, damage):
    target = pack_copy / "directions.safetensors"
    if damage == "truncated":
        target.write_bytes(target.read_bytes()[:40])
    elif damage == "nan":
        save_file({"persona_direction": torch.full((64,), float("nan"))}, str(target))
    elif damage == "pickle":
        (pack_copy / "sae" / "model.pt").write_bytes(b"\x80\x04K\x01.")
    elif damage == "outside_link":
        outside = tmp_path / "elsewhere.safetensors"
        outside.write_bytes(target.read_bytes())
        target.unlink()
        target.symlink_to(outside)
    else:
        target.unlink()
        os.mkfifo(target)
    started = time.perf_counter()
    code, output = check(capsys, write_config(pack=str(pack_copy)))
    assert code == 1 and str(pack_copy) in output, output
    assert time.perf_counter() - started < 60, "a FIFO must not block the check"
    expected = {"truncated": "not a readable safetensors file", "nan": "NaN or infinite", "pickle": "pickle-format files",
                "outside_link": "points outside the pack", "fifo": "not a regular file"}[damage]
    assert expected in output


def test_a_foreign_event_log_and_a_broken_prompt_file_are_both_reported(write_config, tmp_path, capsys):
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps(CHAT))  # a dataset, no final newline
    prompts = tmp_path / "bad-prompts.jsonl"
    prompts.write_bytes(b'{"prompt": "ok"}\n{"prompt": 3}\n')
    code, output = check(capsys, write_config(event_log=str(data), prompts=str(prompts)))
    assert code == 1 and f"{prompts}:2" in output
    code, output = check(capsys, write_config(event_log=str(data)))
    assert code == 1 and "was not written by em-monitor" in output
    assert data.read_text() == json.dumps(CHAT), "checking never touches the file"


def test_a_config_that_is_not_utf8_names_the_file_and_encoding(tmp_path, capsys):
    path = tmp_path / "monitor.yaml"
    path.write_bytes("run: tést\npack: builtin:smollm2\n".encode("latin-1"))
    code, output = check(capsys, path)
    assert code == 1 and str(path) in output and "not UTF-8" in output and "Traceback" not in output


# --- outputs against inputs -------------------------------------------------------------------
def test_audit_refuses_to_write_over_its_dataset_before_loading_the_model(tmp_path, pack_dir, capsys):
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps(CHAT) + "\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(data)
    for out in (data, link):
        # The model named does not exist: reaching it would fail differently, so the refusal comes first.
        code = main(["audit", "--model", str(tmp_path / "no-model"), "--pack", str(pack_dir), "--data", str(data), "--out", str(out)])
        assert code == 1 and "is the same path as --data" in capsys.readouterr().err
    assert data.read_text() == json.dumps(CHAT) + "\n"


def test_an_unwritable_output_is_refused_before_the_work(tmp_path, pack_dir, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps(CHAT) + "\n")
    code = main(["audit", "--model", str(tmp_path / "no-model"), "--pack", str(pack_dir), "--data", str(data), "--out", str(blocker / "scores.jsonl")])
    assert code == 1 and "is a file, so no folder can be made there" in capsys.readouterr().err


def test_output_rules(tmp_path, pack_dir):
    data = tmp_path / "data.jsonl"
    data.write_text("{}\n")
    with pytest.raises(OutputError, match="lies inside --pack"):
        check_outputs([Output("--out", pack_dir / "scores.jsonl")], [("--pack", pack_dir)])
    with pytest.raises(OutputError, match="is a folder that holds --data"):
        check_outputs([Output("--out", tmp_path, directory=True)], [("--data", data)])
    # A hub id or builtin name is no path on disk: nothing to overwrite.
    check_outputs([Output("--out", tmp_path / "out", directory=True)], [("--model", "smollm2"), ("--data", data)])
    assert not (tmp_path / "out").exists(), "checking creates nothing"
