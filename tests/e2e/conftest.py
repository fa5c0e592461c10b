"""End-to-end fixtures: the real ``dpm serve`` on a loopback port, and the real ``dpm`` executable against it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, example_secrets
from tests.server.conftest import ADMIN_PASSWORD
from tests.server.serving import Served

DPM = str(Path(sys.executable).with_name("dpm"))
ADMIN = {"DPM_USERNAME": "admin", "DPM_PASSWORD": ADMIN_PASSWORD}
CANARY = "sk-canary-e2e-9c8b7a"
SECRETS = example_secrets(CANARY)


def clean_environment(**extra: str) -> dict[str, str]:
    """The test process's environment without DPM_* or CI, plus ``extra``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("DPM_") and k not in ("CI", "DEBUG")}
    return base | extra


@dataclass
class Server(Served):
    """``dpm serve`` for the client's end-to-end tests, with its rate limit and outbound allow-list as given."""

    rate_limit: str = "100000/900"
    outbound_allow: str = ""

    def __post_init__(self) -> None:
        self.extra_env = {"DPM_SERVER_RATE_LIMIT": self.rate_limit, "DPM_SERVER_OUTBOUND_ALLOW": self.outbound_allow}

    @property
    def url(self) -> str:
        return self.base

    def start(self) -> Server:
        super().start()
        self.wait_until_up()
        return self


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


FAKE_PROVIDER = """\
kind: Provider
identifier: {identifier}
name: Fake {identifier}
apiEndpoint: {url}/v1
authMethod: api_key
authConfig:
  type: api_key
  fields:
    apiKey: ${{{{ secret.{secret} }}}}
  headers:
    Authorization: Bearer {{{{apiKey}}}}
capabilities:
  supportsSystemMessages: true
  maxContextLength: 8192
  supportedRoles: [system, user, assistant]
  supportsStreaming: true
  supportsTools: true
{models}"""
FAKE_MODEL = """\
  - identifier: {identifier}
    name: Model {identifier}
    contextLength: 8192
    capabilities:
      supportsSystemMessages: true
      maxContextLength: 8192
      supportedRoles: [system, user, assistant]
      supportsStreaming: true
      supportsTools: true
      supportsFunctionCalling: true
"""


def fake_provider_file(
    identifier: str, url: str, models: tuple[str, ...] = ("fake-gpt-4",), secret: str = "DPM_FAKE_KEY"
) -> str:
    """A provider at a fake provider on loopback (tests.server.outbound.fake_provider), its key read from ``secret``;
    each model's identifier stands at line 19, column 17, of the first; no ``models`` key without models."""
    listed = "models:\n" + "".join(FAKE_MODEL.format(identifier=m) for m in models) if models else ""
    return FAKE_PROVIDER.format(identifier=identifier, url=url, models=listed, secret=secret)
