"""What the monitor costs at the scale of real fine-tunes: 1B and 8B Llama models in bf16 on one GPU.

For random-initialised Llama configs of Llama-3.2-1B's and Llama-3.1-8B's shapes (no weights are
needed: timing does not depend on what the weights mean), built in bf16 directly on the device,
at the batch and sequence length of a real SFT run, it measures on one device:

- ``step_seconds``: a full training step (forward, backward, AdamW step) without the monitor;
- ``train_batch_scoring_seconds``: what ``PersonaMonitor`` does for the ``train_batch`` source:
  the activations of the training forward pass captured at the middle layer
  (``capture_residual``), then the answer-token mask (``scored_token_mask``) and every signal of
  a random pack of the model's width (``SignalSet.score``), synchronised around;
- ``prompt_pass_seconds``: one probe-prompt pass (``PromptProbe.score``) over the builtin eval
  prompts at the middle layer, encoded with a Llama-3-style chat template;
- ``default_cadence_overhead_ratio``: real ``lightning.Trainer`` fits with and without
  ``PersonaMonitor`` at the default cadence (prompts + training batch every 10 steps), ABBA
  interleaved, compared over whole cadence periods after the baseline steps;
- the watched-latent projection against the full SAE encode (``benchmarks/projection.py``) at
  d_sae 65536 and d_model 4096 and 2048, on the same device.

No tokenizer can be downloaded, so prompts are encoded with a word-level tokenizer built here:
one token per word or punctuation run (close to Llama 3's count on English prose), Llama 3's
special tokens and chat template (system header with its date lines included).

The last stdout line is one JSON object (see ``benchmarks/README.md``); ``--out`` also writes it,
after every stage, so a run cut short keeps what it measured.

Usage::

    python benchmarks/scale.py --device cuda --models 1b 8b --out results-scale-gpu.json
    python benchmarks/scale.py --quick          # tiny model on CPU: a smoke run (~20 s)
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import platform
import re
import statistics
import sys
import tempfile
import time
import traceback
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

BUILTIN_PROMPTS = "builtin:eval"
#: Llama 3.1's chat template, the system header included (its date lines are part of every prompt).
LLAMA3_SYSTEM_HEADER = "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
LLAMA3_TEMPLATE = (
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n" + LLAMA3_SYSTEM_HEADER
    + "<|eot_id|>{% for message in messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n"
    "{{ message['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
SPECIAL_TOKENS = ("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|finetune_right_pad_id|>")


@dataclass(frozen=True)
class Preset:
    """A Llama shape and the batch a real SFT run of that size uses."""

    name: str
    hidden_size: int
    layers: int
    heads: int
    kv_heads: int
    intermediate_size: int
    vocab_size: int | None  # None: the tokenizer's
    tie_word_embeddings: bool
    batch_size: int
    seq_len: int


PRESETS: dict[str, Preset] = {
    "tiny": Preset("tiny-llama-4x64", 64, 4, 4, 2, 128, None, True, 2, 64),
    # Llama-3.2-1B: 1.24B parameters (tied embeddings).
    "1b": Preset("llama-3.2-1b-shape", 2048, 16, 32, 8, 8192, 128256, True, 8, 1024),
    # Llama-3.1-8B: 8.03B parameters. Full fine-tuning in bf16 with bf16 AdamW states: weights,
    # gradients and both moments are 64 GB; batch 4 x 1024 leaves room for the activations on a
    # 141 GB H200 without gradient checkpointing (turned on only if that runs out of memory).
    "8b": Preset("llama-3.1-8b-shape", 4096, 32, 32, 8, 14336, 128256, False, 4, 1024),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default=None, help="`cuda` (default when available) or `cpu`")
    parser.add_argument("--models", nargs="+", choices=sorted(PRESETS), default=None, help="model shapes to measure (default: 1b 8b; --quick: tiny)")
    parser.add_argument("--dtype", choices=("bfloat16", "float32"), default="bfloat16")
    parser.add_argument("--batch-size", type=int, default=None, help="override every preset's batch size")
    parser.add_argument("--seq-len", type=int, default=None, help="override every preset's sequence length")
    parser.add_argument("--gradient-checkpointing", choices=("off", "on", "on-oom"), default="on-oom",
                        help="`on-oom`: off, and on for a second try when a model runs out of memory")
    parser.add_argument("--warmup", type=int, default=3, help="training steps before any timing")
    parser.add_argument("--steps", type=int, default=10, help="timed plain steps (and as many with capture + scoring, alternating)")
    parser.add_argument("--prompt-repeats", type=int, default=5, help="timed probe-prompt passes")
    parser.add_argument("--every-n-steps", type=int, default=10, help="the monitor's cadence in the monitored fits")
    parser.add_argument("--fit-periods", type=int, default=2, help="cadence periods compared per fit, after a first period that holds the baseline steps")
    parser.add_argument("--fit-repeats", type=int, default=2, help="fits per configuration, ABBA interleaved (none, default, default, none, ...)")
    parser.add_argument("--no-fits", action="store_true", help="skip the Lightning fits (no default_cadence_overhead_ratio)")
    parser.add_argument("--pack-sae-width", type=int, default=8, help="the random pack's SAE has d_sae = this x d_model")
    parser.add_argument("--projection-d-model", type=int, nargs="*", default=[4096, 2048], help="projection benchmark widths (none: skip it)")
    parser.add_argument("--projection-d-sae", type=int, nargs="+", default=[65536])
    parser.add_argument("--projection-tokens", type=int, nargs="+", default=[400, 8192], help="activations per call: one probe batch, one 8 x 1024 training batch")
    parser.add_argument("--projection-k", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--projection-min-run-time", type=float, default=0.25)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice; 1 with --quick, whose tiny matmuls only lose from threading)")
    parser.add_argument("--deadline-seconds", type=float, default=None, help="skip stages that would end after this many seconds from the start (recorded as skipped)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON report here, after every stage")
    parser.add_argument("--quick", action="store_true", help="tiny model on CPU, few steps: a smoke run of the benchmark itself")
    args = parser.parse_args(argv)
    if args.quick:
        args.device = args.device or "cpu"
        args.models = args.models or ["tiny"]
        args.threads = args.threads or 1
        args.warmup, args.steps, args.prompt_repeats = 1, 3, 2
        args.every_n_steps, args.fit_periods, args.fit_repeats = 4, 1, 1
        if args.projection_d_model == [4096, 2048]:
            args.projection_d_model = [64]
        args.projection_d_sae, args.projection_tokens, args.projection_k, args.projection_min_run_time = [4096], [400], [1, 8], 0.02
    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    args.models = args.models or ["1b", "8b"]
    return args


# --- pieces --------------------------------------------------------------------------------------


def llama3_like_tokenizer(texts: list[str]):
    """A fast word-level tokenizer with Llama 3's special tokens and chat template.

    Real Llama 3 tokenizers cannot be downloaded here; this one gives about the same token count
    on English prose (one token per word or run of punctuation) and real character offsets,
    which the monitor's content masks need.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = sorted({word for text in texts for word in re.findall(r"\w+|[^\w\s]+", text)})
    vocab = {token: index for index, token in enumerate([*SPECIAL_TOKENS, "[UNK]", *words])}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.add_special_tokens(list(SPECIAL_TOKENS))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<|begin_of_text|>", eos_token="<|eot_id|>", pad_token="<|finetune_right_pad_id|>", unk_token="[UNK]",
    )
    tokenizer.chat_template = LLAMA3_TEMPLATE
    return tokenizer


