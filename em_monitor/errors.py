"""The one error type for input a user must fix: a file, a config value, a flag, a pack.

Why one base class: the command line prints any of them as a single line and exits 1, an
adapter lets them stop a run at start-up with their own message, and the hostile-input tests
assert that a broken file never escapes as anything else (a traceback, a silent drop).
"""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """Something given to em-monitor cannot be used; the message names it (file, line or field) and the fix."""
