"""Server files: keys taken from settings or generated once, and the modes of everything under the data directory.

The data directory is created with mode 0700 and every file the server creates in it (the key files, the SQLite
database and its WAL and shared-memory files, a ``.gitignore``) with mode 0600, whatever the umask. A file or
directory that already exists with a looser mode is left as it is, with a warning at start: it may hold keys,
secrets and password hashes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr

from dpm_server.logs import get_logger

log = get_logger("registry")
_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def load_or_create_key(configured: SecretStr | None, path: Path, generate: Callable[[], bytes]) -> bytes:
    """The configured key, else the key in ``path``, else a new key written to ``path`` readable only by us."""
    if configured is not None:
        return configured.get_secret_value().encode()
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        pass
    else:
        warn_if_shared(path)
        return key
    private_dir(path.parent)
    key = generate()
    # O_EXCL: when two processes start at once, exactly one writes the key and the other reads it.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)  # the umask may not remove group and other bits the mode lacks anyway
        handle.write(key + b"\n")
    return key


def private_dir(path: Path) -> None:
    """Creates ``path`` (and missing parents) with mode 0700 and ignored by git, or warns when it exists and others
    may enter it."""
    try:
        path.mkdir(parents=True)
    except FileExistsError:
        warn_if_shared(path)
    else:
        path.chmod(0o700)
        ignored_by_git(path)


def ignored_by_git(path: Path) -> None:
    """Gives the directory ``path`` a ``.gitignore`` of ``*`` unless it has one: what dpm keeps there (keys, the
    database) never shows in ``git status`` of a repository it sits in, whatever that repository's own .gitignore
    says. Only for a directory dpm made: in any other, the file would hide everything beside it."""
    try:
        fd = os.open(path / ".gitignore", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # ours from an earlier start, or someone's own: either way it stays as it is
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(b"# Written by dpm: keys and the registry database; nothing here belongs in git.\n*\n")


def create_private_file(path: Path) -> None:
    """Creates an empty ``path`` with mode 0600 unless it exists; then warns when its mode is looser."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        warn_if_shared(path)
    else:
        os.fchmod(fd, 0o600)
        os.close(fd)


def warn_if_shared(path: Path) -> None:
    """A warning when users other than the owner may read, write or enter ``path``; nothing when it is missing."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if mode & _OTHERS:
        wanted = 0o700 if path.is_dir() else 0o600
        log.warning(
            "%s has mode %04o: other users of this machine may read it; run chmod %o %s",
            path,
            mode,
            wanted,
            path,
        )
