"""em-monitor: watch persona signals while a language model fine-tunes, and catch emergent misalignment early.

The core (``runtime/``, ``offline/`` and the shared modules) imports no training framework; the
adapters are ``em_monitor.callbacks.PersonaMonitor`` (Lightning) and
``em_monitor.callbacks.hf.PersonaMonitorCallback`` (the Hugging Face ``Trainer`` and TRL). Nothing here starts servers or registers hooks at import.
"""

from em_monitor.config import MonitorConfig, load_config
from em_monitor.packs import PersonaPack, load_pack
from em_monitor.runtime.monitor import Monitor
from em_monitor.runtime.own_answers import AnswerProbe
from em_monitor.runtime.prompt_probe import PromptProbe

__all__ = ["AnswerProbe", "MonitorConfig", "Monitor", "PersonaPack", "PromptProbe", "load_config", "load_pack", "__version__"]
__version__ = "0.1.0"
