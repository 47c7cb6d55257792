"""One module per ``em-monitor`` verb.

Each module defines ``register(verbs)``, which adds its sub-parser and sets ``handler``. Modules keep
heavy imports (torch models, sae-lens) inside their handlers, and a command line that names its
verb registers that verb alone, so that ``check-config``, ``build-pack``'s input checks and most
verbs' ``--help`` answer in well under a second (``demo``, ``build-sae`` and ``diff`` describe
their flags with their core modules' constants, and take a few seconds).
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


def register_all(verbs: object, *, only: str | None = None) -> None:
    """Let the verb modules add their sub-parsers: only verb ``only``'s when it names one, else every verb's.

    Why ``only``: a few verb modules need their core module's constants (and so torch) to describe
    their flags; a command line that names its verb should not pay for the other verbs' imports.
    ``em-monitor --help`` registers them all.
    """
    module = only.replace("-", "_") if only else None
    for name in (module,) if module in VERB_MODULES else VERB_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(verbs)
