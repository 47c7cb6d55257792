"""build-pack --layers: one forward pass reads several blocks, the sweep reports held-out AUROC by layer, and the pack takes the best."""

from __future__ import annotations

import json

import pytest
import torch

from em_monitor.cli import main
from em_monitor.errors import InputError
from em_monitor.offline.layer_sweep import parse_layers
from em_monitor.packs import load_pack
from em_monitor.runtime.capture import CaptureError, residuals_at, residuals_at_layers
from em_monitor.tiny import random_pack
from pack_inputs import write_labelled


def test_one_pass_reads_every_layer_as_the_hidden_states_give_it(llama, tokenizer):
    batch = tokenizer(["the cat sat on the mat", "hello"], return_tensors="pt", padding=True)
    hidden = llama(**batch, output_hidden_states=True).hidden_states
    # Not the last block: transformers applies the final norm to the last entry of hidden_states.
    captured = residuals_at_layers(llama, [2, 0, 1], batch["input_ids"], batch["attention_mask"])
    assert sorted(captured) == [0, 1, 2]
    for layer, activations in captured.items():
        torch.testing.assert_close(activations, hidden[layer + 1], rtol=0, atol=0)
        torch.testing.assert_close(activations, residuals_at(llama, layer, batch["input_ids"], batch["attention_mask"]), rtol=0, atol=0)


def test_auto_spreads_across_depth_and_lists_are_checked():
    assert parse_layers("auto", 30) == [6, 10, 15, 20, 24]  # SmolLM2's 30 blocks
    assert parse_layers("auto", 4) == [1, 2, 3]
    assert parse_layers("20, 6,15,6", 30) == [6, 15, 20]
    with pytest.raises(InputError, match="comma"):
        parse_layers("6;10", 30)
    with pytest.raises(CaptureError, match=r"--layers: decoder block 9 does not exist; this model has blocks 0\.\.3"):
        parse_layers("1,9", 4)


def _run(tiny_model_dir, prompts_file, tmp_path, *where: str) -> tuple[int, str]:
    return main(["build-pack", "--model", str(tiny_model_dir), *where, "--no-diff",
                 "--labelled", str(write_labelled(tmp_path / "labelled.jsonl")), "--prompts", str(prompts_file),
                 "--max-length", "96", "--latents", "2", "--out", str(tmp_path / "pack")])


def test_the_pack_takes_the_best_layer_and_its_sae(tiny_model_dir, prompts_file, tmp_path, capsys):
    """--sae with {layer}: one SAE per layer, as releases ship them; the sweep picks the layer, the template the SAE."""
    for layer in (1, 3):
        random_pack(tmp_path / f"saes-l{layer}", layer=layer, seed=layer)
    code = _run(tiny_model_dir, prompts_file, tmp_path, "--layers", "1,3", "--sae", str(tmp_path / "saes-l{layer}" / "sae"))
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    report = json.loads((tmp_path / "pack" / "report" / "layers.json").read_text())
    assert [entry["layer"] for entry in report["layers"]] == [1, 3]
    for entry in report["layers"]:
        assert 0.0 <= entry["probe_auroc"] <= 1.0 and 0.0 <= entry["direction_auroc"] <= 1.0
        assert set(entry["probe_auroc_by_pooling"]) == {"mean", "max", "last"}
        assert entry["score"] == pytest.approx((entry["probe_auroc"] + entry["direction_auroc"]) / 2)
    top = max(entry["score"] for entry in report["layers"])
    expected = min(entry["layer"] for entry in report["layers"] if entry["score"] == top)  # ties go to the shallower
    assert report["best_layer"] == expected == summary["layer"]
    pack = load_pack(tmp_path / "pack")
    assert pack.spec.layer == expected
    assert pack.spec.built["sae"]["source"] == str(tmp_path / f"saes-l{expected}" / "sae")
    assert pack.spec.built["layers"]["swept"] == [1, 3] and pack.spec.built["layers"]["best"] == expected
    assert (tmp_path / "pack" / "report" / "layers.png").stat().st_size > 10_000


def test_a_fixed_sae_keeps_its_layer_and_says_which_was_best(tiny_model_dir, pack_dir, prompts_file, tmp_path, capsys):
    code = _run(tiny_model_dir, prompts_file, tmp_path, "--layers", "0,1,2", "--sae", str(pack_dir / "sae"))  # an SAE of layer 2
    assert code == 0
    assert load_pack(tmp_path / "pack").spec.layer == 2
    best = json.loads((tmp_path / "pack" / "report" / "layers.json").read_text())["best_layer"]
    err = capsys.readouterr().err
    assert (f"the best layer of [0, 1, 2] is {best}; the pack reads the layer --sae was trained on" in err) == (best != 2)


def test_a_layer_template_needs_a_layer(tiny_model_dir, prompts_file, tmp_path, capsys):
    code = _run(tiny_model_dir, prompts_file, tmp_path, "--sae", str(tmp_path / "l{layer}"))
    assert code == 1
    assert "{layer} needs the layer from --layer or --layers" in capsys.readouterr().err
