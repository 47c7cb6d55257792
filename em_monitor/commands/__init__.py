"""One module per ``em-monitor`` verb.

Each module defines ``register(verbs)``, which adds its sub-parser and sets ``handler``. Modules keep
heavy imports (torch models, sae-lens) inside their handlers so that ``em-monitor --help`` and
``check-config`` answer in well under a second.
"""

from __future__ import annotations

import importlib

# Order here is the order of ``em-monitor --help``.
VERB_MODULES = (
    "demo",
    "calibrate",
    "check_config",
    "schema",
    "build_sae",
    "diff",
    "train_probe",
    "audit",
    "build_pack",
    "steer",
)


def register_all(verbs: object) -> None:
    """Let every verb module add its sub-parser."""
    for name in VERB_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(verbs)
