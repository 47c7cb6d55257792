"""Training-framework adapters for em-monitor (installed as ``em_monitor.callbacks``).

Only this package imports Lightning; the core ``em_monitor`` package stays framework-free.
"""

from em_monitor.callbacks.lightning import PersonaMonitor

__all__ = ["PersonaMonitor"]