def build_model(preset: Preset, vocab_size: int, tokenizer, device: torch.device, dtype: torch.dtype):
    """A random-initialised Llama of ``preset``'s shape, created directly on ``device`` in ``dtype``."""
    from transformers import AutoModelForCausalLM, LlamaConfig

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=preset.hidden_size,
        intermediate_size=preset.intermediate_size,
        num_hidden_layers=preset.layers,
        num_attention_heads=preset.heads,
        num_key_value_heads=preset.kv_heads,
        max_position_embeddings=max(8192, preset.seq_len),
        tie_word_embeddings=preset.tie_word_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        use_cache=False,
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation="sdpa")
    return model.train()


def random_batch(batch_size: int, seq_len: int, vocab_size: int, low: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """A packed SFT batch (no padding): the first quarter of each row is the prompt, the rest the answer."""
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(low, vocab_size, (batch_size, seq_len), generator=generator)
    answer = (torch.arange(seq_len) >= seq_len // 4).expand(batch_size, seq_len).clone()
    labels = input_ids.masked_fill(~answer, -100)
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids), "labels": labels, "response_mask": answer}


def make_optimizer(parameters, device: torch.device, lr: float = 1e-5) -> torch.optim.Optimizer:
    """AdamW with states in the parameters' dtype; fused on CUDA (no full-size temporaries)."""
    return torch.optim.AdamW([p for p in parameters if p.requires_grad], lr=lr, fused=device.type == "cuda")


