"""The compile cache: each config file's documents as they leave rendering and validation, kept under
``.dpm/cache/`` so that a re-plan reads unchanged files without parsing them again.

An entry is found by the file's name and the environment, and used only when everything else that decides its
documents is unchanged too: its key (``entry_key``) covers the file's bytes, dpm's version, the vars and the
environment's name, and the entry lists each ``env.*`` value the file read, which must still be the same. No secret
value is ever kept: each ``secret.*`` expression is stored as written and evaluated again from the environment of
the run that reads the entry.

Entries are JSON, never pickle: a file in a directory that a checkout can fill must not be able to run code. The
directory is dpm's own (mode 0700, a ``.gitignore`` of ``*``); an entry must be a regular file of the current user
with mode 0600, so one committed to a repository (git writes 0644) is ignored. Writes go to a temporary file that
replaces the entry in one step, so concurrent runs read the old entry or the new one, never half of one; an entry
that cannot be read or used is recompiled and written again. When the directory cannot be made or written, dpm
runs uncached.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydantic

import dpm
from dpm import __version__, fastjson
from dpm.config import render, yamlio

DIRECTORY = Path(".dpm") / "cache"
FORMAT = 1  # bump when what an entry holds, or how dpm reads it, changes
_GITIGNORE = b"# Written by dpm: its local state (compile cache, embedded registry); nothing here belongs in git.\n*\n"

log = logging.getLogger("dpm.cache")


def run_key(variables: Mapping[str, Any], environment: str | None) -> bytes:
    """What every entry of a run depends on: dpm's version and the cache's format, those of Python and of the
    libraries that read, render and check a file (their messages are in the diagnostics), the environment, the
    vars."""
    libraries = f"{sys.version} {yamlio.LIBRARY} {render.LIBRARY} pydantic {pydantic.VERSION}"
    variables_text = json.dumps(variables, sort_keys=True, default=repr)
    parts = (str(FORMAT), __version__, _code_stamp(), libraries, environment or "", variables_text)
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).digest()


@functools.cache
def _code_stamp() -> str:
    """dpm's own code as installed: each module's path, size and modification time. The version alone is not enough:
    an editable install, or a checkout between releases, changes the rules without changing the version. Stat calls
    only (about 150 files), so a cold run does not read the code to key the cache."""
    root = Path(dpm.__file__).parent
    stamps = sorted(f"{p.relative_to(root)}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in root.rglob("*.py"))
    return hashlib.sha256("\n".join(stamps).encode()).hexdigest()


def entry_key(run: bytes, name: str, raw: bytes) -> str:
    """What an entry must have been made from, besides the ``env`` values it lists: the run's key (``run_key``),
    the file's name (its diagnostics show it) and its bytes."""
    digest = hashlib.sha256(run)
    digest.update(name.encode("utf-8", "surrogatepass") + b"\0")
    digest.update(raw)
    return digest.hexdigest()


def env_state(name: str, environ: Mapping[str, str], secret_names: frozenset[str]) -> str | None:
    """How the ``env.NAME`` a file read stands: a secret (its value is evaluated again, never kept), unset, or a
    digest of its value."""
    if name in secret_names:
        return "secret"
    value = environ.get(name)
    return None if value is None else hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


class CompileCache:
    """The cache of one environment's entries, or none (``path`` None): then nothing is read or written.

    The entries live in one file per environment, a line per config file (its name's digest, its key, the entry),
    read once when the cache is opened and written once, by ``save``, when the run changed any of them: a file a
    run does not read keeps its entry, so runs over different paths share the cache.
    """

    def __init__(self, path: Path | None, lines: dict[str, str] | None = None) -> None:
        self.path = path
        self._lines = lines or {}
        self._used: set[str] = set()
        self._changed = False

    @classmethod
    def off(cls) -> CompileCache:
        return cls(None)

    @classmethod
    def under(cls, root: Path, environment: str | None) -> CompileCache:
        """The cache in ``root/.dpm/cache``, made private if missing; off when it cannot be made, is not dpm's own
        private directory, or cannot be written."""
        directory = root / DIRECTORY
        # A checkout can hold a symbolic link here (to anywhere), or a directory with git's modes: neither is used.
        try:
            _private_dir(directory.parent)
            if directory.parent.is_symlink():
                raise NotADirectoryError(f"{directory.parent} is a symbolic link")
            _private_dir(directory)
            info = directory.lstat()
        except OSError as exc:
            log.debug("compile cache off: %s cannot be made (%s)", directory, exc.strerror or exc)
            return cls.off()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
            log.debug("compile cache off: %s is not a private directory of this user", directory)
            return cls.off()
        if not os.access(directory, os.W_OK | os.X_OK):
            log.debug("compile cache off: %s is not writable", directory)
            return cls.off()
        path = directory / f"compile-{_digest(environment or '')[:16]}.jsonl"
        return cls(path, _read_lines(path))

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def get(self, name: str, key: str) -> Any:
        """The entry of the file ``name`` when it was made with ``key``, or None (also when it cannot be read)."""
        digest = _digest(name)
        line = self._lines.get(digest)
        self._used.add(digest)
        if line is None or line[65:129] != key:
            return None
        try:
            return fastjson.loads(line[line.index("\t") + 1 :])
        except (ValueError, RecursionError):
            return None  # corrupt: compiled afresh and written again

    def put(self, name: str, key: str, text: str) -> None:
        """Keep ``text`` (one line of JSON) as the entry of the file ``name`` made with ``key``."""
        digest = _digest(name)
        self._lines[digest] = f"{digest} {key} {json.dumps(name)}\t{text}"  # the name's JSON holds no tab
        self._used.add(digest)
        self._changed = True

    def save(self) -> None:
        """Write the entries, when any changed, replacing the file in one step; a failure leaves it as it was."""
        if self.path is None or not self._changed:
            return
        # The entries of files this run did not read stay while those files exist: runs over other paths use them.
        self._lines = {d: line for d, line in self._lines.items() if d in self._used or _exists(line)}
        import tempfile  # noqa: PLC0415 - only a run that writes needs it, and it costs a warm run's start-up

        temporary = None
        try:
            fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-", suffix=".jsonl")  # mode 0600
            with os.fdopen(fd, "wb") as handle:
                handle.write("\n".join(self._lines.values()).encode("utf-8", "surrogatepass") + b"\n")
            os.replace(temporary, self.path)
            temporary = None
            self._changed = False
        except OSError as exc:
            log.debug("compile cache: cannot write %s (%s)", self.path, exc.strerror or exc)
        finally:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)


def _exists(line: str) -> bool:
    try:
        name = json.loads(line[130 : line.index("\t")])
    except ValueError:
        return False
    return isinstance(name, str) and os.path.isfile(name)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _read_lines(path: Path) -> dict[str, str]:
    """The entries of the file at ``path`` by their name's digest; none when it is missing or cannot be trusted."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return {}
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
            log.debug("compile cache: %s is not a private file of this user; not read", path)
            return {}  # not written by dpm for this user: a checkout, or another user's file
        try:
            text = handle.read().decode("utf-8", "surrogatepass")
        except (OSError, UnicodeDecodeError):
            return {}
    lines = {}
    for line in text.split("\n"):
        if len(line) > 130 and line[64] == " " and line[129] == " ":  # a truncated last line fails to parse later
            lines[line[:64]] = line
    return lines


def _private_dir(path: Path) -> None:
    """Creates ``path`` with mode 0700 and a ``.gitignore`` of ``*`` unless it exists (then it is left as it is)."""
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        return
    path.chmod(0o700)  # whatever the umask
    fd = os.open(path / ".gitignore", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(_GITIGNORE)
