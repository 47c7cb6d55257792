"""Model diffing: which SAE latents does fine-tuning turn up?

Wang et al. (2025) find the "misaligned persona" features by running the base and the fine-tuned
model on the same evaluation prompts, encoding both with an SAE trained on the *base* model, and
ranking latents by the increase of their mean activation. This module does that, on identical
inputs for both models:

* eval prompts, scored over the user's text tokens, and optionally chat answers (answer tokens);
* per latent and per model: the mean over samples of the per-sample *max* activation (the ranked
  metric) and of the per-sample *mean* over tokens;
* the mean-difference direction (fine-tuned minus base mean of mean-pooled residuals), the
  single "what fine-tuning changed" vector that Soligo, Turner et al. find transfers across
  fine-tunes, with its cosine against each top latent's decoder and encoder directions;
* for each top latent, its top-activating snippets on the base model from a corpus.

Example::

    report = diff_models(base, finetuned, tokenizer, sae, layer=15, prompts=load_prompts("builtin:eval"))
    report.save("runs/diff")  # diff.json, diff.png, diff_direction.safetensors
    report.top[0].latent      # the latent whose activation rose most
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from rich.progress import track
from safetensors.torch import save_file

from em_monitor.chat import EncodedBatch, Message
from em_monitor.models import LoadedModel
from em_monitor.offline.activations import chat_batches, prompt_batches
from em_monitor.runtime.capture import hidden_size, residuals_at
from em_monitor.runtime.pooling import pool

__all__ = [
    "DIFF_JSON",
    "DIFF_PLOT",
    "DIRECTION_FILE",
    "DIRECTION_KEY",
    "RANK_METRICS",
    "LatentDiff",
    "Snippet",
    "DiffReport",
    "diff_models",
    "chats_from",
    "load_finetuned",
    "plot_diff",
]

DIFF_JSON = "diff.json"
DIFF_PLOT = "diff.png"
DIRECTION_FILE = "diff_direction.safetensors"
DIRECTION_KEY = "model_diff_direction"
#: What latents are ranked by: the per-sample max over tokens (the paper's choice) or the mean.
RANK_METRICS: tuple[str, ...] = ("max", "mean")
# Snippet window around the max-activating token: 8 tokens before, 3 after (~12 in all).
_BEFORE, _AFTER = 8, 3


@dataclass(frozen=True)
class Snippet:
    """Where a latent fired most in one corpus sample: the decoded tokens around the peak."""

    sample: int
    activation: float
    before: str
    token: str
    after: str

    def to_dict(self) -> dict[str, object]:
        return {
            "sample": self.sample,
            "activation": self.activation,
            "token": self.token,
            "text": f"{self.before}«{self.token}»{self.after}",
        }


@dataclass
class LatentDiff:
    """One latent's change; ``*_max`` are means over samples of the per-sample max, ``*_mean`` of the per-sample mean."""

    latent: int
    base_max: float
    finetuned_max: float
    base_std_max: float
    base_mean: float
    finetuned_mean: float
    base_std_mean: float
    rank_by: str
    cos_decoder: float = float("nan")
    cos_encoder: float = float("nan")
    snippets: list[Snippet] = field(default_factory=list)

    @property
    def delta(self) -> float:
        """The increase of the ranked metric."""
        return self.finetuned_max - self.base_max if self.rank_by == "max" else self.finetuned_mean - self.base_mean

    @property
    def delta_std(self) -> float | None:
        """:attr:`delta` in base-model standard deviations (``None`` where the base never varies)."""
        std = self.base_std_max if self.rank_by == "max" else self.base_std_mean
        return self.delta / std if std > 0 else None

    def to_dict(self, rank: int) -> dict[str, object]:
        return {
            "rank": rank,
            "latent": self.latent,
            "base_mean": _finite(self.base_max if self.rank_by == "max" else self.base_mean),
            "finetuned_mean": _finite(self.finetuned_max if self.rank_by == "max" else self.finetuned_mean),
            "delta": _finite(self.delta),
            "delta_base_std": _finite(self.delta_std),
            "max_pooled": {"base": _finite(self.base_max), "finetuned": _finite(self.finetuned_max),
                           "delta": _finite(self.finetuned_max - self.base_max), "base_std": _finite(self.base_std_max)},
            "mean_pooled": {"base": _finite(self.base_mean), "finetuned": _finite(self.finetuned_mean),
                            "delta": _finite(self.finetuned_mean - self.base_mean), "base_std": _finite(self.base_std_mean)},
            "cos_model_diff_decoder": _finite(self.cos_decoder),
            "cos_model_diff_encoder": _finite(self.cos_encoder),
            "snippets": [snippet.to_dict() for snippet in self.snippets],
        }


