"""Reference fine-tunes, one per training framework, and the demo job that runs them with the monitor attached.

Not the monitor: these are plain training loops (the demo's, the examples', the benchmarks' and
the tests'), kept apart from the adapters in ``em_monitor.callbacks`` so that a reader sees what
the monitor adds to a run and what any run already has. Unlike the core, they import a training
framework.
"""
