"""The runtime monitor: what runs inside a training run, framework-neutral.

Capture and pooling of activations, the persona signals, the probe-prompt and own-answer passes,
baselines, drift and levels (``monitor.py``), the controller every adapter drives
(``controller.py``, with the ``Levers`` seam in ``levers.py``), Prometheus export, the endpoint
and the Pushgateway pusher, the event log and its schema, realignment and the behavioural check.
Nothing here imports a training framework; the adapters live in ``em_monitor.callbacks``.
"""