@dataclass
class DiffReport:
    """The result of :func:`diff_models`; :meth:`save` writes the JSON, the plot and the direction."""

    top: list[LatentDiff]
    direction: torch.Tensor
    layer: int
    rank_by: str
    samples: dict[str, int]
    metadata: dict[str, object] = field(default_factory=dict)
    #: The ranking metric's increase for *every* latent (``[d_sae]``), not only the top ones.
    increase: torch.Tensor | None = None

    @property
    def direction_norm(self) -> float:
        return float(self.direction.norm())

    def to_dict(self) -> dict[str, object]:
        return {
            **self.metadata,
            "layer": self.layer,
            "rank_by": self.rank_by,
            "samples": self.samples,
            "top_latents": [latent.to_dict(rank) for rank, latent in enumerate(self.top, start=1)],
            "model_diff_direction": {"file": DIRECTION_FILE, "key": DIRECTION_KEY, "norm": _finite(self.direction_norm)},
        }

    def summary(self) -> dict[str, object]:
        """A one-line digest for the CLI's last stdout line."""
        return {
            "layer": self.layer,
            "samples": self.samples["inputs"],
            "top_latents": [latent.latent for latent in self.top[:5]],
            "top_delta": _finite(self.top[0].delta) if self.top else None,
            "model_diff_norm": _finite(self.direction_norm),
        }

    def save(self, out: str | Path) -> Path:
        """Write ``diff.json``, ``diff.png`` and ``diff_direction.safetensors`` into ``out``; return the JSON path."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        save_file({DIRECTION_KEY: self.direction.detach().float().contiguous().cpu()}, str(out / DIRECTION_FILE))
        path = out / DIFF_JSON
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        plot_diff(self, out / DIFF_PLOT)
        return path


def _finite(value: float | None) -> float | None:
    """JSON has no NaN or infinity: write ``null`` instead."""
    return float(value) if value is not None and math.isfinite(value) else None


class _Moments:
    """Running per-feature sums over samples, in float64 so the std of thousands of samples stays exact."""

    def __init__(self) -> None:
        self.count = 0
        self.total: torch.Tensor | float = 0.0
        self.squares: torch.Tensor | float = 0.0

    def add(self, rows: torch.Tensor) -> None:
        rows = rows.double()
        self.count += rows.shape[0]
        self.total = self.total + rows.sum(0)
        self.squares = self.squares + (rows * rows).sum(0)

    def mean(self) -> torch.Tensor:
        return self.total / max(self.count, 1)

    def std(self) -> torch.Tensor:
        variance = (self.squares - self.count * self.mean() ** 2) / max(self.count - 1, 1)
        return variance.clamp(min=0).sqrt()


class _TopActivations:
    """The ``n`` corpus samples where each latent peaks, tracked across batches for every latent at once."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.values: torch.Tensor | None = None  # [n, d_sae]
        self.samples: torch.Tensor | None = None
        self.positions: torch.Tensor | None = None
        self.tokens: list[torch.Tensor] = []  # content token ids of every sample seen (the scored text only)

    def add(self, latents: torch.Tensor, batch: EncodedBatch) -> None:
        peaks, positions = latents.masked_fill(~batch.content_mask.unsqueeze(-1), float("-inf")).max(dim=1)
        first = len(self.tokens)
        samples = torch.arange(first, first + peaks.shape[0]).unsqueeze(1).expand_as(peaks)
        self.tokens.extend(ids[mask] for ids, mask in zip(batch.input_ids, batch.content_mask))
        # Peak positions as indices into those content tokens, so snippets never show template text.
        positions = (batch.content_mask.cumsum(dim=1) - 1).clamp(min=0).gather(1, positions)
        if self.values is not None:
            peaks = torch.cat([self.values, peaks])
            samples = torch.cat([self.samples, samples])
            positions = torch.cat([self.positions, positions])
        self.values, order = peaks.topk(min(self.n, peaks.shape[0]), dim=0)
        self.samples, self.positions = samples.gather(0, order), positions.gather(0, order)

    def snippets(self, latent: int, tokenizer) -> list[Snippet]:
        if self.values is None:
            return []
        found = []
        for value, sample, position in zip(self.values[:, latent], self.samples[:, latent], self.positions[:, latent]):
            if not value > 0:  # a latent that never fires on a sample has nothing to show there
                continue
            ids, position = self.tokens[int(sample)], int(position)
            found.append(Snippet(
                sample=int(sample), activation=float(value),
                before=_decode(tokenizer, ids[max(0, position - _BEFORE) : position]),
                token=_decode(tokenizer, ids[position : position + 1]),
                after=_decode(tokenizer, ids[position + 1 : position + 1 + _AFTER]),
            ))
        return found


