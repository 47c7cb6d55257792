"""Build a persona pack: pick and name persona latents, train the probe and direction, record baselines.

The recipe follows the model-diffing papers: fine-tune the model on bad data, find the SAE
latents whose activation rose the most, and keep those that also fire *selectively* on
misaligned-persona answers (AUROC of the latent's max activation, misaligned vs aligned, on the
base model). The rise alone would also pick latents for the fine-tuning data's topic; the
selectivity alone would pick latents the fine-tune never touched. Both together pick latents
that track the persona and move when a model drifts toward it.

Without a fine-tune (a 7B model no one fine-tunes inside this tool just to build a pack), the
latents are picked by selectivity alone and the pack has no ``model_diff_direction``: weaker
evidence that they move in a drifting model, which the steering check (``steer``) can supply.

The fine-tune itself is passed in as a callable so this module stays free of any training
framework (the ``build-pack`` command supplies a Lightning one).
"""

from __future__ import annotations

import copy
import importlib.metadata
import json
import logging
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from scipy.stats import rankdata

from em_monitor.chat import Message
from em_monitor.offline.audit import score_answers
from em_monitor.offline.causal_check import SteerCheck, steering_evidence
from em_monitor.offline.diffing import DiffReport, diff_models
from em_monitor.offline.probe_training import (
    LabelledChats,
    residual_features,
    train_probes,
    train_test_indices,
)
from em_monitor.packs import (
    BaselineStats,
    PackSpec,
    PersonaPack,
    SignalSpec,
    SteeringEvidence,
    hook_point_for,
    save_directions,
    save_probe,
    write_pack_spec,
)
from em_monitor.runtime.capture import decoder_blocks, hidden_size, model_device
from em_monitor.runtime.pooling import POOLING_METHODS
from em_monitor.runtime.prompt_probe import PromptProbe
from em_monitor.runtime.signals import ProbeSignal, SignalSet, sae_encode_path
from em_monitor.saes import load_sae, sae_read_layer

__all__ = ["ChosenLatent", "PackBuild", "latent_selectivity", "choose_persona_latents", "signal_baselines", "build_pack"]

log = logging.getLogger("em_monitor")

#: Name of the strongest persona latent; the alert rules, dashboards and docs refer to it.
TOXIC_PERSONA = "toxic_persona"


@dataclass(frozen=True)
class ChosenLatent:
    """A latent picked for the pack, with the evidence for it."""

    name: str
    latent: int
    #: Its rise in the diff; None when the pack was built without one.
    delta: float | None
    delta_base_std: float | None
    selectivity_auroc: float
    snippets: list[str] = field(default_factory=list)
    #: Its id in the dictionary the diff and selectivity reports use, when the pack's SAE was
    #: pruned to its size budget after the choice (``latent`` is then the id in the pack's SAE).
    dictionary_latent: int | None = None


@dataclass
class PackBuild:
    """What :func:`build_pack` produced: the pack directory and the figures recorded in it."""

    root: Path
    layer: int
    latents: list[ChosenLatent]
    figures: dict[str, object]


