"""Persona packs: everything the monitor watches for one model, as a directory of plain files.

Layout (DESIGN.md contract)::

    pack.yaml                 model id, layer, hook point, d_model, signals, provenance
    sae/                      a sae-lens SAE in sae-lens's own format (cfg.json + safetensors)
    probes/NAME.safetensors   logistic-regression weights (+ probes/NAME.json metadata)
    directions.safetensors    persona directions, one tensor per signal name

Nothing is unpickled: tensors come from safetensors, metadata from YAML/JSON. Every problem is
reported at load time, naming the file and the fix, so a broken pack stops a run at start-up
rather than in the middle of training.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from em_monitor.errors import InputError
from em_monitor.runtime.pooling import Pooling
from em_monitor.runtime.signals import (
    DirectionSignal,
    ProbeSignal,
    SaeLatentSignal,
    Signal,
    SignalSet,
)
from em_monitor.saes import SAE_FILES, SaeError, check_weights, load_sae
from em_monitor.shipped import SHIPPED_DATA, is_builtin, resolve_builtin
from em_monitor.textfiles import TextFileError, load_yaml, read_text

__all__ = [
    "BUILTIN_PACKS",
    "pack_directory",
    "PACK_FILE",
    "PackError",
    "SteeringEvidence",
    "SignalSpec",
    "PackSpec",
    "PersonaPack",
    "load_pack",
    "save_directions",
    "save_probe",
    "write_pack_spec",
]

PACK_FILE = "pack.yaml"
#: Packs shipped inside the package, selected in the config as ``builtin:NAME``.
BUILTIN_PACKS: dict[str, Path] = {"smollm2": SHIPPED_DATA / "packs" / "smollm2"}
PACK_FORMAT_VERSION = 1
_REBUILD_HINT = "rebuild it with `em-monitor build-pack --model MODEL --out DIR`"


class PackError(InputError):
    """A persona pack is missing, malformed, or built for another model."""


class _Strict(BaseModel):
    # A NaN or infinite baseline would turn every drift into NaN: the signal would never alert.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class BaselineStats(_Strict):
    """Per-sample mean and standard deviation of a signal on the base model."""

    mean: float
    std: float = Field(ge=0)
    count: int = Field(ge=1)


class SteeringEvidence(_Strict):
    """What steering along a latent did when the pack was built (``build-pack --steer-check``)."""

    coefficient: float
    #: The residual norm a coefficient of 1 stands for (mean over content tokens at the pack's layer).
    unit_norm: float
    judge: str | None
    misaligned_unsteered: float | None
    misaligned_steered: float | None
    #: The pack's probe on the answers (read on the unsteered model).
    probe_unsteered: float | None
    probe_steered: float | None
    #: True when the steered answers are more misaligned (by the judge, or by the probe on a tie).
    moved: bool


class SignalSpec(_Strict):
    """One signal in ``pack.yaml``."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    kind: Literal["sae_latent", "probe", "direction"]
    file: str = Field(min_length=1, pattern=r"^[^\x00-\x1f]*$")
    pooling: Pooling = "mean"
    latent: int | None = Field(default=None, ge=0)
    #: Probes only: the score is the positive-class probability, or its log-odds (unbounded; what a per-sample flag needs).
    output: Literal["probability", "logit"] = "probability"
    description: str = ""
    #: Baselines recorded when the pack was built, per source (``prompts``, ``train_batch``, ...).
    baseline: dict[str, BaselineStats] = Field(default_factory=dict)
    #: For SAE latents checked by steering at build time: the evidence that they are causal.
    steering: SteeringEvidence | None = None

    @property
    def ceiling(self) -> float | None:
        """The largest value the signal can take, where it has one: a probe's probability (its log-odds are unbounded)."""
        return 1.0 if self.kind == "probe" and self.output == "probability" else None

    @model_validator(mode="after")
    def _latent_only_for_sae(self) -> SignalSpec:
        if (self.kind == "sae_latent") != (self.latent is not None):
            raise ValueError("`latent` is required for kind sae_latent and not allowed otherwise")
        if self.kind != "probe" and self.output != "probability":
            raise ValueError("`output` applies to kind probe only; remove it")
        return self


class PackSpec(_Strict):
    """The contents of ``pack.yaml``."""

    format_version: Literal[1] = PACK_FORMAT_VERSION
    model: str
    d_model: int = Field(gt=0)
    layer: int = Field(ge=0)
    hook_point: str
    signals: list[SignalSpec] = Field(min_length=1)
    built: dict[str, object] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique_names(self) -> PackSpec:
        names = [signal.name for signal in self.signals]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"signal names must be unique; repeated: {', '.join(repeated)}")
        return self


def hook_point_for(layer: int) -> str:
    """The pack's name for where activations are read: the output of decoder block ``layer``."""
    return f"blocks.{layer}.output"


