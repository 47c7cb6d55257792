"""Training-framework adapters for em-monitor (installed as ``em_monitor.callbacks``).

Only this package imports a training framework (Lightning, the Hugging Face ``Trainer``); the
core ``em_monitor`` package stays framework-free. Each adapter maps its framework's events onto
:class:`em_monitor.runtime.controller.Controller`.
"""

from em_monitor.callbacks.hf import PersonaMonitorCallback
from em_monitor.callbacks.lightning import PersonaMonitor

__all__ = ["PersonaMonitor", "PersonaMonitorCallback"]
