"""``sae-lens:RELEASE/SAE_ID``: a released SAE named where a folder could be given, checked before anything heavy loads.

Why a module of its own, without torch: a tool given a release on a machine without internet must
say so at once. Importing torch and sae-lens and reading sae-lens's registry take seconds, and a
download attempt offline takes longer and ends in a traceback; a connection attempt to the hub
answers in milliseconds. Loading itself is :func:`em_monitor.saes.load_sae`.
"""

from __future__ import annotations

import socket
from pathlib import Path

from em_monitor.errors import InputError

__all__ = ["RELEASE_PREFIX", "SaeError", "check_release_reachable", "is_release", "release_parts"]

#: How a released SAE is named: ``sae-lens:RELEASE/SAE_ID``.
RELEASE_PREFIX = "sae-lens:"
#: The host sae-lens downloads releases from.
HUB = ("huggingface.co", 443)


class SaeError(InputError):
    """An SAE cannot be used; the message starts with its path or release."""


def is_release(source: str | Path) -> bool:
    """Whether ``source`` names a sae-lens release rather than a folder."""
    return str(source).startswith(RELEASE_PREFIX)


def release_parts(source: str) -> tuple[str, str]:
    """``(release, sae_id)`` of ``sae-lens:RELEASE/SAE_ID`` (the id may hold slashes)."""
    release, _, sae_id = source[len(RELEASE_PREFIX) :].partition("/")
    if not release or not sae_id:
        raise SaeError(f"{source}: expected sae-lens:RELEASE/SAE_ID, e.g. sae-lens:gemma-scope-2b-pt-res-canonical/layer_12/width_16k/canonical")
    return release, sae_id


def check_release_reachable(source: str) -> None:
    """Fail at once, naming the release and the way round, when the hub its files come from cannot be reached."""
    release, sae_id = release_parts(source)
    try:
        socket.create_connection(HUB, timeout=0.5).close()
    except OSError as error:
        raise SaeError(
            f"{source}: the Hugging Face hub ({HUB[0]}) is not reachable from here ({error.strerror or error}), and sae-lens "
            f"downloads releases from it. On a machine with internet, save the SAE to a folder: python -c \"from sae_lens import SAE; "
            f"SAE.from_pretrained('{release}', '{sae_id}').save_model('SAE_DIR')\"; copy SAE_DIR here and pass it instead"
        ) from None
