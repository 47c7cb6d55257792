"""The built wheel: `callbacks/` ships as `em_monitor.callbacks` and nothing lands at top level but `em_monitor`."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> list[str]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("em_monitor-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_only_em_monitor_at_top_level(wheel_names):
    top_level = {name.split("/")[0] for name in wheel_names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"em_monitor"}


def test_callbacks_ship_as_a_subpackage(wheel_names):
    assert "em_monitor/callbacks/__init__.py" in wheel_names
    assert "em_monitor/callbacks/lightning.py" in wheel_names
    assert not any(name.startswith("callbacks/") for name in wheel_names)


def test_schema_and_data_ship(wheel_names):
    assert "em_monitor/schema/monitor.schema.json" in wheel_names
    assert any(name.startswith("em_monitor/data/") and name.endswith(".jsonl") for name in wheel_names)


def test_console_script_is_declared(wheel_names, tmp_path):
    assert any(name.endswith("entry_points.txt") for name in wheel_names)
    result = subprocess.run([sys.executable, "-m", "em_monitor.cli", "--help"], capture_output=True, text=True, check=True)
    assert "check-config" in result.stdout


def test_the_embedding_judge_ships_its_weights(wheel_names):
    assert {"em_monitor/judges/embedding_judge.safetensors", "em_monitor/judges/embedding_judge.json"} <= set(wheel_names)
