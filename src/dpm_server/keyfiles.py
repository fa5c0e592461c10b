"""Server keys: taken from settings, or generated once into a mode-0600 file under the data directory."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr


def load_or_create_key(configured: SecretStr | None, path: Path, generate: Callable[[], bytes]) -> bytes:
    """The configured key, else the key in ``path``, else a new key written to ``path`` readable only by us."""
    if configured is not None:
        return configured.get_secret_value().encode()
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate()
    # O_EXCL: when two processes start at once, exactly one writes the key and the other reads it.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
    return key
