"""What scoring SAE latents costs: the monitor's watched-latents path against encoding the whole dictionary.

The monitor watches a handful of latents (``k``) out of ``d_sae``. For standard and JumpReLU
SAEs it gathers those ``k`` encoder columns once and multiplies by them alone
(``SaeLatentSignal.encode_watched``). This compares, on the same activations and SAE:

- ``fast``: that watched-latents path;
- ``full``: the path the monitor falls back to for TopK SAEs, ``sae.encode(x)[..., ids]``;
- ``sae_lens``: sae-lens's own ``sae.encode(x)``, the library's reference cost.

Each time is set against a lower bound: the seconds it takes this machine to read, once from
memory, the activations and the encoder weights that path needs (``k × d_model`` floats for
``fast``, ``d_sae × d_model`` for the others), at the read bandwidth measured in the same run. Timings come from
``torch.utils.benchmark`` (median of blocked runs), which handles warm-up and thread settings.

The last stdout line is one JSON object (see ``benchmarks/README.md``).

Usage::

    python benchmarks/projection.py            # d_sae 4k/16k/64k, k 1/8/64, standard + JumpReLU
    python benchmarks/projection.py --quick    # d_sae 4k, k 1/8: a smoke run
    python benchmarks/projection.py --device cuda --d-model 4096 --d-sae 65536   # on a GPU
"""

from __future__ import annotations

import argparse
import json
import platform
import warnings

import torch
from torch.utils import benchmark

FLOAT_BYTES = 4


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--d-model", type=int, default=576, help="residual width (576 = SmolLM2-135M)")
    parser.add_argument("--tokens", type=int, default=400, help="activations per call (400 = one probe batch, 8 prompts x ~50 tokens)")
    parser.add_argument("--d-sae", type=int, nargs="+", default=[4096, 16384, 65536])
    parser.add_argument("--k", type=int, nargs="+", default=[1, 8, 64], help="watched latents")
    parser.add_argument("--architectures", nargs="+", default=["standard", "jumprelu"], choices=["standard", "jumprelu"])
    parser.add_argument("--min-run-time", type=float, default=0.5, help="seconds of timed runs per measurement")
    parser.add_argument("--device", default="cpu", help="where the SAE, the activations and the bandwidth probe live (`cpu`, `cuda`, `cuda:1`)")
    parser.add_argument("--quick", action="store_true", help="d_sae 4k, k 1 and 8, standard only, short timings")
    args = parser.parse_args(argv)
    if args.quick:
        args.d_sae, args.k, args.architectures, args.min_run_time = [4096], [1, 8], ["standard"], 0.05
    return args


def read_bandwidth(min_run_time: float, device: str = "cpu") -> float:
    """Bytes per second this device reads from its memory: a sum over a 256 MiB tensor, far larger than any cache."""
    big = torch.ones(64 * 1024 * 1024, device=device)
    seconds = benchmark.Timer("big.sum()", globals={"big": big}).blocked_autorange(min_run_time=min_run_time).median
    return big.numel() * FLOAT_BYTES / seconds


def random_sae(architecture: str, d_model: int, d_sae: int, device: str = "cpu"):
    """A sae-lens SAE with random weights (timing does not depend on what they mean), on ``device``."""
    from sae_lens.registry import get_sae_class

    sae_class, config_class = get_sae_class(architecture)
    sae = sae_class(config_class(d_in=d_model, d_sae=d_sae, device=str(device)))
    with torch.no_grad():
        for parameter in sae.parameters():
            parameter.normal_(0, 0.1)
    return sae.eval()


def time_call(statement: str, scope: dict, min_run_time: float) -> float:
    with torch.no_grad():
        return benchmark.Timer(statement, globals=scope).blocked_autorange(min_run_time=min_run_time).median


def measure(sae, architecture: str, k: int, activations: torch.Tensor, bandwidth: float, min_run_time: float) -> dict:
    from em_monitor.runtime.signals import SaeLatentSignal

    d_model, d_sae = int(sae.cfg.d_in), int(sae.cfg.d_sae)
    ids = torch.randperm(d_sae, generator=torch.Generator().manual_seed(k))[:k].to(activations.device)
    signal = SaeLatentSignal(sae, {f"latent_{int(index)}": int(index) for index in ids})
    assert signal.sliced, f"{architecture} SAEs take the watched-latents path"
    scope = {"signal": signal, "sae": sae, "x": activations, "ids": ids}
    with torch.no_grad():
        difference = float((signal.encode_watched(activations) - sae.encode(activations)[..., ids]).abs().max())
    seconds = {
        "fast": time_call("signal.encode_watched(x)", scope, min_run_time),
        "full": time_call("sae.encode(x)[..., ids]", scope, min_run_time),
        "sae_lens": time_call("sae.encode(x)", scope, min_run_time),
    }
    # Every path reads the activations once and its encoder weights once: no implementation can beat that.
    read_bytes = {"fast": (k + activations.shape[0]) * d_model * FLOAT_BYTES, "full": (d_sae + activations.shape[0]) * d_model * FLOAT_BYTES}
    read_bytes["sae_lens"] = read_bytes["full"]
    bound = {path: size / bandwidth for path, size in read_bytes.items()}
    return {
        "architecture": architecture,
        "d_sae": d_sae,
        "k": k,
        **{f"{path}_seconds": round(value, 7) for path, value in seconds.items()},
        "speedup_vs_full": round(seconds["full"] / seconds["fast"], 1),
        "speedup_vs_sae_lens": round(seconds["sae_lens"] / seconds["fast"], 1),
        **{f"{path}_ratio_to_bound": round(seconds[path] / bound[path], 1) for path in seconds},
        "max_abs_difference": difference,
    }


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    bandwidth = read_bandwidth(args.min_run_time, args.device)
    activations = torch.randn(args.tokens, args.d_model, device=args.device)
    rows = []
    for architecture in args.architectures:
        for d_sae in args.d_sae:
            sae = random_sae(architecture, args.d_model, d_sae, args.device)
            for k in args.k:
                row = measure(sae, architecture, k, activations, bandwidth, args.min_run_time)
                print(f"{architecture:9s} d_sae {d_sae:6d} k {k:3d}: fast {row['fast_seconds'] * 1e3:8.3f} ms, "
                      f"full {row['full_seconds'] * 1e3:8.3f} ms, sae-lens {row['sae_lens_seconds'] * 1e3:8.3f} ms, "
                      f"x{row['speedup_vs_full']}", flush=True)
                rows.append(row)
    # The bar: at least 10x faster than the full encode for k <= 8 at d_sae 16k.
    at_16k = [row["speedup_vs_full"] for row in rows if row["d_sae"] == 16384 and row["k"] <= 8]
    report = {
        "benchmark": "projection",
        "d_model": args.d_model,
        "tokens": args.tokens,
        "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {torch.get_num_threads()} threads",
        "device": str(activations.device),
        "device_name": torch.cuda.get_device_name(activations.device) if activations.device.type == "cuda" else platform.processor() or platform.machine(),
        "read_bandwidth_gb_s": round(bandwidth / 1e9, 2),
        "rows": rows,
        "min_speedup_k_le_8_d_sae_16k": min(at_16k) if at_16k else None,
        "max_abs_difference": max(row["max_abs_difference"] for row in rows),
    }
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
