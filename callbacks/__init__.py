"""Training-framework adapters for em-monitor (installed as ``em_monitor.callbacks``).

Only this package and ``em_monitor.finetune`` (the reference fine-tunes and the demo job) import
a training framework (Lightning, the Hugging Face ``Trainer``); the core stays framework-free. Each adapter maps its framework's events onto
:class:`em_monitor.runtime.controller.Controller`.
"""

from em_monitor.callbacks.hf import PersonaMonitorCallback
from em_monitor.callbacks.lightning import PersonaMonitor

__all__ = ["PersonaMonitor", "PersonaMonitorCallback"]
