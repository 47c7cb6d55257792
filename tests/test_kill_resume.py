"""A monitored run killed with SIGKILL mid-training and resumed from its checkpoint, in real processes.

What must survive the kill: every event-log line already written (flushed per line; a line torn
by the kill is dropped on reopen, never glued to the next one), the baseline (not recomputed),
and the counters, which continue from the checkpoint's values.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(__file__).parent / "scripts" / "killable_run.py"
KILL_AFTER_STEP = 12  # the last checkpoint before it is at step 10


def launch(config: Path, out: Path, steps: int, resume: Path | None = None) -> subprocess.Popen:
    command = [sys.executable, str(SCRIPT), str(config), str(out), str(steps)] + (["--resume", str(resume)] if resume else [])
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_killed_run_resumes_from_its_checkpoint_with_its_log_and_counts_intact(write_config, tmp_path):
    config = write_config(baseline_samples=3)
    out = tmp_path / "run"
    first = launch(config, out, 30)
    seen = []
    deadline = time.monotonic() + 240
    for line in first.stdout:
        seen.append(line)
        if line.strip() == f"step {KILL_AFTER_STEP}" or time.monotonic() > deadline:
            break
    first.kill()
    first.wait(timeout=30)
    assert first.returncode == -9, "".join(seen[-20:])
    checkpoint = out / "checkpoints" / "epoch=0-step=10.ckpt"
    assert checkpoint.is_file(), sorted(p.name for p in (out / "checkpoints").iterdir())
    log = tmp_path / "events.jsonl"
    killed = read_events(log)  # every line the killed run wrote parses
    killed_steps = [e["step"] for e in killed if e["event"] == "sample" and e["source"] == "prompts"]
    assert killed_steps[-1] >= 10 and not (out / "result.json").exists()
    # Simulate the worst moment for the kill: half of an event written, no newline.
    with log.open("a") as handle:
        handle.write('{"time": 1, "run": "test", "event": "sam')

    second = launch(config, out, 20, resume=checkpoint)
    output, _ = second.communicate(timeout=240)
    assert second.returncode == 0, output[-3000:]
    assert "half-written line" in output
    events = read_events(log)  # the torn fragment is gone; everything else is kept, in order
    assert events[: len(killed)] == killed
    resumed = events[len(killed):]
    assert resumed[0]["event"] == "start"
    assert not any(e["event"] == "baseline" for e in resumed), "the baseline comes back from the checkpoint"
    assert [e["step"] for e in resumed if e["event"] == "sample" and e["source"] == "prompts"] == [10, 12, 14, 16, 18]
    # The checkpoint at step 10 held the counts of passes 0..8 (steps 0, 1, 2 for the baseline, then 4, 6, 8).
    result = json.loads((out / "result.json").read_text())
    assert result["global_step"] == 20
    assert result["samples_total"]["prompts"] == 6 + 5
