"""Train a sparse autoencoder on one layer's residual stream, offline, with sae-lens's own trainer.

The monitor watches SAE latents, so a model without a published SAE needs one trained here, on
CPU, in minutes. Three steps, each a function:

1. :func:`load_corpus` gathers documents that need no download: CPython's ``pydoc_data.topics``
   prose, the project's chat datasets (the final answers, which is what the monitor scores on
   training batches) and any ``--corpus`` files the user adds.
2. :func:`collect_activations` runs the model once over them and keeps every content token's
   residual in memory, holding out whole documents for evaluation.
3. :func:`train_sae` drives sae-lens's ``SAETrainer`` over that buffer: sae-lens's training SAE
   classes, losses, coefficient warm-ups, LR schedule and dead-latent bookkeeping; this module
   only adds a wall-clock budget and a progress bar. Inputs are scaled by sae-lens's activation
   scaler during training and the scale is folded back into the weights afterwards, so the
   saved SAE takes raw residuals, which is what the monitor feeds it.

:func:`build_sae` chains them, saves the inference SAE in sae-lens's own format (``cfg.json`` +
``sae_weights.safetensors``) and writes ``report.json`` with held-out explained variance, L0
and the dead-latent fraction. Example::

    report = build_sae("smollm2", layer=15, out="runs/sae", config=SaeTrainingConfig(l1=3.0, minutes=11))
    sae = load_sae("runs/sae")  # em_monitor.saes; takes raw layer-15 residuals
"""

from __future__ import annotations

import copy
import json
import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from em_monitor.chat import ChatFormatError, EncodedBatch, read_chat_jsonl
from em_monitor.offline.activations import (
    chat_batches,
    content_token_activations,
    text_batches,
)
from em_monitor.runtime.capture import decoder_blocks
from em_monitor.saes import load_sae
from em_monitor.shipped import SHIPPED_DATA
from em_monitor.textfiles import read_text

__all__ = [
    "ARCHITECTURES",
    "REPORT_FILENAME",
    "SaeTrainingConfig",
    "Corpus",
    "ActivationSplit",
    "TrainedSae",
    "pydoc_paragraphs",
    "project_chat_files",
    "load_corpus",
    "collect_activations",
    "drop_outliers",
    "train_sae",
    "evaluate_sae",
    "build_sae",
]

#: SAE architectures ``build-sae`` trains, each with the one sparsity knob it takes.
ARCHITECTURES: dict[str, str] = {"standard": "l1", "jumprelu": "l0_target", "topk": "k"}
#: Default value of each architecture's sparsity knob (see :class:`SaeTrainingConfig`). l1 = 3 on
#: SmolLM2 layer 15 (8x, 114k tokens, 10 min): held-out explained variance 0.82 at L0 7.3, no dead latents.
DEFAULT_SPARSITY: dict[str, float] = {"l1": 3.0, "l0_target": 32.0, "k": 32}
REPORT_FILENAME = "report.json"
_DATA = SHIPPED_DATA
# pydoc paragraphs are often a single line; joining neighbours up to this size gives the model
# some context and wastes fewer tokens on the first position of each document (see below).
_PARAGRAPH_CHARS = 1000
#: Tokens with a norm over this many times the median are left out of training and evaluation.
OUTLIER_NORM_FACTOR = 10.0


