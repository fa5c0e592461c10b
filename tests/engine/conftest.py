"""The engine's fixtures: a client of a real (embedded) registry, for the stages that carry a plan out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dpm.registry.client import Credentials, RegistryClient
from dpm_server.embedded import embedded_registry


@pytest.fixture
def client(tmp_path: Path) -> Iterator[RegistryClient]:
    with embedded_registry(tmp_path / "registry") as registry:
        client = RegistryClient(registry.url, Credentials(token=registry.token), sleep=lambda _: None)
        yield client
        client.close()