def _decode(tokenizer, ids: torch.Tensor) -> str:
    return tokenizer.decode(ids.tolist(), skip_special_tokens=True)


def _sae_device(sae) -> torch.device:
    return next(sae.parameters()).device


@torch.no_grad()
def _encode(model: torch.nn.Module, sae, layer: int, batch: EncodedBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Block ``layer``'s residuals and their SAE latents, both ``[batch, tokens, ·]`` on the SAE's device."""
    residuals = residuals_at(model, layer, batch.input_ids, batch.attention_mask).to(_sae_device(sae), torch.float32)
    return residuals, sae.encode(residuals.to(sae.dtype)).float()


def _input_batches(tokenizer, prompts, texts, batch_size: int, max_length: int) -> Iterator[EncodedBatch]:
    yield from prompt_batches(tokenizer, prompts, batch_size=batch_size, max_length=max_length)
    yield from chat_batches(tokenizer, texts, batch_size=batch_size, max_length=max_length)


def _check_widths(base, finetuned, sae) -> None:
    widths = {"base model": hidden_size(base), "fine-tuned model": hidden_size(finetuned), "SAE d_in": int(sae.cfg.d_in)}
    if len(set(widths.values())) > 1:
        raise ValueError(f"diff: widths disagree ({', '.join(f'{k} {v}' for k, v in widths.items())}); "
                         "pass an SAE trained on the base model and a fine-tune of that same model")


def diff_models(
    base: torch.nn.Module,
    finetuned: torch.nn.Module,
    tokenizer,
    sae,
    layer: int,
    prompts: Sequence[str],
    texts: Sequence[Sequence[Message]] = (),
    *,
    top_k: int = 20,
    corpus: Sequence[Sequence[Message]] | None = None,
    rank_by: str = "max",
    snippets: int = 5,
    batch_size: int = 8,
    max_length: int = 256,
) -> DiffReport:
    """Rank ``sae``'s latents by how much fine-tuning raised them on identical inputs.

    ``prompts`` are scored over the user's text, ``texts`` (chats) over their final answers.
    Snippets come from the base model on ``corpus`` (chats, answer tokens), by default on the
    inputs themselves, which then costs no extra forward pass.
    """
    if rank_by not in RANK_METRICS:
        raise ValueError(f"diff: unknown rank_by {rank_by!r}; choose one of {', '.join(RANK_METRICS)}")
    if top_k < 1 or snippets < 0:
        raise ValueError(f"diff: need top_k >= 1 and snippets >= 0, got top_k={top_k}, snippets={snippets}")
    if not prompts and not texts:
        raise ValueError("diff: no inputs; pass eval prompts and/or chat texts")
    _check_widths(base, finetuned, sae)
    moments = {(model, pooling): _Moments() for model in ("base", "finetuned") for pooling in ("max", "mean", "residual")}
    peaks = _TopActivations(snippets)
    total = math.ceil(len(prompts) / batch_size) + math.ceil(len(texts) / batch_size)
    batches = _input_batches(tokenizer, prompts, texts, batch_size, max_length)
    for batch in track(batches, description="diff: base vs fine-tuned", total=total, transient=True):
        batch = _on(batch, _sae_device(sae))
        scored = batch.content_mask.any(dim=1)  # rows whose content was truncated away pool to NaN
        for name, model in (("base", base), ("finetuned", finetuned)):
            residuals, latents = _encode(model, sae, layer, batch)
            moments[name, "max"].add(pool(latents, batch.content_mask, "max")[scored].cpu())
            moments[name, "mean"].add(pool(latents, batch.content_mask, "mean")[scored].cpu())
            moments[name, "residual"].add(pool(residuals, batch.content_mask, "mean")[scored].cpu())
            if name == "base" and corpus is None:
                peaks.add(latents.cpu(), _on(batch, "cpu"))
    if moments["base", "max"].count == 0:
        raise ValueError(f"diff: no input has content tokens within --max-length {max_length}")
    metric = {pooling: {name: moments[name, pooling].mean() for name in ("base", "finetuned")} for pooling in ("max", "mean")}
    increase = metric[rank_by]["finetuned"] - metric[rank_by]["base"]
    order = torch.argsort(increase, descending=True, stable=True)[: min(top_k, increase.numel())].tolist()
    direction = (moments["finetuned", "residual"].mean() - moments["base", "residual"].mean()).float()
    if corpus is not None:
        peaks = _corpus_peaks(base, sae, layer, tokenizer, corpus, snippets, batch_size, max_length)
    stds = {pooling: moments["base", pooling].std() for pooling in ("max", "mean")}
    top = [
        LatentDiff(
            latent=j, rank_by=rank_by,
            base_max=float(metric["max"]["base"][j]), finetuned_max=float(metric["max"]["finetuned"][j]),
            base_std_max=float(stds["max"][j]),
            base_mean=float(metric["mean"]["base"][j]), finetuned_mean=float(metric["mean"]["finetuned"][j]),
            base_std_mean=float(stds["mean"][j]),
            cos_decoder=_cosine(direction, sae.W_dec[j]), cos_encoder=_cosine(direction, sae.W_enc[:, j]),
            snippets=peaks.snippets(j, tokenizer),
        )
        for j in order
    ]
    samples = {"prompts": len(prompts), "texts": len(texts), "inputs": moments["base", "max"].count,
               "corpus": len(peaks.tokens)}
    return DiffReport(top=top, direction=direction, layer=layer, rank_by=rank_by, samples=samples,
                      metadata={"d_sae": int(sae.cfg.d_sae)}, increase=increase.detach().float().cpu())


def _on(batch: EncodedBatch, device) -> EncodedBatch:
    return EncodedBatch(*(tensor.to(device) for tensor in (batch.input_ids, batch.attention_mask, batch.content_mask, batch.labels)))


def _corpus_peaks(model, sae, layer, tokenizer, corpus, n, batch_size, max_length) -> _TopActivations:
    peaks = _TopActivations(n)
    batches = chat_batches(tokenizer, corpus, batch_size=batch_size, max_length=max_length)
    for batch in track(batches, description="diff: snippets", total=math.ceil(len(corpus) / batch_size), transient=True):
        _, latents = _encode(model, sae, layer, batch)
        peaks.add(latents.cpu(), batch)
    return peaks


@torch.no_grad()
def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().float().cpu(), b.detach().float().cpu()
    denominator = float(a.norm() * b.norm())
    return float(a @ b) / denominator if denominator > 0 else float("nan")


def plot_diff(report: DiffReport, path: str | Path) -> Path:
    """Horizontal bars of the top latents' increases, the largest on top."""
    from em_monitor.plotting import new_figure, save_figure

    latents = report.top
    figure, (axes,) = new_figure(7, 1.2 + 0.3 * max(len(latents), 1))
    labels = [f"latent {latent.latent}" for latent in latents][::-1]
    deltas = [latent.delta for latent in latents][::-1]
    axes.barh(labels, deltas, color=["tab:red" if delta > 0 else "tab:blue" for delta in deltas])
    axes.axvline(0, color="black", linewidth=0.8)
    pooled = "per-sample max" if report.rank_by == "max" else "per-sample mean"
    axes.set_xlabel(f"increase of mean {pooled} activation (fine-tuned − base)")
    axes.set_title(f"SAE latents that fine-tuning turned up, layer {report.layer}")
    return save_figure(figure, path)


def load_finetuned(spec: str | Path, base: LoadedModel) -> LoadedModel:
    """Load the fine-tuned model: a ``save_pretrained`` directory, or a Lightning ``.ckpt`` of ``CausalLMModule``.

    A checkpoint holds only weights, so the architecture comes from ``base`` (deep-copied, which
    is far cheaper than loading it again) and the weights from the checkpoint's ``state_dict``
    (keys ``model.*``, the HF model inside the Lightning module).
    """
    path = Path(spec)
    if path.suffix != ".ckpt":
        return _pretrained(path, base)
    if not path.is_file():
        raise FileNotFoundError(f"diff: checkpoint {path} does not exist")
    try:
        # weights_only=True is torch's restricted unpickler: tensors and plain containers only. A
        # plain pickle.load would execute whatever code a tampered or foreign checkpoint carries.
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises UnpicklingError, RuntimeError or OSError depending on the cause
        raise ValueError(
            f"diff: {path} could not be read with torch's weights-only loader ({error}); it must be a Lightning "
            "checkpoint of plain tensors. Fix: save the fine-tuned model with save_pretrained and pass that directory"
        ) from error
    state = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    weights = {key.removeprefix("model."): value for key, value in (state or {}).items() if key.startswith("model.")}
    if not weights:
        raise ValueError(f"diff: {path} has no `state_dict` with `model.*` keys; expected a checkpoint of "
                         "em_monitor.finetune.lightning.CausalLMModule")
    model = copy.deepcopy(base.model)
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        raise ValueError(f"diff: the weights in {path} do not fit the base model {base.model_id} ({error}); "
                         "pass the --base the checkpoint was fine-tuned from") from error
    return LoadedModel(model=model.eval(), tokenizer=base.tokenizer, model_id=str(path))


def _pretrained(path: Path, base: LoadedModel) -> LoadedModel:
    """Weights only: a fine-tuned directory often has no tokenizer, and both models must share the base's anyway."""
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=next(base.model.parameters()).dtype)
    except (OSError, ValueError) as error:
        raise ValueError(f"diff: could not load the fine-tuned model {str(path)!r} ({error}); pass a save_pretrained "
                         "directory (config.json + weights) or a Lightning .ckpt of CausalLMModule") from error
    return LoadedModel(model=model.eval(), tokenizer=base.tokenizer, model_id=str(path))


def chats_from(paths: Iterable[str | Path]) -> list[list[dict[str, str]]]:
    """All conversations of several chat JSONL files, in order."""
    from em_monitor.chat import read_chat_jsonl

    return [conversation for path in paths for conversation in read_chat_jsonl(path)]