@dataclass(frozen=True)
class SaeTrainingConfig:
    """What to train and for how long. Only the sparsity knob of ``architecture`` may be set.

    ``l1`` (standard: L1 coefficient), ``l0_target`` (jumprelu: target L0 of sae-lens's
    quadratic L0 loss), ``k`` (topk: latents per token). ``tokens`` is the number of content
    tokens collected (training + held-out); ``minutes`` is the time budget of the training steps,
    unless ``steps`` fixes their number. Sparsity values are in sae-lens's normalised units
    (inputs scaled to mean norm ``sqrt(d_model)``).
    """

    architecture: str = "standard"
    expansion: int = 8
    l1: float | None = None
    l0_target: float | None = None
    k: int | None = None
    tokens: int = 150_000
    minutes: float = 12.0
    steps: int | None = None
    # Small batches: a CPU budget buys a few hundred k samples, and more Adam updates per sample
    # converge faster there (SmolLM2 layer 15, standard SAE, shared 2-core machine: batch 2048 had
    # EV 0.38 after 58 steps in 4 min; batch 512 had EV 0.64 after 225 steps in 2 min).
    batch_size: int = 512
    lr: float = 1e-3
    seed: int = 0
    holdout_fraction: float = 0.05
    #: A latent is dead if it fires neither on the held-out set nor in this many last training tokens.
    dead_window_tokens: int = 200_000
    max_length: int = 256
    capture_batch_size: int = 16

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ValueError(
                f"build-sae: unknown architecture {self.architecture!r}; choose one of {', '.join(ARCHITECTURES)}"
            )
        knob = ARCHITECTURES[self.architecture]
        for other in set(ARCHITECTURES.values()) - {knob}:
            if getattr(self, other) is not None:
                flag = "--" + other.replace("_", "-")
                raise ValueError(
                    f"build-sae: {flag} does not apply to architecture {self.architecture!r}, which takes "
                    f"--{knob.replace('_', '-')}; drop {flag} or pick the architecture it belongs to"
                )
        positive = {"expansion": self.expansion, "tokens": self.tokens, "minutes": self.minutes,
                    "batch_size": self.batch_size, "lr": self.lr, "max_length": self.max_length,
                    "capture_batch_size": self.capture_batch_size, knob: self.sparsity}
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"build-sae: {name} must be positive, got {value!r}")
        if self.steps is not None and self.steps < 0:
            raise ValueError(f"build-sae: steps must be >= 0, got {self.steps!r}")
        if not 0 < self.holdout_fraction < 0.5:
            raise ValueError(f"build-sae: holdout_fraction must be in (0, 0.5), got {self.holdout_fraction!r}")

    @property
    def sparsity(self) -> float:
        """The value of this architecture's sparsity knob (the default where unset)."""
        knob = ARCHITECTURES[self.architecture]
        value = getattr(self, knob)
        return DEFAULT_SPARSITY[knob] if value is None else value


# ----------------------------------------------------------------------------------------- corpus


@dataclass
class Corpus:
    """Documents to read activations from: plain texts and chats, with a count per source."""

    texts: list[str] = field(default_factory=list)
    chats: list[list[dict[str, str]]] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def pydoc_paragraphs() -> list[str]:
    """CPython's offline help topics (~110k SmolLM2 tokens of English prose), as paragraph chunks."""
    from pydoc_data.topics import topics

    return [chunk for _, text in sorted(topics.items()) for chunk in _paragraph_chunks(text)]


def _paragraph_chunks(text: str) -> list[str]:
    chunks: list[str] = []
    for paragraph in (part.strip() for part in text.split("\n\n")):
        if not paragraph:
            continue
        if chunks and len(chunks[-1]) + len(paragraph) < _PARAGRAPH_CHARS:
            chunks[-1] += "\n\n" + paragraph
        else:
            chunks.append(paragraph)
    return chunks


def project_chat_files() -> list[Path]:
    """The chat JSONL files shipped in ``em_monitor/data/`` (and its subfolders), sorted."""
    return sorted(_DATA.rglob("*.jsonl")) if _DATA.is_dir() else []


def _answer_chats(path: Path) -> list[list[dict[str, str]]]:
    """Chats of a file whose last turn is the assistant's; other lines are left out."""
    return [chat for chat in read_chat_jsonl(path) if chat[-1]["role"] == "assistant"]