#: Which of a pack's recorded baseline sets stands for the inputs of each monitor source.
REFERENCE_SETS: dict[str, str] = {"prompts": "prompts", "train_batch": "responses", "generations": "responses"}


@dataclass
class PersonaPack:
    """A loaded ``pack.yaml`` and the directory it lives in; tensors load in :meth:`build_signals`.

    Example::

        pack = load_pack("builtin:smollm2")
        pack.check_width(hidden_size(model))
        signals = pack.build_signals()
    """

    root: Path
    spec: PackSpec

    @property
    def layer(self) -> int:
        return self.spec.layer

    def check_width(self, d_model: int) -> None:
        """Refuse a model whose residual width differs from the one the pack was built for."""
        if d_model != self.spec.d_model:
            raise PackError(
                f"pack {self.root} was built for {self.spec.model} (d_model={self.spec.d_model}) but the "
                f"model being trained has hidden_size={d_model}; a pack only fits models of its own width: "
                f"{_REBUILD_HINT} for this model"
            )

    def reference_spreads(self) -> dict[tuple[str, str], float]:
        """(signal, monitor source) → the per-sample std the pack recorded on inputs like that source's.

        Probe prompts compare with the pack's prompt set; training answers and the model's own
        answers with its reference answers. Signals without recorded stats are left out.
        """
        spreads: dict[tuple[str, str], float] = {}
        for spec in self.spec.signals:
            for source, reference in REFERENCE_SETS.items():
                if (stats := spec.baseline.get(reference)) is not None:
                    spreads[(spec.name, source)] = stats.std
        return spreads

    def build_signals(self) -> SignalSet:
        """Load every signal's tensors, checking shapes against the pack's ``d_model``."""
        directions: dict[str, dict[str, torch.Tensor]] = {}
        saes: dict[str, dict[str, int]] = {}
        poolings: dict[str, str] = {}
        signals: list[Signal] = []
        for spec in self.spec.signals:
            if spec.kind == "direction":
                vector = self._vector(spec.file, self._tensors(spec.file), spec.name)
                directions.setdefault(f"{spec.file}:{spec.pooling}", {})[spec.name] = vector
                poolings[f"{spec.file}:{spec.pooling}"] = spec.pooling
            elif spec.kind == "probe":
                tensors = self._tensors(spec.file)
                coef = self._vector(spec.file, tensors, "coef")
                signals.append(ProbeSignal(spec.name, coef, tensors.get("intercept", torch.zeros(1)), spec.pooling, spec.output))
            else:
                saes.setdefault(f"{spec.file}:{spec.pooling}", {})[spec.name] = int(spec.latent)
                poolings[f"{spec.file}:{spec.pooling}"] = spec.pooling
        for key, vectors in directions.items():
            signals.append(DirectionSignal(vectors, poolings[key]))
        for key, latents in saes.items():
            sae = self._sae(key.rsplit(":", 1)[0])
            try:
                signals.append(SaeLatentSignal(sae, latents, poolings[key]))
            except ValueError as error:
                raise PackError(f"{self.root / PACK_FILE}: {error}; {_REBUILD_HINT}") from error
        order = {spec.name: position for position, spec in enumerate(self.spec.signals)}
        return SignalSet(sorted(signals, key=lambda signal: min(order[name] for name in signal.names)))

    def steering_vector(self, name: str) -> torch.Tensor:
        """The residual-stream direction a signal reads, for steering: a latent's decoder row, a probe's weights, a direction.

        For an SAE latent the *decoder* row is the direction the latent writes back (what the
        model would carry if the latent fired); the encoder column is only what it listens to.
        """
        spec = next((signal for signal in self.spec.signals if signal.name == name), None)
        if spec is None:
            raise PackError(f"{self.root / PACK_FILE}: no signal {name!r} (has: {', '.join(s.name for s in self.spec.signals)})")
        if spec.kind == "direction":
            return self._vector(spec.file, self._tensors(spec.file), spec.name)
        if spec.kind == "probe":
            return self._vector(spec.file, self._tensors(spec.file), "coef")
        return self._sae(spec.file).W_dec[int(spec.latent)].detach().float().clone()

    def _path(self, relative: str, *, directory: bool = False) -> Path:
        try:
            path = (self.root / relative).resolve()
            path.exists()
        except (OSError, ValueError) as error:  # a name the OS refuses: too long, say
            raise PackError(f"{self.root / PACK_FILE}: file {relative[:80]!r} is not a usable path ({type(error).__name__}); {_REBUILD_HINT}") from None
        if not path.is_relative_to(self.root.resolve()):
            raise PackError(f"{self.root / PACK_FILE}: file {relative!r} points outside the pack directory")
        if not path.exists():
            raise PackError(f"{self.root / PACK_FILE}: file {relative!r} does not exist in the pack; {_REBUILD_HINT}")
        # A FIFO or device named as a tensor file would block the loader forever.
        if not (path.is_dir() if directory else path.is_file()):
            raise PackError(f"{self.root / PACK_FILE}: {relative!r} is not a {'directory' if directory else 'regular file'}; {_REBUILD_HINT}")
        return path

    def _tensors(self, relative: str) -> dict[str, torch.Tensor]:
        path = self._path(relative)
        try:
            tensors = load_file(path)
        except (SafetensorError, OSError, ValueError) as error:
            raise PackError(f"{path}: not a readable safetensors file ({error}); {_REBUILD_HINT}") from error
        for key, tensor in tensors.items():
            _check_weights(path, key, tensor)
        return tensors

    def _vector(self, relative: str, tensors: Mapping[str, torch.Tensor], key: str) -> torch.Tensor:
        if key not in tensors:
            raise PackError(f"{self.root / relative}: no tensor {key!r} (has: {', '.join(sorted(tensors)) or 'none'})")
        tensor = tensors[key]
        if tuple(tensor.shape) != (self.spec.d_model,):
            raise PackError(
                f"{self.root / relative}: tensor {key!r} has shape {tuple(tensor.shape)}, expected "
                f"({self.spec.d_model},) for d_model={self.spec.d_model}; {_REBUILD_HINT}"
            )
        return tensor.float()

    def _sae(self, relative: str):
        path = self._path(relative, directory=True)
        for name in SAE_FILES:
            self._path(f"{relative}/{name}")  # inside the pack, and regular files, before sae-lens opens them
        try:
            return load_sae(path, d_model=self.spec.d_model)
        except SaeError as error:
            raise PackError(f"{error}; {_REBUILD_HINT}") from None


