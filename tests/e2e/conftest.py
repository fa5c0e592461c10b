"""End-to-end fixtures: the real ``dpm serve`` on a loopback port, and the real ``dpm`` executable against it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import REPO, example_secrets

DPM = str(Path(sys.executable).with_name("dpm"))
ADMIN = {"DPM_USERNAME": "admin", "DPM_PASSWORD": "e2e-admin-password"}
CANARY = "sk-canary-e2e-9c8b7a"
SECRETS = example_secrets(CANARY)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_environment(**extra: str) -> dict[str, str]:
    """The test process's environment without DPM_* or CI, plus ``extra``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("DPM_") and k not in ("CI", "DEBUG")}
    return base | extra


@dataclass
class Server:
    """``dpm serve`` in a subprocess over its own data directory; can be killed and started again."""

    data_dir: Path
    rate_limit: str = "100000/900"
    outbound_allow: str = ""
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self) -> None:
        env = clean_environment(
            DPM_SERVER_DATA_DIR=str(self.data_dir),
            DPM_SERVER_RATE_LIMIT=self.rate_limit,
            DPM_SERVER_OUTBOUND_ALLOW=self.outbound_allow,
            DPM_ADMIN_USERNAME=ADMIN["DPM_USERNAME"],
            DPM_ADMIN_PASSWORD=ADMIN["DPM_PASSWORD"],
        )
        command = [DPM, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"dpm serve exited with {self.process.returncode}")
            # A bare TCP connect: an HTTP request would spend the rate limit that the tests measure.
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("dpm serve did not start")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path / "registry")
    running.start()
    yield running
    running.stop()


@pytest.fixture
def config_repo(tmp_path: Path) -> Path:
    """A copy of the example config repository."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "providers.d", repo / "providers.d")
    shutil.copytree(REPO / "environments", repo / "environments")
    shutil.copy(REPO / "dpm.yaml", repo / "dpm.yaml")
    return repo


@dataclass
class Result:
    exit_code: int
    out: str
    err: str


def run_dpm(*args: str, cwd: Path, env: dict[str, str], stdin: str | None = None, timeout: float = 120) -> Result:
    done = subprocess.run(
        [DPM, *args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )
    return Result(done.returncode, done.stdout, done.stderr)
