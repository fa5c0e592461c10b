"""The registry view follows the stored revision, whichever replica wrote it."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from dpm_server import create_app
from tests.server import guide
from tests.server.conftest import login, make_settings

STATUS = "/api/admin/providers/registry-status"


def test_revision_grows_with_each_change(admin: TestClient) -> None:
    before = admin.get(STATUS).json()["revision"]
    provider = admin.post("/api/admin/providers", json=guide.PROVIDER).json()
    admin.put(f"/api/admin/providers/{provider['id']}", json={"status": "inactive"})

    after = admin.get(STATUS).json()

    assert after["revision"] == before + 2
    assert after["providersLoaded"] == 0  # inactive providers are not routed to


def test_a_second_replica_sees_the_first_ones_change(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path))) as one, TestClient(create_app(make_settings(tmp_path))) as two:
        for client in (one, two):
            client.headers["Authorization"] = f"Bearer {login(client)['token']}"
        assert two.get(STATUS).json()["providersLoaded"] == 0

        one.post("/api/admin/providers", json=guide.PROVIDER)

        assert two.get(STATUS).json()["providersLoaded"] == 1


def test_failed_tests_make_the_registry_degraded(admin: TestClient) -> None:
    provider = admin.post("/api/admin/providers", json=guide.PROVIDER).json()
    admin.post(f"/api/admin/providers/{provider['id']}/test")

    status = admin.get(STATUS).json()

    assert status["status"] == "degraded"
    assert status["performance"]["successRate"] == 0