#: Suffixes of pickle-based formats. Nothing here loads them, but a pack that carries one was not made by
#: em-monitor and may be meant for a loader that would run it: such a pack is refused as a whole.
PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".bin", ".ckpt", ".joblib")


def _check_weights(path: Path, key: str, tensor: torch.Tensor) -> None:
    try:
        check_weights(path, key, tensor)
    except SaeError as error:
        raise PackError(f"{error}; {_REBUILD_HINT}") from None


def _pickles_in(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.suffix.lower() in PICKLE_SUFFIXES)


def pack_directory(spec: str | Path) -> Path:
    """Where a pack given on a command line lives: ``builtin:NAME`` for a shipped pack, else a directory."""
    if not is_builtin(spec):
        return Path(spec)
    try:
        return resolve_builtin(spec, BUILTIN_PACKS, "pack")
    except InputError as error:
        raise PackError(str(error)) from None


def load_pack(path: str | Path) -> PersonaPack:
    """Read and validate ``pack.yaml`` in ``path``, a directory or ``builtin:NAME`` (tensors are loaded later by ``build_signals``)."""
    root = pack_directory(path)
    spec_path = root / PACK_FILE
    if not spec_path.is_file():
        raise PackError(f"{root}: no {PACK_FILE} here; point `pack` at a directory made by `em-monitor build-pack`")
    pickles = _pickles_in(root)
    if pickles:
        raise PackError(f"{root}: holds pickle-format files ({', '.join(str(path.relative_to(root)) for path in pickles[:3])}); "
                        "em-monitor packs are safetensors + YAML/JSON only: remove them, or rebuild the pack")
    try:
        spec = PackSpec.model_validate(load_yaml(read_text(spec_path), str(spec_path)))
    except TextFileError as error:
        raise PackError(str(error)) from None
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, item['loc'])) or '(top level)'}: {item['msg']}" for item in error.errors())
        raise PackError(f"{spec_path}: {problems}") from error
    return PersonaPack(root=root, spec=spec)


def save_directions(path: str | Path, directions: Mapping[str, torch.Tensor]) -> None:
    """Write persona directions, one float32 tensor per signal name."""
    save_file({name: vector.detach().float().contiguous().cpu() for name, vector in directions.items()}, str(path))


def save_probe(path: str | Path, coef: torch.Tensor, intercept: float, metadata: Mapping[str, object] | None = None) -> None:
    """Write a probe's weights (safetensors) and its metadata (a JSON file beside it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(
        {"coef": coef.detach().float().flatten().contiguous().cpu(), "intercept": torch.tensor([float(intercept)])},
        str(path),
    )
    path.with_suffix(".json").write_text(json.dumps(dict(metadata or {}), indent=2, sort_keys=True) + "\n")


def write_pack_spec(root: str | Path, spec: PackSpec) -> Path:
    """Write ``pack.yaml`` for ``spec`` into ``root``."""
    path = Path(root) / PACK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {"format_version": spec.format_version, **spec.model_dump(mode="json", exclude_defaults=True)}
    path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    return path
