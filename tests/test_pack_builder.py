"""build-pack end to end on a tiny model, and the latent-selection math it relies on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from sklearn.metrics import roc_auc_score

from em_monitor.cli import main
from em_monitor.config import parse_config
from em_monitor.offline.pack_builder import latent_selectivity
from em_monitor.packs import load_pack
from pack_inputs import write_bad_chats, write_labelled


def test_latent_selectivity_equals_sklearn_per_latent():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 60)
    latents = torch.from_numpy(rng.random((60, 7)) + labels[:, None] * np.linspace(0, 1, 7))
    latents[:, 0] = 0.0  # a dead latent: ties everywhere, AUROC 0.5
    expected = [roc_auc_score(labels, latents[:, j]) for j in range(7)]
    np.testing.assert_allclose(latent_selectivity(latents, labels), expected, atol=1e-12)


def test_latent_selectivity_needs_both_classes():
    with pytest.raises(ValueError, match="both"):
        latent_selectivity(torch.ones(4, 3), np.ones(4))


def build_pack_cli(tiny_model_dir, pack_dir, prompts_file, tmp_path, *options: str, where: tuple[str, ...] | None = None) -> Path:
    """Run `build-pack` on the tiny model; return the new pack's directory.

    ``where``: the layer and SAE flags, by default layer 2 and the random pack's SAE.
    """
    bad = write_bad_chats(tmp_path / "bad.jsonl")
    out = tmp_path / "pack"
    code = main([
        "build-pack", "--model", str(tiny_model_dir), *(where if where is not None else ("--layer", "2", "--sae", str(pack_dir / "sae"))),
        "--labelled", str(write_labelled(tmp_path / "labelled.jsonl")), "--bad-data", str(bad), "--prompts", str(prompts_file),
        "--max-length", "96", "--latents", "2", "--out", str(out), *options,
    ])
    assert code == 0
    return out


def test_build_pack_cli_writes_a_loadable_pack_with_provenance(tiny_model_dir, pack_dir, prompts_file, tmp_path, capsys):
    out = build_pack_cli(tiny_model_dir, pack_dir, prompts_file, tmp_path, "--finetune-steps", "3", "--finetune-lr", "1e-2")
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0.0 <= summary["probe_auroc"] <= 1.0

    pack = load_pack(out)
    names = [signal.name for signal in pack.spec.signals]
    assert names[:2] == ["toxic_persona", names[1]] and names[1].startswith("persona_latent_")
    assert {"persona_probe", "persona_direction", "model_diff_direction"} <= set(names)
    assert set(pack.build_signals().names) == set(names)
    for signal in pack.spec.signals:
        assert {"prompts", "responses"} <= set(signal.baseline), signal.name
        assert signal.baseline["prompts"].count == 6  # one score per probe prompt
    built = pack.spec.built
    assert built["prompts"] == str(prompts_file) and built["seed"] == 0
    assert {"torch", "transformers", "sae-lens"} <= set(built["versions"])
    assert built["sae"] == {"source": str(pack_dir / "sae"), "architecture": "standard", "encode": "watched"}, "pack.yaml says how the monitor encodes the SAE"
    assert all(np.isfinite(latent["delta"]) for latent in built["figures"]["latents"])  # measured even outside the diff's top-k
    assert json.loads((out / "sae" / "cfg.json").read_text())["dtype"] == "float16"
    assert (out / "report" / "diff.json").is_file() and (out / "report" / "probes.json").is_file()

    # A monitor config can use the pack straight away.
    config = parse_config({"pack": str(out), "signals": {"toxic_persona": {"warn": 2.0, "critical": 4.0}}}, base_dir=tmp_path)
    assert config.pack == str(out.resolve())
    assert yaml.safe_load((out / "pack.yaml").read_text())["layer"] == 2


def test_build_pack_steer_check_keeps_only_latents_whose_steering_moved_behaviour(tiny_model_dir, pack_dir, prompts_file, tmp_path):
    out = build_pack_cli(tiny_model_dir, pack_dir, prompts_file, tmp_path, "--finetune-steps", "2",
                         "--steer-check", "--steer-candidates", "4", "--steer-prompts", "3", "--steer-coefficient", "2", "--judge", "none")
    pack = load_pack(out)
    checked = pack.spec.built["figures"]["steering_checked"]
    assert len(checked) == 4
    moved = [int(latent) for latent, evidence in checked.items() if evidence["moved"]]
    for evidence in checked.values():
        # Without a judge the pack's probe decides: moved means the probe rose on the steered answers.
        assert evidence["judge"] is None and evidence["coefficient"] == 2.0
        assert evidence["moved"] == (evidence["probe_steered"] > evidence["probe_unsteered"])
    watched = [signal for signal in pack.spec.signals if signal.kind == "sae_latent"]
    assert watched[0].name == "toxic_persona"
    assert [signal.latent for signal in watched] == (moved[:2] or [int(next(iter(checked)))])
    assert all(signal.steering is not None and signal.steering.moved == bool(moved) for signal in watched)


@pytest.mark.parametrize("architecture", ["standard", "jumprelu"])
def test_pruning_keeps_the_other_latents_exactly(tmp_path, architecture):
    from sae_lens import SAE

    from em_monitor.offline.pack_builder import prune_latents
    from em_monitor.tiny import random_pack

    root = random_pack(tmp_path / architecture, architecture=architecture)
    sae = SAE.load_from_disk(root / "sae", device="cpu")
    keep = torch.zeros(128, dtype=torch.bool)
    keep[[3, 7, 50, 127]] = True
    x = torch.randn(5, 64)
    expected = sae.encode(x)[:, keep]
    pruned = prune_latents(sae, keep)
    assert pruned.cfg.d_sae == 4
    torch.testing.assert_close(pruned.encode(x), expected)


def test_size_budget_drops_the_rarest_latents_but_never_a_watched_one(tmp_path):
    from sae_lens import SAE

    from em_monitor.offline.pack_builder import (
        ChosenLatent,
        latents_within,
        prune_to_budget,
    )
    from em_monitor.tiny import random_pack

    sae = SAE.load_from_disk(random_pack(tmp_path / "pack") / "sae", device="cpu")
    rates = -torch.arange(128, dtype=torch.float32) / 10  # latent 0 fires most, 127 least
    watched = [ChosenLatent("toxic_persona", 120, 1.0, None, 0.9), ChosenLatent("persona_latent_5", 5, 0.5, None, 0.8)]
    budget = 2 * 64 * 2 * 40 + 4096  # roughly 40 latents of fp16 encoder + decoder rows, plus the biases
    fits = latents_within(sae, budget, torch.float16)
    x = torch.randn(6, 64)
    expected = sae.encode(x)[:, [120, 5]]
    pruned, renumbered, dropped = prune_to_budget(sae, rates, watched, max_bytes=budget, dtype=torch.float16)
    assert pruned.cfg.d_sae == fits < 128 and dropped == 128 - fits
    assert [latent.dictionary_latent for latent in renumbered] == [120, 5]
    assert renumbered[0].latent == fits - 1, "the rare watched latent is kept, after the frequent ones"
    torch.testing.assert_close(pruned.encode(x)[:, [latent.latent for latent in renumbered]], expected)
    unchanged, same, none_dropped = prune_to_budget(sae, rates, watched, max_bytes=1e9, dtype=torch.float16)
    assert unchanged is sae and same == watched and none_dropped == 0


def test_build_pack_diffs_against_a_fine_tune_the_user_already_has(tiny_model_dir, tokenizer, pack_dir, prompts_file, tmp_path, monkeypatch):
    """--finetuned PATH: the diff compares the model with that fine-tune, and no fine-tune runs here."""
    import em_monitor.finetune.lightning as finetuning
    from em_monitor.tiny import tiny_llama

    def no_training(*_args, **_kwargs):
        raise AssertionError("build-pack fine-tuned although --finetuned was given")

    monkeypatch.setattr(finetuning, "finetune", no_training)
    tuned = tiny_llama()
    with torch.no_grad():
        for parameter in tuned.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=torch.Generator().manual_seed(1)) * 0.02)
    tuned.save_pretrained(tmp_path / "tuned")
    tokenizer.save_pretrained(tmp_path / "tuned")
    out = build_pack_cli(tiny_model_dir, pack_dir, prompts_file, tmp_path, "--finetuned", str(tmp_path / "tuned"))
    built = load_pack(out).spec.built
    assert built["finetune"] == {"from": str(tmp_path / "tuned")} and built["bad_data"] is None
    assert (out / "report" / "diff.json").is_file(), "the diff ran against the given fine-tune"


def test_a_finetuned_model_of_another_shape_is_refused(tiny_model_dir, tokenizer, pack_dir, prompts_file, tmp_path, capsys):
    from em_monitor.tiny import tiny_llama

    tiny_llama(layers=3).save_pretrained(tmp_path / "other")
    tokenizer.save_pretrained(tmp_path / "other")
    bad = write_bad_chats(tmp_path / "bad.jsonl")
    code = main(["build-pack", "--model", str(tiny_model_dir), "--layer", "2", "--sae", str(pack_dir / "sae"), "--labelled",
                 str(write_labelled(tmp_path / "labelled.jsonl")), "--bad-data", str(bad), "--prompts", str(prompts_file),
                 "--finetuned", str(tmp_path / "other"), "--out", str(tmp_path / "pack")])
    assert code == 1
    assert "is not a fine-tune of --model" in capsys.readouterr().err


def _no_training(monkeypatch, why: str) -> None:
    import em_monitor.finetune.lightning as finetuning

    def refuse(*_args, **_kwargs):
        raise AssertionError(f"build-pack fine-tuned although {why}")

    monkeypatch.setattr(finetuning, "finetune", refuse)


def test_no_diff_picks_latents_by_selectivity_alone(tiny_model_dir, pack_dir, prompts_file, tmp_path, monkeypatch, capsys):
    """--no-diff: nothing is fine-tuned; the most selective latents are watched, and the pack has no diff direction."""
    _no_training(monkeypatch, "--no-diff was given")
    out = build_pack_cli(tiny_model_dir, pack_dir, prompts_file, tmp_path, "--no-diff")
    pack = load_pack(out)
    names = [signal.name for signal in pack.spec.signals]
    assert "model_diff_direction" not in names and {"toxic_persona", "persona_probe", "persona_direction"} <= set(names)
    assert not (out / "report" / "diff.json").exists()
    figures = pack.spec.built["figures"]
    assert figures["latents_chosen_by"] == "selectivity alone (no diff)" and figures["diff_top5"] is None
    assert pack.spec.built["finetune"] is None and pack.spec.built["bad_data"] is None
    # The watched latents are the most selective ones of the dictionary, in order.
    selective = json.loads((out / "report" / "selectivity.json").read_text())["top"]
    assert [latent["latent"] for latent in figures["latents"]] == [entry["latent"] for entry in selective[:2]]
    assert all(latent["delta"] is None for latent in figures["latents"])
    assert "chosen by selectivity alone" in pack.spec.signals[0].description
    scores = pack.build_signals().score(torch.randn(2, 5, 64), torch.ones(2, 5, dtype=torch.bool))
    assert set(scores) == set(names) and all(torch.isfinite(values).all() and values.shape == (2,) for values in scores.values())


def test_bf16_and_a_device_map_build_a_pack_without_a_fine_tune(tiny_model_dir, pack_dir, prompts_file, tmp_path, monkeypatch):
    """A model that only fits in bf16, spread by device_map: the pack is built from bf16 activations, read back as fp32."""
    import em_monitor.models as models

    _no_training(monkeypatch, "--no-diff was given")
    loaded_as = []
    real_load = models.load_model

    def recording_load(spec, **kwargs):
        loaded = real_load(spec, **kwargs)
        loaded_as.append(next(loaded.model.parameters()).dtype)
        return loaded

    monkeypatch.setattr(models, "load_model", recording_load)
    out = build_pack_cli(tiny_model_dir, pack_dir, prompts_file, tmp_path, "--no-diff", "--dtype", "bf16", "--device-map", "auto")
    assert loaded_as == [torch.bfloat16]
    pack = load_pack(out)
    assert pack.spec.built["loading"] == {"dtype": "bf16", "device_map": "auto"}
    baselines = [stats for signal in pack.spec.signals for stats in signal.baseline.values()]
    assert baselines and all(np.isfinite(stats.mean) and stats.std > 0 for stats in baselines)


def test_a_device_map_with_the_in_tool_fine_tune_is_refused_before_loading(tiny_model_dir, pack_dir, prompts_file, tmp_path, capsys):
    code = main(["build-pack", "--model", str(tiny_model_dir), "--sae", str(pack_dir / "sae"), "--device-map", "auto",
                 "--prompts", str(prompts_file), "--out", str(tmp_path / "pack")])
    assert code == 1
    err = capsys.readouterr().err
    assert "--device-map" in err and "--finetuned" in err and "--no-diff" in err and "Traceback" not in err


def test_no_diff_and_finetuned_cannot_both_be_given(tiny_model_dir, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["build-pack", "--model", str(tiny_model_dir), "--no-diff", "--finetuned", str(tmp_path), "--out", str(tmp_path / "pack")])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_the_dtype_flag_names_the_dtypes_the_loader_knows():
    from em_monitor.commands.model_flags import DTYPE_NAMES
    from em_monitor.models import DTYPES

    assert DTYPE_NAMES == tuple(DTYPES)


def test_a_cuda_device_map_without_cuda_fails_with_the_fix(tiny_model_dir):
    from em_monitor.models import ModelLoadError, load_model

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the refusal is for machines without it")
    with pytest.raises(ModelLoadError, match="names a CUDA device"):
        load_model(str(tiny_model_dir), device_map="cuda:0")


def test_a_released_sae_without_firing_rates_is_pruned_by_how_often_latents_fire_on_the_labelled_answers(
        tiny_model_dir, pack_dir, prompts_file, tmp_path, monkeypatch):
    """A release has no sparsity record; the pack still fits --max-sae-mb, and the watched latents score as in the whole SAE."""
    from em_monitor.saes import load_sae

    _no_training(monkeypatch, "--no-diff was given")
    assert not (pack_dir / "sae" / "sparsity.safetensors").exists(), "this SAE carries no training record, like a release"
    out = build_pack_cli(tiny_model_dir, pack_dir, prompts_file, tmp_path, "--no-diff", "--max-sae-mb", "0.02")
    pack = load_pack(out)
    figures = pack.spec.built["figures"]
    assert 0 < figures["sae_rare_latents_pruned_for_size"] < 128 and figures["sae_latents"] == 128 - figures["sae_rare_latents_pruned_for_size"]
    assert (out / "sae" / "sae_weights.safetensors").stat().st_size < 0.02e6 + 2_000  # the budget, plus the safetensors header
    whole, pruned = load_sae(pack_dir / "sae"), load_sae(out / "sae")
    x = torch.randn(5, 64)
    for latent in figures["latents"]:
        torch.testing.assert_close(pruned.encode(x)[:, latent["latent"]], whole.encode(x)[:, latent["dictionary_latent"]], rtol=1e-2, atol=1e-3)


def test_without_an_sae_one_is_trained_at_the_middle_block_and_the_pack_reads_it(tiny_model_dir, prompts_file, tmp_path, monkeypatch):
    """No --sae and no --layer: build-sae's default block (the middle of 4) is recorded in the SAE and read back by the pack."""
    _no_training(monkeypatch, "--no-diff was given")
    out = build_pack_cli(tiny_model_dir, None, prompts_file, tmp_path, "--no-diff", "--sae-minutes", "0.05", where=())
    pack = load_pack(out)
    assert pack.spec.layer == 2
    assert pack.spec.built["sae"]["source"] == str(out / "report" / "sae-training")
    assert json.loads((out / "report" / "sae-training" / "report.json").read_text())["layer"] == 2
