"""em-monitor: watch persona signals while a language model fine-tunes, and catch emergent misalignment early.

The core (``runtime/``, ``offline/`` and the shared modules) imports no training framework; the
adapters are ``em_monitor.callbacks.PersonaMonitor`` (Lightning) and
``em_monitor.callbacks.hf.PersonaMonitorCallback`` (the Hugging Face ``Trainer`` and TRL). Nothing here starts servers or registers hooks at import.

The names below are imported on first use (PEP 562): importing the package, as the command line
does before it even parses its flags, must not cost the seconds torch and transformers take.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["AnswerProbe", "MonitorConfig", "Monitor", "PersonaPack", "PromptProbe", "load_config", "load_pack", "__version__"]
__version__ = "0.1.0"

#: Where each public name lives.
_EXPORTS = {
    "MonitorConfig": "em_monitor.config",
    "load_config": "em_monitor.config",
    "PersonaPack": "em_monitor.packs",
    "load_pack": "em_monitor.packs",
    "Monitor": "em_monitor.runtime.monitor",
    "AnswerProbe": "em_monitor.runtime.own_answers",
    "PromptProbe": "em_monitor.runtime.prompt_probe",
}

if TYPE_CHECKING:
    from em_monitor.config import MonitorConfig, load_config
    from em_monitor.packs import PersonaPack, load_pack
    from em_monitor.runtime.monitor import Monitor
    from em_monitor.runtime.own_answers import AnswerProbe
    from em_monitor.runtime.prompt_probe import PromptProbe


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'em_monitor' has no attribute {name!r}")
