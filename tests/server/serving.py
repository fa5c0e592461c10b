"""Real ``dpm serve`` processes (uvicorn on a loopback port) for the replica and fault tests.

Each server is a subprocess of the test; ``Served`` stops it (SIGTERM, then SIGKILL) when its block ends, and
``kill`` sends SIGKILL on purpose.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from dpm_server.auth.tokens import generate_signing_key
from dpm_server.secretbox import SecretBox
from tests.server.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

DPM = Path(sys.executable).with_name("dpm")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def shared_keys() -> dict[str, str]:
    """The secret and JWT keys replicas must share: one's tokens and ciphertexts are good on the other."""
    return {
        "DPM_SERVER_SECRET_KEY": SecretBox.generate_key().decode(),
        "DPM_SERVER_JWT_SECRET": generate_signing_key().decode(),
    }


@dataclass
class Served:
    data_dir: Path
    database_url: str | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    program: tuple[str, ...] = (str(DPM),)  # or (sys.executable, "-m", "dpm_server"), the standalone entry point
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> Served:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DPM_")} | {
            "DPM_SERVER_DATA_DIR": str(self.data_dir),
            "DPM_SERVER_RATE_LIMIT": "100000000/60",
            "DPM_ADMIN_USERNAME": "admin",
            "DPM_ADMIN_EMAIL": ADMIN_EMAIL,
            "DPM_ADMIN_PASSWORD": ADMIN_PASSWORD,
            **self.extra_env,
        }
        if self.database_url:
            env["DPM_SERVER_DATABASE_URL"] = self.database_url
        command = [*self.program, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / f"server-{self.port}.log").open("ab")
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        return self

    def wait_until_up(self, timeout: float = 30) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited with {self.process.returncode}: {self.log()[-2000:]}")
            # A bare TCP connect: an HTTP request would spend the rate limit that some tests measure.
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("server did not start")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no commit, no cleanup."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def log(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.data_dir.glob("server-*.log")))

    def admin_headers(self) -> dict[str, str]:
        response = httpx.post(f"{self.base}/auth/login", json={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['token']}"}


@contextmanager
def serving(*servers: Served) -> Iterator[tuple[Served, ...]]:
    """Starts the servers together, waits for all, and stops every one when the block ends."""
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_until_up()
        yield servers
    finally:
        for server in servers:
            server.stop()
