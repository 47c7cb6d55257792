"""Run by tests/test_collectives.py: the monitor's rank channel between 2 real gloo processes.

Usage: ``channel_run.py OUT``. Each rank runs three exchanges and writes ``OUT/rank<N>.json``
with what each returned or raised:

* ``agree``: both ranks gather and broadcast with the same tags;
* ``out_of_step``: rank 0 gathers with tag ``report@2``, rank 1 with ``ready@4`` (it skipped an exchange);
* ``late``: rank 1 never joins rank 0's gather (it has stopped monitoring): rank 0 must give up after the deadline.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

import torch.distributed as dist
import torch.multiprocessing as mp

from em_monitor.runtime.collectives import ChannelLost, RankChannel

DEADLINE_S = 3


def attempt(call) -> dict:
    started = time.monotonic()
    try:
        return {"value": call(), "seconds": time.monotonic() - started}
    except ChannelLost as error:
        return {"lost": str(error), "seconds": time.monotonic() - started}


def run(rank: int, out: str, port: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
    dist.init_process_group("gloo", rank=rank, world_size=2, timeout=timedelta(seconds=60))
    results = {}
    channel = RankChannel(timeout_seconds=DEADLINE_S)
    results["gather"] = attempt(lambda: channel.gather({"rank": rank}, tag="report@0"))
    results["broadcast"] = attempt(lambda: channel.broadcast(f"decided by {rank}", tag="decision@0"))
    skewed = RankChannel(timeout_seconds=DEADLINE_S)
    results["out_of_step"] = attempt(lambda: skewed.gather(rank, tag="report@2" if rank == 0 else "ready@4"))
    results["after_loss"] = attempt(lambda: skewed.gather(rank, tag="report@6"))
    late = RankChannel(timeout_seconds=DEADLINE_S)
    if rank == 0:
        results["late"] = attempt(lambda: late.gather(rank, tag="report@8"))
    Path(out, f"rank{rank}.json").write_text(json.dumps(results))
    dist.barrier()  # on the default group: both ranks are done before either tears the groups down
    dist.destroy_process_group()


if __name__ == "__main__":
    mp.spawn(run, args=(sys.argv[1], sys.argv[2]), nprocs=2)
