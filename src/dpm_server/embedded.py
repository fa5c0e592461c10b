"""The embedded registry: the server run in-process on a loopback port, for a client on the same machine.

This is the one entry point the dpm client uses to reach the server's code (besides the lazy ``serve`` and
``users`` commands): it yields a URL and an admin token, and the client talks HTTP to it like to any registry.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from sqlalchemy.exc import SQLAlchemyError

from dpm_server.app import create_app, embedded_admin_token
from dpm_server.keyfiles import ignored_by_git, private_dir
from dpm_server.settings import Settings


@dataclass(frozen=True)
class EmbeddedRegistry:
    url: str  # the API base, e.g. http://127.0.0.1:41234/api
    token: str  # an admin access token: no password, no login request


class EmbeddedStartError(RuntimeError):
    """The server did not start (an unwritable data directory, a broken database file)."""


def _reason(exc: OSError | SQLAlchemyError) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return str(getattr(exc, "orig", None) or type(exc).__name__)


@contextlib.contextmanager
def embedded_registry(data_dir: Path) -> Iterator[EmbeddedRegistry]:
    """Serve the registry over ``data_dir`` for the duration of the block."""
    try:
        private_dir(data_dir)  # 0700 when new, as `dpm serve` makes it; a warning when an existing one is looser
        ignored_by_git(data_dir)  # always dpm's own .dpm/: one made before dpm wrote its .gitignore gets one too
        app = create_app(Settings(data_dir=data_dir))
        token = embedded_admin_token(app)
    except (OSError, SQLAlchemyError) as exc:
        raise EmbeddedStartError(f"the embedded registry cannot use {data_dir}: {_reason(exc)}") from exc
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
                raise EmbeddedStartError(f"the embedded registry failed to start over {data_dir}")
            threading.Event().wait(0.01)
        yield EmbeddedRegistry(f"http://127.0.0.1:{port}/api", token)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
