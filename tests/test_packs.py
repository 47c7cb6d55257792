"""Persona packs load without pickle and fail at load time, naming the file and the fix."""

import shutil

import pytest
import torch
import yaml
from safetensors.torch import save_file

from em_monitor.packs import BUILTIN_PACKS, PackError, load_pack
from em_monitor.tiny import random_pack


@pytest.fixture
def pack(tmp_path):
    return random_pack(tmp_path / "pack")


def _edit_spec(pack, edit):
    spec = yaml.safe_load((pack / "pack.yaml").read_text())
    edit(spec)
    (pack / "pack.yaml").write_text(yaml.safe_dump(spec))


def test_pack_loads_every_signal_in_pack_order(pack):
    signals = load_pack(pack).build_signals()
    assert signals.names == ["toxic_persona", "sarcasm_persona", "persona_probe", "persona_direction"]
    assert signals.kinds["toxic_persona"] == "sae_latent"
    scores = signals.score(torch.randn(2, 3, 64), torch.ones(2, 3, dtype=torch.bool))
    assert all(value.shape == (2,) for value in scores.values())


def test_pack_for_another_width_is_refused(pack):
    with pytest.raises(PackError, match=r"d_model=64.*hidden_size=576.*build-pack"):
        load_pack(pack).check_width(576)


def test_missing_pack_yaml(tmp_path):
    with pytest.raises(PackError, match="no pack.yaml"):
        load_pack(tmp_path)


def test_unknown_key_in_pack_yaml(pack):
    _edit_spec(pack, lambda spec: spec.update(colour="red"))
    with pytest.raises(PackError, match="colour"):
        load_pack(pack)


def test_missing_signal_file(pack):
    (pack / "directions.safetensors").unlink()
    with pytest.raises(PackError, match="directions.safetensors.*does not exist"):
        load_pack(pack).build_signals()


def test_truncated_safetensors(pack):
    path = pack / "probes" / "persona_probe.safetensors"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(PackError, match="not a readable safetensors file"):
        load_pack(pack).build_signals()


def test_wrong_shape_direction(pack):
    save_file({"persona_direction": torch.ones(32)}, str(pack / "directions.safetensors"))
    with pytest.raises(PackError, match=r"shape \(32,\), expected \(64,\)"):
        load_pack(pack).build_signals()


def test_file_outside_the_pack_is_refused(pack, tmp_path):
    shutil.copy(pack / "directions.safetensors", tmp_path / "elsewhere.safetensors")
    _edit_spec(pack, lambda spec: spec["signals"][3].update(file="../elsewhere.safetensors"))
    with pytest.raises(PackError, match="outside the pack"):
        load_pack(pack).build_signals()


def test_latent_beyond_the_sae(pack):
    _edit_spec(pack, lambda spec: spec["signals"][0].update(latent=10_000))
    with pytest.raises(PackError, match="out of range"):
        load_pack(pack).build_signals()


def test_no_pickle_files_in_a_pack(pack):
    suffixes = {path.suffix for path in pack.rglob("*") if path.is_file()}
    assert suffixes <= {".yaml", ".json", ".safetensors"}


def test_the_shipped_pack_gives_reference_spreads_for_every_source():
    spreads = load_pack(BUILTIN_PACKS["smollm2"]).reference_spreads()
    assert spreads[("toxic_persona", "prompts")] != spreads[("toxic_persona", "train_batch")] == spreads[("toxic_persona", "generations")] > 0
    assert {source for _, source in spreads} == {"prompts", "train_batch", "generations"}


def test_output_is_for_probes_only(pack):
    def logit_direction(spec):
        next(signal for signal in spec["signals"] if signal["kind"] == "direction")["output"] = "logit"

    _edit_spec(pack, logit_direction)
    with pytest.raises(PackError, match="`output` applies to kind probe only"):
        load_pack(pack)
