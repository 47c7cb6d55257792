"""The label of a labelled sample: one parser for every tool that reads ``"label"`` from JSONL.

Audit (labels optional, for AUROCs) and probe training (labels required) read the same files, so
they accept the same spellings: misaligned / aligned, 1 / 0, true / false (the positive class is
misaligned).
"""

from __future__ import annotations

from em_monitor.errors import InputError

__all__ = ["LABEL_VALUES", "parse_label"]

LABEL_VALUES: dict[str, int] = {"misaligned": 1, "aligned": 0, "1": 1, "0": 0, "true": 1, "false": 0}


def parse_label(value: object, where: str = "label") -> int | None:
    """``value`` as 1 (misaligned) or 0 (aligned); ``None`` for a missing label; else an error naming ``where``."""
    if value is None:
        return None
    key = str(value).strip().lower()
    if isinstance(value, float) or key not in LABEL_VALUES:
        raise InputError(f"{where}: label {value!r} is not valid; use one of misaligned/aligned, 1/0, true/false (misaligned is the positive class)")
    return LABEL_VALUES[key]
