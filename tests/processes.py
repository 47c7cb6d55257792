"""Run a multi-process job (torchrun, a Lightning launcher) under a hard timeout that kills all of it.

A hung collective must fail its test, not stall the suite: ``subprocess.run(timeout=...)`` kills
only the process it started, and the ranks that process launched would live on holding their
ports. The job runs in a session of its own, and a timeout kills the whole process group.

The job also starts without ``PL_GLOBAL_SEED``: ``seed_everything`` in an earlier test of the same
pytest-xdist worker leaves it set, and Lightning's distributed sampler would then deal the job's
data in another order than the one its test expects (the default seed's).
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest


def run_job(command: Sequence[str], *, timeout: float, what: str, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``command`` to completion; past ``timeout`` seconds kill its process group and fail the test, naming ``what``."""
    inherited = {key: value for key, value in (env if env is not None else os.environ).items() if key != "PL_GLOBAL_SEED"}
    environment = {**inherited, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(list(command), cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"{what} did not finish in {timeout:.0f} s (a rank left waiting?)\n{stderr[-3000:]}")
    return subprocess.CompletedProcess(list(command), process.returncode, stdout, stderr)