#: A model is not started with less time than this left before --deadline-seconds (init, steps, prompt passes).
MODEL_MIN_SECONDS = 60

def signals_error_on(signals, device: torch.device, d_model: int, dtype: torch.dtype) -> str | None:
    """Whether the signals, as the pack built them, can score activations on ``device``: None, or the error."""
    try:
        signals.score(torch.randn(2, 3, d_model, device=device, dtype=dtype), torch.ones(2, 3, dtype=torch.bool, device=device))
    except Exception as error:  # noqa: BLE001 — recorded: the monitor's fits would count the same failure
        return f"{type(error).__name__}: {error}"
    return None


class Clock:
    """Wall-clock seconds with the device synchronised first, and the run's deadline."""

    def __init__(self, device: torch.device, deadline: float | None) -> None:
        self.cuda = device.type == "cuda"
        self.started = time.perf_counter()
        self.deadline = deadline

    def now(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    def left(self) -> float:
        return math.inf if self.deadline is None else self.deadline - (time.perf_counter() - self.started)


def free_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def is_oom(error: BaseException) -> bool:
    return isinstance(error, getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)) or "out of memory" in str(error).lower()


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 6) if values else None


def _rounded(values: list[float]) -> list[float]:
    return [round(value, 6) for value in values]


# --- the measurements ----------------------------------------------------------------------------


def time_steps(model, batch: dict, layer: int, signals, special_ids: list[int], args, clock: Clock, device: torch.device) -> dict:
    """Plain training steps alternating with steps whose forward is captured and whose batch is then scored."""
    from em_monitor.chat import scored_token_mask
    from em_monitor.runtime.capture import capture_residual

    optimizer = make_optimizer(model.parameters(), device)
    on_device = {key: value.to(device) for key, value in batch.items()}
    plain, captured, scoring, capture_missing = [], [], [], 0

    def step(capture: bool) -> tuple[float, float | None]:
        nonlocal capture_missing
        started = clock.now()
        score_seconds = None
        if capture:
            with capture_residual(model, layer) as buffer:
                loss = model(input_ids=on_device["input_ids"], attention_mask=on_device["attention_mask"], labels=on_device["labels"]).loss
                loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            score_started = clock.now()
            if buffer.activations is None:
                capture_missing += 1
            else:
                # What Controller._score_train_batch does with the captured activations.
                mask = scored_token_mask(on_device, special_ids).to(buffer.activations.device)
                _scores = {name: scores.detach().float().cpu() for name, scores in signals.score(buffer.activations, mask).items()}
            score_seconds = clock.now() - score_started
        else:
            loss = model(input_ids=on_device["input_ids"], attention_mask=on_device["attention_mask"], labels=on_device["labels"]).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        return clock.now() - started, score_seconds

    if clock.cuda:
        torch.cuda.reset_peak_memory_stats(device)
    for index in range(args.warmup):
        step(capture=index == args.warmup - 1)  # the last warm-up step also warms the scoring kernels
    for _ in range(args.steps):
        plain.append(step(capture=False)[0])
        seconds, score_seconds = step(capture=True)
        captured.append(seconds)
        scoring.append(score_seconds)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if clock.cuda else None
    del optimizer, on_device
    free_memory()
    return {
        "step_seconds": _median(plain),
        "step_seconds_all": _rounded(plain),
        "train_batch_scoring_seconds": _median(scoring),
        "train_batch_scoring_seconds_all": _rounded(scoring),
        "train_step_with_capture_seconds": _median(captured),
        "train_batch_step_delta_seconds": round(statistics.median(captured) - statistics.median(plain), 6),
        "capture_missing": capture_missing,
        "peak_memory_gib": round(peak, 2) if peak is not None else None,
    }


