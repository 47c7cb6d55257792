"""PersonaMonitor under 2-process CPU DDP: rank 0 alone samples, serves and logs; `stop` is agreed by all ranks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent / "scripts" / "ddp_planted_shift.py"


@pytest.mark.integration
def test_ddp_rank_zero_decides_and_every_rank_stops(write_config, pack_dir, tmp_path):
    config = write_config(
        signals={"persona_direction": {"measure": "drift", "warn": 3.0, "critical": 6.0, "sources": ["prompts"]}},
        actions={"on_warn": ["log"], "on_critical": ["log", "stop"]},
    )
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(SCRIPT), str(config), str(pack_dir), str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((out / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert ranks[0]["global_step"] == ranks[1]["global_step"] < 40, "both ranks must stop at the same step, early"
    assert ranks[0]["serving"] and not ranks[1]["serving"], "only rank 0 exports metrics"
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events].count("start") == 1, "only rank 0 writes the event log"
    assert any(e["event"] == "action" and e["action"] == "stop" for e in events)