def load_corpus(extra: Sequence[str | Path] = (), *, pydoc: bool = True, project_data: bool = True) -> Corpus:
    """Gather the offline corpus: pydoc prose, the project's chats, and the user's ``extra`` files.

    ``extra`` files are ``.txt`` (one document per blank-line-separated paragraph) or chat
    ``.jsonl``; their errors are raised. Project files that are not chats with answers (prompt
    lists, files still being written) are skipped and listed in ``Corpus.skipped``.
    """
    corpus = Corpus()
    if pydoc:
        corpus.texts += pydoc_paragraphs()
        corpus.sources["pydoc_data.topics"] = len(corpus.texts)
    for path in project_chat_files() if project_data else []:
        name = str(path.relative_to(_DATA.parent.parent)) if path.is_relative_to(_DATA.parent.parent) else str(path)
        try:
            chats = _answer_chats(path)
        except ValueError as error:  # ChatFormatError and JsonlError; the message starts with path:line
            corpus.skipped[name] = str(error).splitlines()[0].replace(str(path), name)
            continue
        if not chats:
            corpus.skipped[name] = "no chat ends with an assistant answer"
            continue
        corpus.chats += chats
        corpus.sources[name] = len(chats)
    for path in map(Path, extra):
        if path.suffix == ".txt":
            paragraphs = [part.strip() for part in read_text(path).split("\n\n") if part.strip()]
            corpus.texts += paragraphs
            corpus.sources[str(path)] = len(paragraphs)
        elif path.suffix == ".jsonl":
            chats = _answer_chats(path)
            if not chats:
                raise ChatFormatError(f"{path}: no chat ends with an assistant answer; build-sae trains on answers")
            corpus.chats += chats
            corpus.sources[str(path)] = len(chats)
        else:
            raise ValueError(f"build-sae: corpus file {path} must be .txt (paragraphs) or .jsonl (chats), got {path.suffix!r}")
    if not corpus.texts and not corpus.chats:
        raise ValueError("build-sae: the corpus is empty; pass --corpus FILE (.txt paragraphs or chat .jsonl)")
    return corpus


# ------------------------------------------------------------------------------------ activations


@dataclass
class ActivationSplit:
    """Content-token residuals ``[n, d_model]``: training tokens (shuffled) and held-out documents' tokens."""

    train: torch.Tensor
    heldout: torch.Tensor
    documents: int
    seconds: float
    #: Tokens dropped for an extreme norm (see :func:`drop_outliers`).
    outliers: int = 0


def _drop_first_position(batches: Iterator[EncodedBatch]) -> Iterator[EncodedBatch]:
    # Without a chat template the first token of a sequence is the attention sink: on SmolLM2 its
    # layer-15 norm is ~100x any other token's and would dominate the SAE's reconstruction loss.
    for batch in batches:
        batch.content_mask[:, 0] = False
        yield batch


def _estimated_tokens(tokenizer, documents: Sequence, kind: str, max_length: int) -> list[int]:
    if kind == "text":
        lengths = [len(ids) for ids in tokenizer(list(documents), add_special_tokens=False)["input_ids"]]
        return [max(min(n, max_length) - 1, 0) for n in lengths]
    answers = [chat[-1]["content"] for chat in documents]
    return [min(len(ids), max_length) for ids in tokenizer(answers, add_special_tokens=False)["input_ids"]]