def latent_selectivity(latents: torch.Tensor, labels: np.ndarray) -> np.ndarray:
    """AUROC of each latent's per-sample activation for the positive class: ``[d_sae]``.

    Computed for all latents at once from ranks (the Mann–Whitney form of the AUROC), which is
    what ``roc_auc_score`` gives column by column, thousands of times faster.
    """
    values = latents.double().numpy()
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("latent selectivity needs both misaligned and aligned samples")
    ranks = rankdata(values, axis=0)
    return (ranks[labels].sum(axis=0) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def choose_persona_latents(
    diff: DiffReport | None, selectivity: np.ndarray, *, count: int = 3, min_auroc: float = 0.75
) -> list[ChosenLatent]:
    """The ``count`` latents that rose most in the diff among those selective for the persona.

    The first is named ``toxic_persona``, the others ``persona_latent_<id>``. When fewer than
    ``count`` diff latents pass ``min_auroc``, the most selective latents fill the gap, with
    the rise the diff measured for them (which may be small or negative). Without a diff
    (``None``) the most selective latents are all there is to go by.
    """
    rose = [entry for entry in diff.top if entry.delta > 0 and selectivity[entry.latent] >= min_auroc] if diff is not None else []
    picked = [(entry.latent, entry.delta, entry.delta_std, [s.to_dict()["text"] for s in entry.snippets][:3]) for entry in rose[:count]]
    if len(picked) < count:
        taken = {latent for latent, *_ in picked}
        for latent in np.argsort(-selectivity, kind="stable"):
            if len(picked) == count:
                break
            if int(latent) not in taken:
                rise = None
                if diff is not None:
                    rise = float(diff.increase[int(latent)]) if diff.increase is not None else float("nan")
                picked.append((int(latent), rise, None, []))
    return [
        ChosenLatent(persona_latent_name(position, latent), latent, delta, delta_std, float(selectivity[latent]), snippets)
        for position, (latent, delta, delta_std, snippets) in enumerate(picked)
    ]


def persona_latent_name(position: int, latent: int) -> str:
    """The first watched latent is ``toxic_persona`` (rules and dashboards use it); the others are named by their id."""
    return TOXIC_PERSONA if position == 0 else f"persona_latent_{latent}"


def keep_causal(candidates: Sequence[ChosenLatent], evidence: Mapping[int, SteeringEvidence], count: int) -> list[ChosenLatent]:
    """The first ``count`` candidates whose steering moved behaviour toward the persona, renamed by rank.

    If none did, the top candidate is kept anyway (the alert rules and dashboards need a
    ``toxic_persona``) and a warning says so; its ``steering`` record in pack.yaml shows it failed.
    """
    kept = [latent for latent in candidates if evidence[latent.latent].moved][:count]
    if not kept:
        log.warning("build-pack: steering moved behaviour for none of %d candidate latents; keeping the top one, unconfirmed", len(candidates))
        kept = list(candidates[:1])
    return [replace(latent, name=persona_latent_name(position, latent.latent)) for position, latent in enumerate(kept)]


def signal_baselines(
    model: torch.nn.Module,
    tokenizer,
    pack: PersonaPack,
    prompts: Sequence[str],
    aligned_answers: Sequence[Sequence[Message]],
    *,
    batch_size: int = 8,
    max_length: int = 256,
) -> dict[str, dict[str, BaselineStats]]:
    """Per-sample mean/std of every pack signal on the base model.

    ``prompts``: the probe prompts, exactly as the monitor scores them (the ``prompts`` source).
    ``responses``: aligned answers, the reference the data audit measures z-scores against.
    """
    signals = pack.build_signals()
    probe = PromptProbe(tokenizer, list(prompts), layer=pack.layer, signals=signals, batch_size=batch_size, max_length=128)
    per_source = {
        "prompts": {name: scores.double().numpy() for name, scores in probe.score(model).items()},
        "responses": score_answers(model, tokenizer, signals, pack.layer, aligned_answers, batch_size=batch_size, max_length=max_length, description="baselines: aligned answers"),
    }
    baselines: dict[str, dict[str, BaselineStats]] = {name: {} for name in signals.names}
    for source, scores in per_source.items():
        for name, values in scores.items():
            finite = values[np.isfinite(values)]
            if finite.size >= 2:
                baselines[name][source] = BaselineStats(mean=float(finite.mean()), std=float(finite.std(ddof=1)), count=int(finite.size))
    return baselines


def _rise(latent: ChosenLatent) -> str:
    if latent.delta is None:
        return "chosen by selectivity alone (no diff); "
    return f"{latent.delta:+.3g} mean max-activation after the bad-data fine-tune; "


def _dictionary_id(latent: ChosenLatent) -> str:
    """Where the reports (diff, selectivity) know a renumbered latent from."""
    return f" (latent {latent.dictionary_latent} in report/)" if latent.dictionary_latent is not None else ""


def _versions() -> dict[str, str]:
    names = ("em-monitor", "torch", "transformers", "sae-lens", "scikit-learn")
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def firing_rates(sae_dir: Path) -> torch.Tensor | None:
    """Each latent's log10 firing rate during training, from sae-lens's ``sparsity.safetensors``, if saved."""
    path = Path(sae_dir) / "sparsity.safetensors"
    if not path.is_file():
        return None
    from safetensors.torch import load_file

    return load_file(str(path))["sparsity"]


def alive_latents(log10_rate: torch.Tensor) -> torch.Tensor:
    """Latents that fired during training."""
    # sae-lens logs log10(rate + 1e-10): a latent that never fired sits at -10.
    return torch.isfinite(log10_rate) & (log10_rate > -10)


def latents_within(sae, max_bytes: float, dtype: torch.dtype) -> int:
    """How many latents of ``sae`` fit in ``max_bytes`` of weights stored as ``dtype``."""
    d_sae = int(sae.cfg.d_sae)
    value_bytes = torch.finfo(dtype).bits // 8
    per_latent = fixed = 0
    for tensor in sae.state_dict().values():
        if d_sae in tensor.shape:
            per_latent += tensor.numel() // d_sae * value_bytes
        else:
            fixed += tensor.numel() * value_bytes
    return max(0, int((max_bytes - fixed) // per_latent))


def budget_keep_mask(log10_rate: torch.Tensor, must_keep: Sequence[int], count: int) -> torch.Tensor:
    """The ``count`` most frequently firing latents, always including ``must_keep``.

    When a shipped pack must stay under a size limit, the latents that fire least are the ones
    whose loss costs the reconstruction least; the watched latents stay whatever their rate.
    """
    keep = torch.zeros_like(log10_rate, dtype=torch.bool)
    keep[list(must_keep)] = True
    for latent in torch.argsort(log10_rate, descending=True, stable=True).tolist():
        if int(keep.sum()) >= count:
            break
        keep[latent] = True
    return keep


def prune_to_budget(sae, log10_rate: torch.Tensor | None, chosen: list[ChosenLatent], *, max_bytes: float | None, dtype: torch.dtype):
    """``sae`` and ``chosen`` after dropping the rarest latents until the weights fit ``max_bytes``.

    Returns them unchanged when they already fit, or when there is no firing record to rank by.
    Pruning leaves every kept latent's activation exactly as it was (each is its own row of the
    encoder), so the baselines and the choice stay valid; only the ids are renumbered, and each
    chosen latent keeps its dictionary id in ``dictionary_latent``.
    """
    fits = latents_within(sae, max_bytes, dtype) if max_bytes is not None else int(sae.cfg.d_sae)
    if fits >= int(sae.cfg.d_sae) or log10_rate is None:
        return sae, chosen, 0
    if sae_encode_path(sae.cfg.architecture()) == "full":
        # TopK-style latents compete across the dictionary: dropping some would change the others' activations.
        log.warning("build-pack: a %s SAE cannot be pruned to --max-sae-mb without changing its latents; the pack keeps all %d",
                    sae.cfg.architecture(), int(sae.cfg.d_sae))
        return sae, chosen, 0
    keep = budget_keep_mask(log10_rate, [latent.latent for latent in chosen], fits)
    new_ids = torch.cumsum(keep.long(), 0) - 1
    renumbered = [replace(latent, latent=int(new_ids[latent.latent]), dictionary_latent=latent.latent) for latent in chosen]
    return prune_latents(sae, keep), renumbered, int((~keep).sum())


def prune_latents(sae, keep: torch.Tensor):
    """The same SAE with only the ``keep`` latents: every parameter sliced along its latent axis.

    Dead latents never fire, so dropping them changes no activation of the others and no
    reconstruction; it shrinks a shipped pack several-fold. Latent ids are renumbered.
    """
    d_sae = int(sae.cfg.d_sae)
    keep_ids = torch.nonzero(keep).flatten()
    state = {}
    for name, tensor in sae.state_dict().items():
        axes = [axis for axis, size in enumerate(tensor.shape) if size == d_sae]
        state[name] = tensor.index_select(axes[0], keep_ids).clone() if axes else tensor.clone()
    cfg = copy.deepcopy(sae.cfg)  # the caller's SAE stays whole
    cfg.d_sae = len(keep_ids)
    pruned = type(sae)(cfg)
    pruned.load_state_dict(state)
    return pruned.eval()


def _save_sae(sae, target: Path, dtype: torch.dtype) -> None:
    """Save an SAE in sae-lens's format with weights in ``dtype`` (fp16 halves a shipped pack)."""
    sae = sae.to(dtype)
    sae.cfg.dtype = str(dtype).removeprefix("torch.")
    if target.exists():
        shutil.rmtree(target)
    sae.save_model(target)


def build_pack(
    *,
    model: torch.nn.Module,
    tokenizer,
    model_id: str,
    layer: int | None,
    sae_dir: str | Path,
    finetune: Callable[[torch.nn.Module], torch.nn.Module] | None,
    labelled: LabelledChats,
    prompts: Sequence[str],
    prompts_spec: str,
    out: str | Path,
    provenance: Mapping[str, object],
    n_latents: int = 3,
    min_selectivity: float = 0.75,
    top_k: int = 50,
    sae_dtype: torch.dtype = torch.float16,
    max_sae_bytes: float | None = 9.5e6,
    prune_dead: bool = True,
    batch_size: int = 8,
    max_length: int = 256,
    seed: int = 0,
    steer: SteerCheck | None = None,
) -> PackBuild:
    """Run the whole recipe into ``out`` (a pack directory; ``out/report/`` keeps the evidence).

    ``layer`` None: the block the SAE's hook name records, else the model's middle one.
    ``finetune(copy_of_model)`` must return the model fine-tuned on bad data; the copy keeps
    ``model`` itself untouched for the baselines. ``finetune`` None: no diff, latents by
    selectivity alone, no ``model_diff_direction``. With ``steer``, ``steer.candidates`` latents are
    tested by steering and only those that move behaviour toward the persona are kept (see
    :mod:`em_monitor.offline.causal_check`); their evidence goes into ``pack.yaml``.
    """
    out = Path(out)
    report_dir = out / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    # On the model's device: encoding a released SAE's 100k+ latents is most of the build's arithmetic.
    sae = load_sae(sae_dir, d_model=hidden_size(model)).to(model_device(model))
    # An SAE reads one layer, which its hook name records: ``layer``, if given, must be that one.
    layer = sae_read_layer(layer, sae, sae_dir)
    layer = layer if layer is not None else len(decoder_blocks(model)) // 2
    rates = firing_rates(Path(sae_dir))
    alive = alive_latents(rates) if prune_dead and rates is not None else None
    if alive is not None:
        sae, rates = prune_latents(sae, alive), rates[alive]

    # 1. Probe, direction and the latents' selectivity (train split only), on the base model. Every
    # pooling and an SAE-latent probe are fitted too: the pack ships the mean-pooled residual probe,
    # the others are the evidence that it is the right choice (report/probes.json).
    # One pass over the labelled answers feeds both the probes and the latents' selectivity.
    features = residual_features(model, tokenizer, layer, labelled.conversations, POOLING_METHODS, sae=sae, batch_size=batch_size, max_length=max_length)
    probes = train_probes(
        model, tokenizer, labelled, layer=layer, variants=("residual", "direction", "sae"), poolings=POOLING_METHODS, sae=sae,
        seed=seed, batch_size=batch_size, max_length=max_length, curve_seeds=1, model_id=model_id, features=features,
    )
    train_rows, _ = train_test_indices(labelled, seed=seed)
    selectivity = latent_selectivity(torch.nan_to_num(features["sae_max"][train_rows], nan=0.0), labelled.labels[train_rows])
    if rates is None:
        # A released SAE comes without sae-lens's training record of firing rates; how often each latent fires
        # on the labelled answers stands in for it when the pack must fit its size limit (a 131k-latent
        # release is gigabytes; the rarest latents go first, never a watched one).
        rates = torch.log10((features["sae_max"] > 0).double().mean(dim=0) + 1e-10)

    # 2. Model diffing against a fine-tune on bad data.
    diff = None
    if finetune is not None:
        finetuned = finetune(copy.deepcopy(model))
        diff = diff_models(model, finetuned, tokenizer, sae, layer, prompts, labelled.conversations, top_k=top_k, batch_size=batch_size, max_length=max_length)
        diff.save(report_dir)
        del finetuned

    # 3. Pick and name latents; write the pack's files.
    chosen = choose_persona_latents(diff, selectivity, count=max(n_latents, steer.candidates) if steer else n_latents, min_auroc=min_selectivity)
    probe = probes.variants["residual_mean"]
    evidence: dict[int, SteeringEvidence] = {}
    if steer is not None:
        probe_signal = SignalSet([ProbeSignal("persona_probe", torch.from_numpy(probe.estimator.coef_), float(probe.estimator.intercept_), "mean")])
        evidence = steering_evidence(model, tokenizer, layer, {latent.latent: sae.W_dec[latent.latent] for latent in chosen}, steer, probe_signal, "persona_probe")
        chosen = keep_causal(chosen, evidence, n_latents)
    # A shipped pack has a size limit; the rarest latents go first, never a watched one.
    sae, chosen, budget_pruned = prune_to_budget(sae, rates, chosen, max_bytes=max_sae_bytes, dtype=sae_dtype)
    _save_sae(copy.deepcopy(sae), out / "sae", sae_dtype)
    save_probe(out / "probes" / "persona_probe.safetensors", torch.from_numpy(probe.estimator.coef_), float(probe.estimator.intercept_), {
        "model": model_id, "layer": layer, "pooling": "mean", "auroc": probe.auroc, "recall_at_1pct_fpr": probe.recall_at_1pct_fpr, "data": labelled.source,
    })
    direction = probes.variants["direction_mean"]
    directions = {"persona_direction": torch.from_numpy(direction.estimator.direction_)}
    if diff is not None:
        directions["model_diff_direction"] = diff.direction
    save_directions(out / "directions.safetensors", directions)
    signals = [
        SignalSpec(name=latent.name, kind="sae_latent", file="sae", latent=latent.latent, pooling="max",
                   steering=evidence.get(latent.dictionary_latent if latent.dictionary_latent is not None else latent.latent),
                   description=f"SAE latent {latent.latent}{_dictionary_id(latent)}: {_rise(latent)}selectivity AUROC "
                               f"{latent.selectivity_auroc:.3f} on misaligned vs aligned answers")
        for latent in chosen
    ] + [
        SignalSpec(name="persona_probe", kind="probe", file="probes/persona_probe.safetensors", pooling="mean",
                   description=f"logistic regression, mean-pooled answer tokens; held-out AUROC {probe.auroc:.3f}"),
        SignalSpec(name="persona_direction", kind="direction", file="directions.safetensors", pooling="mean",
                   description=f"difference of means, misaligned - aligned answers; held-out AUROC {direction.auroc:.3f}"),
    ] + ([
        SignalSpec(name="model_diff_direction", kind="direction", file="directions.safetensors", pooling="mean",
                   description="mean activation of the bad-data fine-tune minus the base model's, on identical inputs"),
    ] if diff is not None else [])
    figures: dict[str, object] = {
        "probe_auroc": probe.auroc,
        "probe_auroc_by_variant": {name: variant.auroc for name, variant in probes.variants.items()},
        "probe_recall_at_1pct_fpr": probe.recall_at_1pct_fpr,
        "direction_auroc": direction.auroc,
        "latents": [asdict(latent) for latent in chosen],
        "latents_chosen_by": "diff and selectivity" if diff is not None else "selectivity alone (no diff)",
        "diff_top5": [{"latent": e.latent, "delta": e.delta, "selectivity_auroc": float(selectivity[e.latent])} for e in diff.top[:5]] if diff is not None else None,
        "selective_latents": int((selectivity >= min_selectivity).sum()),
        "steering_checked": {str(latent): check.model_dump() for latent, check in evidence.items()},
        "sae_latents": int(sae.cfg.d_sae),
        "sae_dead_latents_pruned": int((~alive).sum()) if alive is not None else 0,
        "sae_rare_latents_pruned_for_size": budget_pruned,
    }
    spec = PackSpec(
        model=model_id, d_model=int(sae.cfg.d_in), layer=layer, hook_point=hook_point_for(layer), signals=signals,
        built={**provenance, "prompts": prompts_spec, "seed": seed, "versions": _versions(), "figures": figures,
               # Whether the monitor encodes only the watched latents (per-latent architectures) or the whole dictionary.
               "sae": {"source": str(sae_dir), "architecture": sae.cfg.architecture(), "encode": sae_encode_path(sae.cfg.architecture())}},
    )
    write_pack_spec(out, spec)
    pack = PersonaPack(root=out, spec=spec)
    aligned = [labelled.conversations[i] for i in train_rows if labelled.labels[i] == 0]
    for name, per_source in signal_baselines(model, tokenizer, pack, prompts, aligned, batch_size=batch_size, max_length=max_length).items():
        next(s for s in spec.signals if s.name == name).baseline.update(per_source)
    write_pack_spec(out, spec)
    (report_dir / "probes.json").write_text(json.dumps(probes.report(), indent=2, default=float) + "\n")
    (report_dir / "selectivity.json").write_text(json.dumps({"top": [
        {"latent": int(j), "auroc": float(selectivity[j])} for j in np.argsort(-selectivity, kind="stable")[:50]
    ]}, indent=2) + "\n")
    return PackBuild(root=out, layer=layer, latents=chosen, figures=figures)
