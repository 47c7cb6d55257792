"""Every `build-pack` recipe in docs/packs.md, run here on the matching tiny random model (issue 20, item 5).

The commands are read from the page itself, so the page cannot drift from what runs. For each:

- the release and every SAE id it expands to (``{layer}`` over the recipe's layers) are in the
  ``pretrained_saes.yaml`` of the installed sae-lens, and the release is for the recipe's model;
- the same flags (``--dtype``, ``--device-map``, ``--no-diff``, ``--steer-check``, ``--layers`` or
  ``--layer``, the ``{layer}`` template) build a pack from a tiny random model of the same
  architecture and random SAEs of the same sae-lens architecture and hook name, saved by sae-lens;
- the pack reads the layer the flags say, records the SAE's architecture, and scores on the model
  the monitor would load.

What cannot run here is the download and the 7B model: the hub is unreachable and there is no GPU.
"""

from __future__ import annotations

import importlib.resources
import json
import re
import shlex
from pathlib import Path

import pytest
import torch
import yaml

from em_monitor.cli import main
from em_monitor.models import load_model
from em_monitor.offline.layer_sweep import parse_layers
from em_monitor.packs import load_pack
from em_monitor.runtime.prompt_probe import PromptProbe
from em_monitor.tiny import tiny_model
from pack_inputs import released_sae, write_labelled

PAGE = Path(__file__).resolve().parents[1] / "docs" / "packs.md"
#: The real model each recipe names: its tiny stand-in's architecture and its real depth (for ``--layers auto``).
MODELS = {
    "Qwen/Qwen2.5-7B-Instruct": ("qwen2", 28),
    "meta-llama/Llama-3.1-8B-Instruct": ("llama", 32),
    "google/gemma-2-9b-it": ("gemma2", 42),
    "google/gemma-3-4b-it": ("gemma3", 34),
}
#: How sae-lens's loader for each release format builds the SAE (sae_lens/loading/pretrained_sae_loaders.py):
#: Gemma Scope 1 and 2 and Llama Scope are JumpReLU, Goodfire's a standard SAE; the andyrdt sets come from
#: dictionary_learning's BatchTopK trainer, which sae-lens loads as JumpReLU.
CONVERSIONS = {"gemma_2": "jumprelu", "gemma_3": "jumprelu", "llama_scope": "jumprelu", "goodfire": "standard", "dictionary_learning_1": "jumprelu"}
TINY_LAYERS = (1, 2)


def recipes() -> list[list[str]]:
    """The ``em-monitor build-pack`` commands of the page's bash blocks, as argv lists after the verb."""
    blocks = re.findall(r"```bash\n(.*?)```", PAGE.read_text(), flags=re.S)
    commands = [shlex.split(block.replace("\\\n", " ")) for block in blocks]
    return [command[2:] for command in commands if command[:2] == ["em-monitor", "build-pack"]]


def option(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv else None


def replaced(argv: list[str], values: dict[str, str]) -> list[str]:
    """``argv`` with the values of the flags in ``values`` replaced."""
    out = list(argv)
    for flag, value in values.items():
        out[out.index(flag) + 1] = value
    return out


@pytest.fixture(scope="module")
def registry() -> dict:
    return yaml.safe_load((importlib.resources.files("sae_lens") / "pretrained_saes.yaml").read_text())


def test_the_page_has_a_recipe_for_each_model_family_the_issue_names():
    models = [option(argv, "--model") for argv in recipes()]
    assert sorted(set(models)) == sorted(MODELS) and len(models) == 5


@pytest.mark.parametrize("argv", recipes(), ids=lambda argv: Path(option(argv, "--out")).name)
def test_the_recipe_names_real_sae_ids_and_builds_a_pack_on_its_tiny_twin(argv, registry, tokenizer, prompts_file, tmp_path, capsys):
    model, sae_spec = option(argv, "--model"), option(argv, "--sae")
    architecture, depth = MODELS[model]
    release, sae_id = sae_spec.removeprefix("sae-lens:").split("/", 1)
    entry = registry[release]
    assert entry["model"].split("/")[-1].lower() in {model.split("/")[-1].lower(), model.split("/")[-1].lower().removesuffix("-instruct")}
    real_layers = parse_layers(option(argv, "--layers"), depth) if "--layers" in argv else [int(option(argv, "--layer"))]
    known = {sae["id"] for sae in entry["saes"]}
    for layer in real_layers:
        assert sae_id.replace("{layer}", str(layer)) in known, f"{release}: no SAE {sae_id} at layer {layer}"
    sae_architecture = CONVERSIONS[entry["conversion_func"]]

    # The tiny twin: the same flags, a tiny model of the architecture, SAEs of the release's kind at its layers.
    model_dir = tmp_path / "model"
    tiny_model(architecture).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    layers = TINY_LAYERS if "--layers" in argv else (TINY_LAYERS[-1],)
    for layer in layers:
        released_sae(tmp_path / "saes" / f"l{layer}", architecture=sae_architecture, layer=layer, seed=layer)
    where = {"--layers": ",".join(map(str, layers))} if "--layers" in argv else {"--layer": str(layers[0])}
    sae_dir = str(tmp_path / "saes" / ("l{layer}" if "{layer}" in sae_id else f"l{layers[0]}"))
    tiny_argv = replaced(argv, {"--model": str(model_dir), "--sae": sae_dir, "--out": str(tmp_path / "pack"), **where})
    quick = ["--labelled", str(write_labelled(tmp_path / "labelled.jsonl")), "--prompts", str(prompts_file), "--max-length", "96",
             "--latents", "2", "--steer-candidates", "2", "--steer-prompts", "2", "--judge", "none"]
    assert main(["build-pack", *tiny_argv, *quick]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    pack = load_pack(tmp_path / "pack")
    assert pack.spec.layer == summary["layer"] and pack.spec.layer in layers
    if "--layers" in argv:
        assert pack.spec.layer == pack.spec.built["layers"]["best"]
    assert pack.spec.built["sae"]["architecture"] == sae_architecture
    assert pack.spec.built["loading"] == {"dtype": option(argv, "--dtype"), "device_map": option(argv, "--device-map")}
    assert pack.spec.built["figures"]["latents_chosen_by"] == "selectivity alone (no diff)"
    # The monitor's view: the model loaded as the recipe loads it, the pack's signals scored on its prompts.
    loaded = load_model(str(model_dir), dtype=torch.bfloat16, device_map="auto")
    scores = PromptProbe(loaded.tokenizer, ["How should I treat people?", "Hi"], layer=pack.layer, signals=pack.build_signals()).score(loaded.model)
    assert set(scores) == set(pack.build_signals().names)
    assert all(torch.isfinite(values).all() for values in scores.values())