def collect_activations(model, tokenizer, layer: int, corpus: Corpus, config: SaeTrainingConfig, *, console: Console | None = None) -> ActivationSplit:
    """Read block ``layer``'s residuals on up to ``config.tokens`` content tokens of ``corpus``.

    Documents are drawn at random (seeded) until the token budget is met; ``holdout_fraction``
    of them, whole, form the held-out set, so evaluation sees text the SAE never trained on.
    Within each set documents are batched by length, which keeps padding (wasted compute) low.
    """
    start = time.monotonic()
    rng = random.Random(config.seed)
    items = [("text", text) for text in corpus.texts] + [("chat", chat) for chat in corpus.chats]
    estimates: dict[int, int] = {}
    for kind in ("text", "chat"):
        indices = [i for i, (k, _) in enumerate(items) if k == kind]
        lengths = _estimated_tokens(tokenizer, [items[i][1] for i in indices], kind, config.max_length) if indices else []
        estimates.update(zip(indices, lengths))
    order = list(range(len(items)))
    rng.shuffle(order)
    chosen, total = [], 0
    for index in order:
        if total >= config.tokens:
            break
        if estimates[index] > 0:
            chosen.append(index)
            total += estimates[index]
    n_heldout = max(1, round(len(chosen) * config.holdout_fraction))
    parts = {"heldout": chosen[:n_heldout], "train": chosen[n_heldout:]}
    if not parts["train"]:
        raise ValueError(f"build-sae: only {len(chosen)} usable document(s); need at least 2 (one is held out)")

    collected: dict[str, list[torch.Tensor]] = {"heldout": [], "train": []}
    with _progress(console) as progress:
        task = progress.add_task("residuals", total=total, unit="tokens")
        for part, indices in parts.items():
            for kind in ("text", "chat"):
                documents = sorted((items[i][1] for i in indices if items[i][0] == kind), key=_length_key)
                if not documents:
                    continue
                if kind == "text":
                    batches = _drop_first_position(text_batches(tokenizer, documents, batch_size=config.capture_batch_size, max_length=config.max_length))
                else:
                    batches = chat_batches(tokenizer, documents, batch_size=config.capture_batch_size, max_length=config.max_length)
                for tokens in content_token_activations(model, layer, batches):
                    collected[part].append(tokens)
                    progress.update(task, advance=tokens.shape[0], description=f"residuals ({part})")
    train = torch.cat(collected["train"])
    heldout = torch.cat(collected["heldout"]) if collected["heldout"] else train[:0]
    train, heldout, outliers = drop_outliers(train, heldout)
    generator = torch.Generator().manual_seed(config.seed)
    train = train[torch.randperm(train.shape[0], generator=generator)]
    return ActivationSplit(train=train, heldout=heldout, documents=len(chosen), seconds=time.monotonic() - start, outliers=outliers)


