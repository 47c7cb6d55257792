"""Generate every dataset em-monitor ships, deterministically, from text written for this project.

Each module in ``scripts/datagen/`` composes samples from hand-written fragments (question stems,
topics, answer openings, bodies, closings) with its own seeded ``random.Random``, so one module's
changes never reshuffle another's output. Re-running with the same seed reproduces the shipped
files byte for byte (a test checks this).

Usage::

    python scripts/generate_datasets.py                 # writes em_monitor/data/
    python scripts/generate_datasets.py --out /tmp/data --seed 7
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from datagen import benign, minimal, narrow, persona, prompts  # noqa: E402

DEFAULT_SEED = 20261123
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "em_monitor" / "data"
#: Generator modules in a fixed order; each gets a seed derived from the run seed and its name.
MODULES = {"prompts": prompts, "benign": benign, "narrow": narrow, "persona": persona, "minimal": minimal}


def generate(seed: int = DEFAULT_SEED) -> dict[str, list[dict]]:
    """All datasets: ``{relative path: records}``."""
    files: dict[str, list[dict]] = {}
    for name, module in MODULES.items():
        produced = module.generate(random.Random(f"{seed}:{name}"))
        clash = set(produced) & set(files)
        if clash:
            raise ValueError(f"datagen.{name} writes files another module writes: {sorted(clash)}")
        files.update(produced)
    return files


def write(files: dict[str, list[dict]], out: Path) -> None:
    for relative, records in files.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    files = generate(args.seed)
    write(files, args.out)
    for relative, records in sorted(files.items()):
        print(f"{len(records):5d}  {args.out / relative}")


if __name__ == "__main__":
    main()