def time_prompt_pass(model, tokenizer, layer: int, signals, args, clock: Clock) -> dict:
    from em_monitor.prompts import load_prompts
    from em_monitor.runtime.prompt_probe import PromptProbe

    prompts = load_prompts(BUILTIN_PROMPTS)
    # The monitor's defaults: batch_size 8, max_length 128.
    probe = PromptProbe(tokenizer, prompts, layer=layer, signals=signals, batch_size=8, max_length=128)
    tokens = [int(batch.attention_mask.sum()) for batch in probe.batches]
    probe.score(model)  # first pass: checks the shared-prefix cache against a plain pass
    seconds = []
    for _ in range(args.prompt_repeats):
        started = clock.now()
        probe.score(model)
        seconds.append(clock.now() - started)
    return {
        "prompt_pass_seconds": _median(seconds),
        "prompt_pass_seconds_all": _rounded(seconds),
        "prompts": len(prompts),
        "prompt_tokens_mean": round(sum(tokens) / len(prompts), 1),
        "prompt_batches": len(probe.batches),
        "prompt_batch_size": 8,
        "prompt_max_length": 128,
        "shared_prefix_tokens": probe.prefix.length if probe.prefix is not None else 0,
    }


def lightning_fits(model, tokenizer, batch: dict, pack: Path, args, clock: Clock, device: torch.device, workdir: Path, step_seconds: float) -> dict:
    """Real Trainer fits without and with PersonaMonitor at the default cadence, ABBA interleaved.

    A fit runs ``every_n_steps * (1 + fit_periods)`` steps; its first period holds the baseline
    passes (every step until ``baseline_samples``) and the optimizer's first steps, and is left
    out. The ratio compares the wall time of the remaining whole periods (each with one sampled
    step) between the monitored and the plain fit of the same repeat.
    """
    import lightning.pytorch as pl
    from em_monitor.callbacks import PersonaMonitor
    from torch.utils.data import DataLoader

    from em_monitor.config import parse_config
    from em_monitor.finetune.lightning import CausalLMModule

    every = args.every_n_steps
    steps = every * (1 + args.fit_periods)
    window = (every, steps)

    class Module(CausalLMModule):
        def configure_optimizers(self):
            return make_optimizer(self.model.parameters(), device, lr=self.lr)

    class StepTimer(pl.Callback):
        """Synchronised wall time at every batch start (first in the callback list) and at the end."""

        def __init__(self) -> None:
            self.marks: list[float] = []

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
            self.marks.append(clock.now())

        def on_train_end(self, trainer, pl_module) -> None:
            self.marks.append(clock.now())

    rows = [{key: value[row] for key, value in batch.items()} for row in range(batch["input_ids"].shape[0])]
    order = [("none", "default", "default", "none")[index % 4] for index in range(2 * args.fit_repeats)]
    results: dict[str, list[dict]] = {"none": [], "default": []}
    skipped = []
    for index, config in enumerate(order):
        estimate = steps * step_seconds * 1.5 + 15
        if clock.left() < estimate:
            skipped.append(index)
            continue
        timer = StepTimer()
        callbacks: list = [timer]
        monitor = None
        if config == "default":
            settings = {"run": f"scale-{index}", "pack": str(pack), "every_n_steps": every,
                        "prometheus": {"enabled": True, "port": 0}, "event_log": str(workdir / f"events-{index}.jsonl")}
            monitor = PersonaMonitor(parse_config(settings, base_dir=workdir), tokenizer=tokenizer)
            callbacks.append(monitor)
        trainer = pl.Trainer(
            max_steps=steps, accelerator="gpu" if device.type == "cuda" else "cpu", devices=1,
            precision="bf16-true" if model.dtype == torch.bfloat16 else "32-true",
            logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
            default_root_dir=workdir, callbacks=callbacks, num_sanity_val_steps=0,
        )
        module = Module(model, tokenizer, lr=1e-5)
        loader = DataLoader(rows * steps, batch_size=len(rows), shuffle=False)
        started = time.perf_counter()
        trainer.fit(module, loader)
        fit_seconds = time.perf_counter() - started
        intervals = [after - before for before, after in zip(timer.marks, timer.marks[1:])]
        result = {"fit_seconds": round(fit_seconds, 3), "window_seconds": round(sum(intervals[window[0]:window[1]]), 6),
                  "steps_timed": len(intervals)}
        if monitor is not None:
            sampled = {step for step in range(*window) if monitor.monitor.is_sampling_step(step) or monitor.monitor.is_train_batch_step(step)}
            result["sampled_steps_in_window"] = sorted(sampled)
            result["sampled_step_seconds"] = _median([intervals[step] for step in sampled])
            result["plain_step_seconds"] = _median([intervals[step] for step in range(*window) if step not in sampled])
            metrics = monitor.monitor.metrics
            for source, (passes, seconds) in metrics.pass_summary().items():
                result[f"{source}_passes"], result[f"{source}_pass_seconds"] = passes, None if seconds is None else round(seconds, 6)
            result["monitor_errors"] = int(sum(metrics.counts()["errors"].values()))
        else:
            result["plain_step_seconds"] = _median(intervals[window[0]:window[1]])
        results[config].append(result)
        print(f"  fit {index} {config}: {fit_seconds:.1f}s, window {result['window_seconds']:.3f}s", file=sys.stderr, flush=True)
        model.zero_grad(set_to_none=True)
        del trainer, module, monitor, callbacks
        free_memory()
    # Pair each monitored fit with the plain fit of its ABBA half (0 with 0, 1 with 1, ...).
    pairs = list(zip(results["none"], results["default"]))
    ratios = [monitored["window_seconds"] / plain["window_seconds"] for plain, monitored in pairs]
    # As overhead.py's within_run_overhead_ratio: sampled against plain steps inside each monitored fit.
    within = [
        1 + (monitored["sampled_step_seconds"] - monitored["plain_step_seconds"]) / every / monitored["plain_step_seconds"]
        for monitored in results["default"] if monitored.get("sampled_step_seconds") and monitored.get("plain_step_seconds")
    ]
    return {
        "default_cadence_overhead_ratio": round(statistics.median(ratios), 4) if ratios else None,
        "default_cadence_overhead_ratio_all": [round(ratio, 4) for ratio in ratios],
        "within_fit_overhead_ratio": round(statistics.median(within), 4) if within else None,
        "fits": {"steps": steps, "window": list(window), "every_n_steps": every, "order": order, "skipped_for_deadline": skipped,
                 "precision": "bf16-true" if model.dtype == torch.bfloat16 else "32-true", "runs": results},
        "monitor_errors": sum(run.get("monitor_errors", 0) for run in results["default"]),
    }