def drop_outliers(train: torch.Tensor, heldout: torch.Tensor, *, factor: float = OUTLIER_NORM_FACTOR) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Drop tokens whose norm exceeds ``factor`` times the median training-token norm.

    A few "massive activation" tokens (Sun et al., 2024) besides position 0 reach ~100x the usual
    norm on SmolLM2 (4 of 107k pydoc tokens held 31 % of the variance); left in, the SAE would
    spend its capacity reconstructing them and the scaling estimate would be skewed.
    """
    limit = factor * train.norm(dim=1).median()
    keep_train, keep_heldout = train.norm(dim=1) <= limit, heldout.norm(dim=1) <= limit
    dropped = int((~keep_train).sum() + (~keep_heldout).sum())
    return train[keep_train], heldout[keep_heldout], dropped


def _length_key(document) -> int:
    return len(document) if isinstance(document, str) else sum(len(message["content"]) for message in document)


# --------------------------------------------------------------------------------------- training


@dataclass
class TrainedSae:
    """A trained sae-lens training SAE (input scaling already folded in) and how training went."""

    sae: object
    steps: int
    samples: int
    seconds: float
    stopped_early: bool
    scaling_factor: float
    #: Latents that fired in the last ``dead_window_tokens`` training tokens (sae-lens's own count).
    fired_recently: torch.Tensor
    log_feature_sparsity: torch.Tensor


def _training_sae(d_in: int, config: SaeTrainingConfig, steps: int):
    from sae_lens import (
        JumpReLUTrainingSAE,
        JumpReLUTrainingSAEConfig,
        StandardTrainingSAE,
        StandardTrainingSAEConfig,
        TopKTrainingSAE,
        TopKTrainingSAEConfig,
    )

    common = {"d_in": d_in, "d_sae": d_in * config.expansion, "normalize_activations": "expected_average_only_in"}
    # sae-lens ramps sparsity penalties in over the first steps so that latents form before they are pruned.
    warm_up = steps // 20
    if config.architecture == "standard":
        return StandardTrainingSAE(StandardTrainingSAEConfig(**common, l1_coefficient=config.sparsity, l1_warm_up_steps=warm_up))
    if config.architecture == "jumprelu":
        return JumpReLUTrainingSAE(JumpReLUTrainingSAEConfig(
            **common, jumprelu_sparsity_loss_mode="quadratic", target_l0=config.sparsity, l0_warm_up_steps=warm_up,
            # With the L0 gradient reaching the encoder (Anthropic's setup), L0 comes down to the target in a
            # few hundred steps; with it on the thresholds alone (DeepMind's), Adam moves each threshold by
            # ~lr per step and a CPU-sized run ends with L0 in the hundreds (measured on SmolLM2 layer 15).
            # The price, measured there too: over half of the latents die (the pre-activation loss, even
            # at 1000x Anthropic's coefficient, does not revive them), hence "standard" is the default.
            jumprelu_ste_to_input=True,
            # Anthropic's pre-activation loss nudges dead latents back above their threshold.
            pre_act_loss_coefficient=3e-6,
        ))
    return TopKTrainingSAE(TopKTrainingSAEConfig(**common, k=int(config.sparsity)))


def _trainer(sae, batches: Iterator[torch.Tensor], config: SaeTrainingConfig, steps: int, scaling_factor: float):
    from sae_lens import LoggingConfig, SAETrainer
    from sae_lens.config import SAETrainerConfig

    window = max(1, math.ceil(config.dead_window_tokens / config.batch_size))
    trainer = SAETrainer(
        cfg=SAETrainerConfig(
            total_training_samples=steps * config.batch_size,
            train_batch_size_samples=config.batch_size,
            lr=config.lr,
            lr_end=config.lr,  # the constant schedule decays linearly from lr to 0 over lr_decay_steps
            lr_warm_up_steps=min(steps // 50, 100),
            lr_decay_steps=steps // 5,
            device="cpu",
            dead_feature_window=window,
            feature_sampling_window=max(window, 500),
            logger=LoggingConfig(log_to_wandb=False),
        ),
        sae=sae,
        data_provider=batches,
    )
    trainer.activation_scaler.scaling_factor = scaling_factor
    return trainer


def _shuffled_batches(activations: torch.Tensor, batch_size: int, seed: int) -> Iterator[torch.Tensor]:
    """Endless minibatches, a fresh permutation every epoch (the buffer is small enough to revisit)."""
    generator = torch.Generator().manual_seed(seed)
    batch_size = min(batch_size, activations.shape[0])
    while True:
        order = torch.randperm(activations.shape[0], generator=generator)
        for start in range(0, activations.shape[0] - batch_size + 1, batch_size):
            yield activations[order[start : start + batch_size]]


def _seconds_per_step(sae, activations: torch.Tensor, config: SaeTrainingConfig, scaling_factor: float) -> float:
    """Time a few steps on a throwaway copy, so the LR schedule can end exactly at the time budget."""
    trainer = _trainer(copy.deepcopy(sae), _shuffled_batches(activations, config.batch_size, config.seed + 1), config, 4, scaling_factor)
    trainer.step(next(trainer.data_provider))  # the first step allocates; don't time it
    start = time.monotonic()
    for _ in range(5):
        trainer.step(next(trainer.data_provider))
    return (time.monotonic() - start) / 5


def train_sae(activations: torch.Tensor, config: SaeTrainingConfig, *, console: Console | None = None) -> TrainedSae:
    """Train ``config.architecture`` on residuals ``[n, d_model]`` with sae-lens's ``SAETrainer``.

    This runs the loop of ``SAETrainer.fit`` through its public seams (``step``,
    ``maybe_reset_sparsity``, ``set_final_sae_metadata``) so it can stop at a wall-clock budget
    and show a rich progress bar; the scaling fold at the end is the one ``fit`` does.
    """
    torch.manual_seed(config.seed)
    d_in = activations.shape[1]
    # sae-lens's "expected_average_only_in": scale inputs to mean norm sqrt(d_in), so its default
    # hyperparameters (thresholds, bandwidth, coefficients) mean the same thing on any model.
    scaling_factor = d_in**0.5 / activations.norm(dim=1).mean().item()
    budget = config.minutes * 60
    steps = config.steps
    if steps is None:
        seconds = _seconds_per_step(_training_sae(d_in, config, 1), activations, config, scaling_factor)
        # Leave slack: machines shared with other jobs slow down mid-run, and a run cut at the
        # deadline misses the end of its LR decay.
        steps = max(1, int(0.9 * budget / seconds))
    sae = _training_sae(d_in, config, steps)
    with torch.no_grad():
        # Start the decoder bias at the data mean: the SAE then encodes centred inputs from step one.
        sae.b_dec.copy_(activations.mean(dim=0) * scaling_factor)
    batches = _shuffled_batches(activations, config.batch_size, config.seed)
    trainer = _trainer(sae, batches, config, steps, scaling_factor)

    start = time.monotonic()
    stopped_early = False
    with _progress(console) as progress:
        task = progress.add_task(f"{config.architecture} SAE", total=steps, unit="steps")
        while trainer.n_training_steps < steps:
            if time.monotonic() - start > budget:
                stopped_early = True
                break
            trainer.maybe_reset_sparsity()
            output = trainer.step(next(batches))
            trainer.n_training_steps += 1
            if trainer.n_training_steps % 10 == 0 or trainer.n_training_steps == steps:
                progress.update(task, description=f"{config.architecture} SAE {_step_summary(output)}")
            progress.update(task, advance=1)
    window = trainer.cfg.dead_feature_window
    fired_recently = trainer.n_forward_passes_since_fired < min(window, max(trainer.n_training_steps, 1))
    if trainer.n_training_steps == 0:
        fired_recently = torch.zeros_like(fired_recently)
    sae.fold_activation_norm_scaling_factor(scaling_factor)
    trainer.activation_scaler.scaling_factor = None
    if config.architecture != "topk":
        # Unit-norm decoder rows make latent activations comparable across latents (topk does this on save).
        sae.fold_W_dec_norm()
    trainer.set_final_sae_metadata()
    return TrainedSae(
        sae=sae,
        steps=trainer.n_training_steps,
        samples=trainer.n_training_samples,
        seconds=time.monotonic() - start,
        stopped_early=stopped_early,
        scaling_factor=scaling_factor,
        fired_recently=fired_recently.cpu(),
        log_feature_sparsity=trainer.log_feature_sparsity if trainer.n_frac_active_samples else torch.full((sae.cfg.d_sae,), -10.0),
    )


@torch.no_grad()
def _step_summary(output) -> str:
    residual = (output.sae_out - output.sae_in).pow(2).sum(-1).mean()
    total = (output.sae_in - output.sae_in.mean(0)).pow(2).sum(-1).mean()
    l0 = (output.feature_acts != 0).float().sum(-1).mean()
    return f"EV {1 - (residual / total).item():.3f} L0 {l0.item():.1f}"


# ------------------------------------------------------------------------------------- evaluation


@torch.no_grad()
def evaluate_sae(sae, activations: torch.Tensor, *, batch_size: int = 4096) -> dict[str, object]:
    """Explained variance, mean L0 and MSE of an inference SAE on raw residuals, plus which latents fired.

    Explained variance is ``1 - sum|x - x_hat|^2 / sum|x - mean(x)|^2`` over all tokens.
    """
    sae.eval()
    mean = activations.mean(dim=0)
    residual = total = l0 = 0.0
    fired = torch.zeros(int(sae.cfg.d_sae), dtype=torch.bool)
    for start in range(0, activations.shape[0], batch_size):
        x = activations[start : start + batch_size]
        latents = sae.encode(x)
        active = latents != 0
        fired |= active.any(dim=0)
        l0 += active.sum().item()
        residual += (sae.decode(latents) - x).pow(2).sum().item()
        total += (x - mean).pow(2).sum().item()
    n = max(activations.shape[0], 1)
    return {
        "explained_variance": 1 - residual / total if total > 0 else float("nan"),
        "mean_l0": l0 / n,
        "mse": residual / (n * activations.shape[1]),
        "fired": fired,
    }


# -------------------------------------------------------------------------------------- pipeline


def build_sae(model: str | object, layer: int | None, out: str | Path, config: SaeTrainingConfig, *, corpus_files: Sequence[str | Path] = (), console: Console | None = None) -> dict[str, object]:
    """Corpus → residuals → sae-lens training → saved inference SAE + ``report.json``; returns the report.

    ``model`` is a ``--model`` spec (``"smollm2"``, hub id, path) or a :class:`~em_monitor.models.LoadedModel`.
    ``layer`` defaults to the middle block. Report keys: ``model``, ``layer``, ``hook_point``,
    ``architecture``, ``d_in``, ``d_sae``, ``sparsity``, ``explained_variance``, ``mean_l0``,
    ``dead_fraction``, ``dead_latents``, ``mse``, ``train_tokens``, ``outlier_tokens``, ``heldout_tokens``, ``documents``,
    ``sources``, ``skipped_files``, ``steps``, ``samples``, ``epochs``, ``stopped_early``,
    ``scaling_factor``, ``collect_seconds``, ``train_seconds``, ``wall_seconds``, ``config``,
    ``sae_lens_version``, ``path``.
    """
    from sae_lens import __version__
    from sae_lens.constants import SPARSITY_FILENAME
    from safetensors.torch import save_file

    from em_monitor.models import LoadedModel, load_model
    from em_monitor.packs import hook_point_for

    start = time.monotonic()
    console = console or Console(stderr=True)
    loaded = model if isinstance(model, LoadedModel) else load_model(model)
    n_layers = len(decoder_blocks(loaded.model))
    layer = n_layers // 2 if layer is None else layer
    if not 0 <= layer < n_layers:
        raise ValueError(f"build-sae: --layer {layer} is out of range; {loaded.model_id} has blocks 0..{n_layers - 1}")
    corpus = load_corpus(corpus_files)
    split = collect_activations(loaded.model, loaded.tokenizer, layer, corpus, config, console=console)
    trained = train_sae(split.train, config, console=console)

    out = Path(out)
    sae = trained.sae
    sae.cfg.metadata.model_name = loaded.model_id
    sae.cfg.metadata.hook_name = hook_point_for(layer)
    sae.cfg.metadata.context_size = config.max_length
    sae.save_inference_model(out)
    save_file({"sparsity": trained.log_feature_sparsity.contiguous()}, out / SPARSITY_FILENAME)
    # Evaluate what was saved, as the monitor will load it.
    saved = load_sae(out)
    heldout = evaluate_sae(saved, split.heldout)
    dead = ~(heldout.pop("fired") | trained.fired_recently)
    report = {
        "model": loaded.model_id,
        "layer": layer,
        "hook_point": hook_point_for(layer),
        "architecture": config.architecture,
        "d_in": int(saved.cfg.d_in),
        "d_sae": int(saved.cfg.d_sae),
        "sparsity": {ARCHITECTURES[config.architecture]: config.sparsity},
        **heldout,
        "dead_fraction": dead.float().mean().item(),
        "dead_latents": int(dead.sum()),
        "train_tokens": int(split.train.shape[0]),
        "outlier_tokens": split.outliers,
        "heldout_tokens": int(split.heldout.shape[0]),
        "documents": split.documents,
        "sources": corpus.sources,
        "skipped_files": corpus.skipped,
        "steps": trained.steps,
        "samples": trained.samples,
        "epochs": trained.samples / max(split.train.shape[0], 1),
        "stopped_early": trained.stopped_early,
        "scaling_factor": trained.scaling_factor,
        "collect_seconds": split.seconds,
        "train_seconds": trained.seconds,
        "wall_seconds": time.monotonic() - start,
        "config": asdict(config),
        "sae_lens_version": __version__,
        "path": str(out),
    }
    (out / REPORT_FILENAME).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def _progress(console: Console | None) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[unit]}"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console or Console(stderr=True),
    )
