"""em-monitor: watch persona signals while a language model fine-tunes, and catch emergent misalignment early.

The core (this package) has no Lightning import; the Lightning callback is
``em_monitor.callbacks.PersonaMonitor``. Nothing here starts servers or registers hooks at import.
"""

from em_monitor.config import MonitorConfig, load_config
from em_monitor.packs import PersonaPack, load_pack
from em_monitor.runtime.monitor import Monitor
from em_monitor.runtime.own_answers import AnswerProbe
from em_monitor.runtime.prompt_probe import PromptProbe

__all__ = ["AnswerProbe", "MonitorConfig", "Monitor", "PersonaPack", "PromptProbe", "load_config", "load_pack", "__version__"]
__version__ = "0.1.0"