def measure_model(key: str, args, tokenizer, clock: Clock, device: torch.device, dtype: torch.dtype, checkpointing: bool) -> dict:
    from em_monitor.packs import load_pack
    from em_monitor.tiny import random_pack

    preset = PRESETS[key]
    if args.batch_size or args.seq_len:
        preset = Preset(**{**asdict(preset), "batch_size": args.batch_size or preset.batch_size, "seq_len": args.seq_len or preset.seq_len})
    vocab_size = preset.vocab_size or len(tokenizer)
    layer = preset.layers // 2
    d_sae = args.pack_sae_width * preset.hidden_size
    report: dict = {"preset": asdict(preset), "vocab_size": vocab_size, "layer": layer, "tokens_per_step": preset.batch_size * preset.seq_len,
                    "gradient_checkpointing": checkpointing, "optimizer": f"AdamW lr 1e-5, states in {str(dtype).removeprefix('torch.')}{', fused' if device.type == 'cuda' else ''}"}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        pack = random_pack(workdir / "pack", d_model=preset.hidden_size, layer=layer, d_sae=d_sae)
        signals = load_pack(pack).build_signals()
        report["pack"] = {"d_sae": d_sae, "signals": signals.kinds, "build_seconds": round(time.perf_counter() - started, 2)}
        model = None
        started = clock.now()
        model = build_model(preset, vocab_size, tokenizer, device, dtype)
        report["init_seconds"] = round(clock.now() - started, 2)
        report["parameters"] = sum(parameter.numel() for parameter in model.parameters())
        report["attn_implementation"] = model.config._attn_implementation
        if checkpointing:
            model.gradient_checkpointing_enable()
        try:
            report["signals_as_built_error"] = signals_error_on(signals, device, preset.hidden_size, dtype)
            batch = random_batch(preset.batch_size, preset.seq_len, vocab_size, low=len(SPECIAL_TOKENS) + 1)
            special_ids = list(tokenizer.all_special_ids)
            print(f"[{key}] {report['parameters'] / 1e9:.2f}B parameters, batch {preset.batch_size} x {preset.seq_len}: timing steps", file=sys.stderr, flush=True)
            report.update(time_steps(model, batch, layer, signals, special_ids, args, clock, device))
            print(f"[{key}] step {report['step_seconds']:.4f}s, train-batch scoring {report['train_batch_scoring_seconds']:.5f}s: prompt pass", file=sys.stderr, flush=True)
            report.update(time_prompt_pass(model, tokenizer, layer, signals, args, clock))
            report["steady_state_overhead_ratio_from_parts"] = round(
                1 + (report["prompt_pass_seconds"] + report["train_batch_scoring_seconds"]) / args.every_n_steps / report["step_seconds"], 4)
            print(f"[{key}] prompt pass {report['prompt_pass_seconds']:.4f}s: Lightning fits", file=sys.stderr, flush=True)
            if not args.no_fits:
                report.update(lightning_fits(model, tokenizer, batch, pack, args, clock, device, workdir, report["step_seconds"]))
        finally:
            del model, signals
            free_memory()
    return report


