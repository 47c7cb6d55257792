"""The monitor's channel between ranks (``runtime/collectives.py``) on 2 real gloo processes.

Ranks that agree exchange their objects; ranks out of step (one skipped an exchange) find out at
the next exchange, on both sides, instead of reading each other's wrong payloads; a rank that
never comes leaves the other waiting for the deadline and no longer. Once lost, the channel
refuses every later exchange at once. Runs under a hard timeout (a hang fails the test).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from processes import run_job
from servers import free_port

SCRIPT = Path(__file__).parent / "scripts" / "channel_run.py"
DEADLINE_S = 3  # the script's

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ranks(tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("channel")
    result = run_job([sys.executable, str(SCRIPT), str(out), str(free_port())], timeout=120, what="the channel exchanges")
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads((out / f"rank{rank}.json").read_text()) for rank in (0, 1)]


def test_ranks_in_step_gather_in_rank_order_and_receive_rank_zeros_broadcast(ranks):
    assert [rank["gather"]["value"] for rank in ranks] == [[{"rank": 0}, {"rank": 1}]] * 2
    assert [rank["broadcast"]["value"] for rank in ranks] == ["decided by 0"] * 2


def test_ranks_out_of_step_both_find_out_at_the_next_exchange(ranks):
    for rank in ranks:
        assert "ranks out of step" in rank["out_of_step"]["lost"]
        assert rank["out_of_step"]["seconds"] < DEADLINE_S, "found by the tags, not by waiting for the deadline"
        assert "is lost" in rank["after_loss"]["lost"], "a lost channel refuses every later exchange"


def test_a_rank_that_never_comes_costs_the_other_one_deadline(ranks):
    late = ranks[0]["late"]
    assert f"failed within {DEADLINE_S}s" in late["lost"]
    assert DEADLINE_S - 0.5 <= late["seconds"], "it waited for the deadline ..."
    assert late["seconds"] < 4 * DEADLINE_S, "... and gave up after it"
