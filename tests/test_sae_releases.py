"""``--sae sae-lens:RELEASE/SAE_ID`` where the hub cannot be reached: one clear line at once, no traceback, no download attempt.

The hub is pointed at a closed loopback port (a stand-in for a machine without internet, which
this one is too: the stand-in keeps the test the same where the hub happens to be reachable).
The error comes before torch is imported: that, not a timed assertion, is what keeps it under a
second (measured: 0.08 s for the whole command on the build machine).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from em_monitor import sae_releases
from em_monitor.sae_releases import SaeError
from em_monitor.saes import load_sae
from servers import free_port

RELEASE = "sae-lens:gemma-scope-2b-pt-res-canonical/layer_12/width_16k/canonical"


def test_build_pack_with_an_unreachable_release_fails_in_one_line_before_any_heavy_import(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from em_monitor import sae_releases
        from em_monitor.cli import main
        sae_releases.HUB = ("127.0.0.1", {free_port()})
        code = main(["build-pack", "--sae", "{RELEASE}", "--out", "{tmp_path / 'pack'}"])
        print("exit", code, "torch imported", "torch" in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "exit 1 torch imported False"
    assert "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith(f"em-monitor build-pack: {RELEASE}: the Hugging Face hub")
    assert "SAE.from_pretrained('gemma-scope-2b-pt-res-canonical', 'layer_12/width_16k/canonical').save_model('SAE_DIR')" in line
    assert not (tmp_path / "pack").exists()


def test_the_loader_refuses_an_unreachable_release_for_every_tool(monkeypatch):
    monkeypatch.setattr(sae_releases, "HUB", ("127.0.0.1", free_port()))
    with pytest.raises(SaeError, match="not reachable from here"):
        load_sae(RELEASE)


@pytest.mark.parametrize("spec", ["sae-lens:", "sae-lens:release-only", "sae-lens:/id-only"])
def test_a_malformed_release_name_says_what_is_expected(spec):
    with pytest.raises(SaeError, match="expected sae-lens:RELEASE/SAE_ID"):
        load_sae(spec)


# --- which layer an SAE reads -------------------------------------------------------------------------
@pytest.mark.parametrize(("hook", "layer"), [
    ("blocks.12.hook_resid_post", 12), ("blocks.12.hook_resid_pre", 11), ("blocks.3.output", 3), ("model.layers.7", 7),
    ("model.layers.7.output", 7), ("transformer.h.5", 5), ("gpt_neox.layers.2", 2), ("", None),
])
def test_the_hook_name_gives_the_decoder_block_whose_output_the_sae_reads(hook, layer, tmp_path):
    from em_monitor.saes import sae_layer

    assert sae_layer(_sae_with_hook(hook, tmp_path), "sae") == layer


@pytest.mark.parametrize("hook", ["blocks.12.hook_mlp_out", "blocks.12.attn.hook_z", "blocks.12.hook_resid_mid", "blocks.0.hook_resid_pre"])
def test_an_sae_that_does_not_read_the_residual_stream_after_a_block_is_refused(hook, tmp_path):
    from em_monitor.saes import sae_layer

    with pytest.raises(SaeError, match=f"reads '{hook}', not the residual stream after a decoder block"):
        sae_layer(_sae_with_hook(hook, tmp_path), "sae")


def test_a_layer_other_than_the_sae_s_own_is_refused_naming_both(tmp_path):
    from em_monitor.saes import sae_read_layer

    sae = _sae_with_hook("blocks.2.hook_resid_post", tmp_path)
    assert sae_read_layer(None, sae, "sae") == sae_read_layer(2, sae, "sae") == 2
    with pytest.raises(SaeError, match="reads decoder block 2 .*but --layer is 3: drop --layer or pass --layer 2"):
        sae_read_layer(3, sae, "sae")


def _sae_with_hook(hook: str, tmp_path):
    """A small standard SAE whose config records ``hook``, saved by sae-lens and loaded back as the tools load it."""
    from sae_lens.registry import get_sae_class

    sae_class, config_class = get_sae_class("standard")
    sae = sae_class(config_class(d_in=16, d_sae=32))
    sae.cfg.metadata.hook_name = hook
    sae.save_model(tmp_path / "sae")
    return load_sae(tmp_path / "sae")
