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
