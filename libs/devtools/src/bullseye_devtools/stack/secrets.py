"""The stack's secrets: the master key that wraps every data key, the key of the hashes that
match emails and phones, and the token ingestion shows identity to obtain data keys.

In Kubernetes they come from Secrets; locally they are generated once and kept in the
stack's env file, because a restart with new keys could no longer open what was sealed.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping

TOKEN_NAMES = ("IDENTITY_KEY_CLIENT_TOKEN", "INGESTION_IDENTITY_TOKEN")  # one value, two readers
NAMES = ("BULLSEYE_MASTER_KEY", "BULLSEYE_HASH_KEY", *TOKEN_NAMES)


def generate() -> dict[str, str]:
    token = secrets.token_urlsafe(32)
    return {
        "BULLSEYE_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "BULLSEYE_HASH_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        **dict.fromkeys(TOKEN_NAMES, token),
    }


def kept_or_new(stored: Mapping[str, str]) -> dict[str, str]:
    """The secrets in `stored` (a previous run's env file) when complete, else new ones."""
    if all(stored.get(name) for name in NAMES):
        return {name: stored[name] for name in NAMES}
    return generate()