def run_projection(args, device: torch.device, clock: Clock) -> list[dict]:
    import projection

    reports = []
    for d_model in args.projection_d_model:
        for tokens in args.projection_tokens:
            # ~3 paths x k x 2 architectures x min_run_time, plus the SAEs' creation.
            estimate = 6 * len(args.projection_k) * args.projection_min_run_time * 2 + 10
            if clock.left() < estimate:
                reports.append({"d_model": d_model, "tokens": tokens, "skipped": "deadline"})
                continue
            argv = ["--device", str(device), "--d-model", str(d_model), "--tokens", str(tokens), "--d-sae", *map(str, args.projection_d_sae),
                    "--k", *map(str, args.projection_k), "--min-run-time", str(args.projection_min_run_time)]
            if args.quick:
                argv += ["--architectures", "standard"]
            try:
                reports.append(projection.main(argv))
            except Exception as error:  # noqa: BLE001 — one failed width must not lose the rest
                reports.append({"d_model": d_model, "tokens": tokens, "error": f"{type(error).__name__}: {error}", "trace": traceback.format_exc(limit=4)})
                free_memory()
    return reports


def environment(device: torch.device, dtype: torch.dtype) -> dict:
    import lightning
    import transformers

    info = {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine()),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "lightning": lightning.__version__,
        "python": platform.python_version(),
        "dtype": str(dtype).removeprefix("torch."),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        info.update({"cuda": torch.version.cuda, "device_memory_gib": round(properties.total_memory / 2**30, 1)})
    return info


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    warnings.filterwarnings("ignore")
    for name in ("lightning.pytorch", "lightning.fabric", "transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if args.threads:
        torch.set_num_threads(args.threads)
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    if device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device() if device.index is None else device.index)
    clock = Clock(device, args.deadline_seconds)
    from em_monitor.prompts import load_prompts

    tokenizer = llama3_like_tokenizer([*load_prompts(BUILTIN_PROMPTS), LLAMA3_SYSTEM_HEADER, "system user assistant"])
    report: dict = {
        "benchmark": "scale",
        **environment(device, dtype),
        "settings": {key: (str(value) if isinstance(value, Path) else value) for key, value in vars(args).items()},
        "tokenizer": f"word-level, Llama 3 special tokens and chat template ({len(tokenizer)} tokens)",
        "models": {},
    }

    def save() -> None:
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, indent=1) + "\n")

    if args.projection_d_model:
        print("projection: watched latents vs full encode", file=sys.stderr, flush=True)
        report["projection"] = run_projection(args, device, clock)
        save()
    for key in args.models:
        if clock.left() < MODEL_MIN_SECONDS:
            report["models"][key] = {"skipped": f"deadline: {clock.left():.0f}s left of --deadline-seconds"}
            continue
        tries = [args.gradient_checkpointing == "on"] + ([True] if args.gradient_checkpointing == "on-oom" else [])
        attempts: list[dict] = []
        for checkpointing in tries:
            result = None
            try:
                result = measure_model(key, args, tokenizer, clock, device, dtype, checkpointing)
            except Exception as error:  # noqa: BLE001 — record it and go on to the next model
                attempts.append({"gradient_checkpointing": checkpointing, "out_of_memory": is_oom(error),
                                 "error": f"{type(error).__name__}: {str(error)[:2000]}", "trace": traceback.format_exc(limit=6)})
                print(f"[{key}] failed: {attempts[-1]['error'][:300]}", file=sys.stderr, flush=True)
            free_memory()
            if result is not None:
                report["models"][key] = {**result, **({"earlier_attempts": attempts} if attempts else {})}
                break
            if not attempts[-1]["out_of_memory"]:
                break
        if key not in report["models"]:
            report["models"][key] = {"error": attempts[-1]["error"], "out_of_memory": attempts[-1]["out_of_memory"], "attempts": attempts}
        save()
    report["seconds"] = round(time.perf_counter() - clock.started, 1)
    save()
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
