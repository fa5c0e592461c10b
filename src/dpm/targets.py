"""Targets: which registry a command talks to, and a client for it.

A registry is named by ``--registry``, then ``DPM_REGISTRY_URL``, then the environment file's or ``dpm.yaml``'s
``registry``. When none is named, dpm uses the embedded registry: the same server application, run in-process on
a loopback port over a SQLite file under ``.dpm/``, with no credentials needed. Under ``CI=true`` that default is
refused unless asked for by name (``--registry embedded``): a job that lost its URL must not "succeed" against a
local file.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from dpm.client import Credentials, RegistryClient
from dpm.errors import UsageError

EMBEDDED = "embedded"
DATA_DIR = ".dpm"


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
            raise UsageError(
                f"registry {named!r} is not an http(s) URL", "name the API base, e.g. http://localhost:8000/api"
            )
        return TargetChoice(named, _shown(data_dir))
    if environ.get("CI", "").lower() == "true":
        raise UsageError(
            "no registry is named, and under CI=true dpm refuses to fall back to the embedded registry",
            "pass --registry URL or set DPM_REGISTRY_URL; use --registry embedded to mean the local one",
        )
    return TargetChoice(None, _shown(data_dir))


def _shown(path: Path) -> Path:
    with contextlib.suppress(ValueError):
        return path.resolve().relative_to(Path.cwd().resolve())
    return path


@contextlib.contextmanager
def connect(choice: TargetChoice, environ: Mapping[str, str], max_wait: float) -> Iterator[RegistryClient]:
    """A client for ``choice``; for the embedded registry, the server runs for the duration of the block."""
    if choice.url is not None:
        client = RegistryClient(choice.url, Credentials.from_environ(environ), max_wait=max_wait)
        try:
            yield client
        finally:
            client.close()
        return
    with _embedded(choice.data_dir) as (url, token):
        client = RegistryClient(url, Credentials(token=token), max_wait=max_wait)
        try:
            yield client
        finally:
            client.close()


@contextlib.contextmanager
def _embedded(data_dir: Path) -> Iterator[tuple[str, str]]:
    # Imported here: commands that never touch a registry should not pay for loading the server.
    import uvicorn  # noqa: PLC0415

    from dpm_server.app import create_app, embedded_admin_token  # noqa: PLC0415
    from dpm_server.settings import Settings  # noqa: PLC0415

    data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(Settings(data_dir=data_dir))
    token = embedded_admin_token(app)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False, proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="dpm-embedded", daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise UsageError("the embedded registry failed to start", f"check {data_dir} is writable")
            threading.Event().wait(0.01)
        yield f"http://127.0.0.1:{port}/api", token
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
