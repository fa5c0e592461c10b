"""Targets: which registry a command talks to, and a client for it.

A registry is named by ``--registry``, then ``DPM_REGISTRY_URL``, then the environment file's or ``dpm.yaml``'s
``registry``. When none is named, dpm uses the embedded registry: the same server application, run in-process on
a loopback port over a SQLite file under ``.dpm/``, with no credentials needed. Under ``CI=true`` that default is
refused unless asked for by name (``--registry embedded``): a job that lost its URL must not "succeed" against a
local file.
"""

from __future__ import annotations

import contextlib
import re
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dpm.errors import UsageError
from dpm.registry.client import Credentials, RegistryClient

if TYPE_CHECKING:
    from dpm_server.embedded import EmbeddedRegistry

EMBEDDED = "embedded"
DATA_DIR = ".dpm"
_EXAMPLE = "name the API base, e.g. http://localhost:8000/api"
_USER_INFO = re.compile(r"(?<=//)[^/@]*@")


@dataclass(frozen=True)
class TargetChoice:
    url: str | None  # None for the embedded registry
    data_dir: Path

    @property
    def description(self) -> str:
        if self.url is None:
            return f"embedded registry ({self.data_dir / 'registry.db'})"
        return f"registry {self.url}"


def choose_target(
    option: str | None, configured: str | None, environ: Mapping[str, str], project_root: Path | None
) -> TargetChoice:
    named = option or environ.get("DPM_REGISTRY_URL") or configured
    data_dir = (project_root or Path.cwd()) / DATA_DIR
    if named == EMBEDDED:
        return TargetChoice(None, _shown(data_dir))
    if named:
        if not named.startswith(("http://", "https://")):
            raise UsageError(f"registry {named!r} is not an http(s) URL", _EXAMPLE)
        problem = _url_problem(named)
        if problem:
            shown = _USER_INFO.sub("***@", named)  # a password in the URL stays out of the message
            raise UsageError(f"registry URL {shown!r} is malformed: {problem}", _EXAMPLE)
        return TargetChoice(named, _shown(data_dir))
    if environ.get("CI", "").lower() == "true":
        raise UsageError(
            "no registry is named, and under CI=true dpm refuses to fall back to the embedded registry",
            "pass --registry URL or set DPM_REGISTRY_URL; use --registry embedded to mean the local one",
        )
    return TargetChoice(None, _shown(data_dir))


def _url_problem(url: str) -> str | None:
    """What keeps ``url`` from naming a host to connect to, found before any request is made."""
    if any(character.isspace() or not character.isprintable() for character in url):
        return "it contains a space or a control character"
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # the only one urlsplit raises: unbalanced brackets
        return "an IPv6 host must be enclosed in [ ]"
    try:
        port = parts.port
    except ValueError:
        port = 0
    if not parts.hostname:
        return "it names no host"
    if port == 0:
        return "the port must be a number from 1 to 65535"
    return None


def _shown(path: Path) -> Path:
    with contextlib.suppress(ValueError):
        return path.resolve().relative_to(Path.cwd().resolve())
    return path


@dataclass
class Session:
    """A registry a command talks to: what to call it in output, its URL (None when embedded) and a client."""

    target: str
    url: str | None
    client: RegistryClient


@contextlib.contextmanager
def connect(choice: TargetChoice, environ: Mapping[str, str], max_wait: float) -> Iterator[Session]:
    """A session with ``choice``; for the embedded registry, the server runs for the duration of the block."""
    with contextlib.ExitStack() as stack:
        if choice.url is not None:
            client = RegistryClient(choice.url, Credentials.from_environ(environ), max_wait=max_wait)
        else:
            embedded = stack.enter_context(_embedded(choice.data_dir))
            client = RegistryClient(embedded.url, Credentials(token=embedded.token), max_wait=max_wait)
        stack.callback(client.close)
        yield Session(choice.description, choice.url, client)


@contextlib.contextmanager
def _embedded(data_dir: Path) -> Iterator[EmbeddedRegistry]:
    # Imported here: commands that never touch a registry should not pay for loading the server.
    from dpm_server.embedded import EmbeddedStartError, embedded_registry  # noqa: PLC0415

    try:
        with embedded_registry(data_dir) as embedded:
            yield embedded
    except EmbeddedStartError as exc:
        raise UsageError(str(exc), f"check {data_dir} is writable") from None
