"""1,000 sampling passes on a tiny model leave memory and the model as they were.

What could leak: forward hooks left on the model (every later forward pass would store
activations), captured tensors kept alive by the buffer or the monitor's state, autograd graphs
kept by scores that were not detached. The test runs the monitor's two sampling paths — a prompt
pass and a training-batch capture scored from the training forward pass — 1,000 times each and
checks the resident set size and the model's hooks afterwards.
"""

from __future__ import annotations

import gc
import os

import torch
from conftest import PROMPTS

from em_monitor.chat import ChatCollator
from em_monitor.config import parse_config
from em_monitor.packs import load_pack
from em_monitor.runtime.capture import capture_residual
from em_monitor.runtime.export import MonitorMetrics
from em_monitor.runtime.monitor import Monitor
from em_monitor.runtime.prompt_probe import PromptProbe
from em_monitor.tiny import tiny_llama

PASSES = 1_000
#: Allowed RSS growth over 1,000 passes after warm-up. A leaked activation batch of this model is
#: ~50 KB, so 1,000 of them (50 MB) would break it; allocator noise stays well under it.
BOUND_MB = 24


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def hook_count(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_a_thousand_sampling_passes_do_not_grow_memory_or_leave_hooks(tokenizer, pack_dir, tmp_path):
    pack = load_pack(pack_dir)
    signals = pack.build_signals()
    model = tiny_llama().train()
    config = parse_config({"pack": str(pack_dir), "every_n_steps": 1, "baseline_samples": 2, "event_log": None}, base_dir=tmp_path)
    # Metrics included: a registry that grew a series per pass would leak too.
    monitor = Monitor(config, signals.kinds, metrics=MonitorMetrics(config.run, config.sources, signals.kinds), events=None)
    probe = PromptProbe(tokenizer, PROMPTS[:3], layer=pack.layer, signals=signals, batch_size=3, max_length=32)
    batch = ChatCollator(tokenizer, max_length=32)([{"messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": f"Hello {i}."}]} for i in range(4)])
    hooks_before = hook_count(model)

    def one_pass(step: int) -> None:
        monitor.observe(step, "prompts", probe.score(model))
        with capture_residual(model, pack.layer) as buffer:
            loss = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
        loss.backward()  # the training step's backward, as in a fit: the captured activations must not keep its graph
        model.zero_grad(set_to_none=True)
        scores = signals.score(buffer.activations, batch["response_mask"].bool())
        monitor.observe(step, "train_batch", scores)

    for step in range(100):  # warm-up: allocator pools, lazily built caches
        one_pass(step)
    gc.collect()
    before = rss_mb()
    for step in range(100, 100 + PASSES):
        one_pass(step)
    gc.collect()
    grown = rss_mb() - before
    assert grown < BOUND_MB, f"RSS grew {grown:.1f} MB over {PASSES} passes"
    assert hook_count(model) == hooks_before, "every hook was removed"
    assert model.training, "the prompt pass handed the model back in train mode"
    assert monitor.passes == {"prompts": 100 + PASSES, "train_batch": 100 + PASSES}
