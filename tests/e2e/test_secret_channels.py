"""A known secret that still reaches an output channel is replaced there: the real ``dpm`` against ``dpm serve``.

The first line of defence keeps secrets out of output altogether. These tests get around it on purpose (a key
pasted as a literal into a description, the admin password stored in a field by someone else) and check every
channel: standard output in each format, standard error, the log, plan files and dumped files.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from tests.e2e.conftest import ADMIN, Server, clean_environment, run_dpm

CANARY = "sk-canary-channels-0b7e44"


def _provider(identifier: str, api_key: str, description: str) -> dict[str, object]:
    return {
        "kind": "Provider",
        "identifier": identifier,
        "name": identifier.title(),
        "description": description,
        "apiEndpoint": "https://api.example.com/v1",
        "authMethod": "api_key",
        "authConfig": {
            "type": "api_key",
            "fields": {"apiKey": api_key},
            "headers": {"Authorization": "Bearer {{apiKey}}"},
        },
        "capabilities": {
            "supportsSystemMessages": True,
            "maxContextLength": 8192,
            "supportedRoles": ["user", "assistant"],
            "supportsStreaming": True,
            "supportsTools": False,
        },
    }


@pytest.fixture
def pasted(tmp_path: Path) -> Path:
    """A config whose second provider has the first one's key pasted into its description."""
    repo = tmp_path / "repo"
    (repo / "providers.d").mkdir(parents=True)
    (repo / "dpm.yaml").write_text("scope: ['*']\n")
    documents = [
        _provider("keeper", "${{ secret.DPM_CANARY_KEY }}", "Reads its key the right way."),
        _provider("paster", "${{ secret.DPM_CANARY_KEY }}", f"Debugging: the key is {CANARY}"),
    ]
    (repo / "providers.d" / "all.yaml").write_text(yaml.safe_dump_all(documents, sort_keys=False))
    return repo


def test_a_pasted_key_is_masked_in_every_plan_format_and_the_plan_is_neither_saved_nor_applied(
    server: Server, pasted: Path
) -> None:
    env = clean_environment(DPM_REGISTRY_URL=server.url, DPM_CANARY_KEY=CANARY, **ADMIN)

    for output in ("text", "json", "markdown"):
        shown = run_dpm("plan", "--format", output, "-v", "-o", "reviewed.plan", cwd=pasted, env=env)
        assert shown.exit_code == 1, shown.err
        assert CANARY not in shown.out + shown.err
        assert "[secret DPM_CANARY_KEY]" in shown.out, output
        assert "holds the value of secret DPM_CANARY_KEY in a field that is not a secret" in shown.err
        assert not (pasted / "reviewed.plan").exists()

    applied = run_dpm("apply", "--auto-approve", "-v", cwd=pasted, env=env)
    assert applied.exit_code == 1
    assert CANARY not in applied.out + applied.err
    assert "/import" not in applied.err  # refused before any write
    rendered = run_dpm("render", cwd=pasted, env=env)
    assert CANARY not in rendered.out + rendered.err
    assert "Debugging: the key is [secret DPM_CANARY_KEY]" in rendered.out


def test_standard_error_masks_a_secret_inside_an_error_message(pasted: Path) -> None:
    env = clean_environment(DPM_CANARY_KEY=CANARY)

    failed = run_dpm("plan", "--registry", f"http://[{CANARY}/api", cwd=pasted, env=env)

    assert failed.exit_code == 1
    assert CANARY not in failed.err
    assert "[secret DPM_CANARY_KEY]" in failed.err


def test_a_dump_masks_the_admin_password_someone_stored_in_a_description(server: Server, tmp_path: Path) -> None:
    with httpx.Client(base_url=server.url) as http:
        token = http.post("/auth/login", json={"username": "admin", "password": ADMIN["DPM_PASSWORD"]}).json()["token"]
        body = _provider("leaky", "sk-some-key-value", f"admin password: {ADMIN['DPM_PASSWORD']}")
        del body["kind"]
        made = http.post("/admin/providers", json=body, headers={"Authorization": f"Bearer {token}"})
        assert made.status_code == 201, made.text
    env = clean_environment(DPM_REGISTRY_URL=server.url, **ADMIN)

    dumped = run_dpm("dump", "--out", "providers.d", "-v", cwd=tmp_path, env=env)

    assert dumped.exit_code == 0, dumped.err
    text = (tmp_path / "providers.d" / "leaky.yaml").read_text()
    assert ADMIN["DPM_PASSWORD"] not in text + dumped.out + dumped.err
    assert "admin password: [secret DPM_PASSWORD]" in text
