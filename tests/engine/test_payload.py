"""Request bodies: written into the plan with secret markers, never values; resolved only when apply sends them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dpm.config.compile import DesiredState
from dpm.config.render import Renderer
from dpm.engine.payload import SecretMoved, body, live_version, resolve, unresolved
from dpm.engine.plan import Change
from dpm.pipeline import compile_config
from dpm.resources.secrets import REDACTED

CANARY = "sk-canary-payload-4e5f6a"
EXPRESSION = "${{ secret.DPM_ACME_KEY }}"
ACME = """\
kind: Provider
identifier: acme
name: Acme
apiEndpoint: https://api.acme.example/v1
authMethod: api_key
authConfig:
  type: api_key
  fields:
    apiKey: ${{ secret.DPM_ACME_KEY }}
  headers:
    Authorization: Bearer {{apiKey}}
capabilities:
  supportsSystemMessages: true
  maxContextLength: 8192
  supportedRoles: [user]
  supportsStreaming: true
  supportsTools: false
models:
  - identifier: small
    name: Small
    contextLength: 4096
    capabilities:
      supportsSystemMessages: true
      maxContextLength: 4096
      supportedRoles: [user]
      supportsStreaming: true
      supportsTools: false
      supportsFunctionCalling: false
"""


def desired(tmp_path: Path, environ: dict[str, str]) -> DesiredState:
    (tmp_path / "acme.yaml").write_text(ACME)
    config = compile_config([str(tmp_path / "acme.yaml")], environ=environ)
    assert config.valid, config.diagnostics
    return config.state


def acme_body(tmp_path: Path, key: str | None = CANARY) -> dict[str, object]:
    made = body(Change(action="create", kind="provider", identifier="acme"), desired(tmp_path, _env(key)))
    assert made is not None
    return made


def _env(key: str | None) -> dict[str, str]:
    return {} if key is None else {"DPM_ACME_KEY": key}


def test_a_body_carries_a_marker_for_each_secret_and_never_its_value(tmp_path: Path) -> None:
    made = acme_body(tmp_path)
    marker = made["authConfig"]["fields"]["apiKey"]  # type: ignore[index]
    assert marker["$secret"] == EXPRESSION
    assert marker["fingerprint"].startswith("sha256:")
    assert "models" not in made  # a provider's models travel as bodies of their own
    assert CANARY not in json.dumps(made)


def test_a_secret_unset_when_the_plan_is_made_has_no_fingerprint(tmp_path: Path) -> None:
    marker = acme_body(tmp_path, key=None)["authConfig"]["fields"]["apiKey"]  # type: ignore[index]
    assert marker == {"$secret": EXPRESSION, "fingerprint": None}


def test_a_model_body_names_its_provider_and_a_delete_has_none(tmp_path: Path) -> None:
    state = desired(tmp_path, _env(CANARY))
    model = body(Change(action="create", kind="model", provider="acme", identifier="small"), state)
    assert model is not None
    assert (model["identifier"], model["providerIdentifier"], model["contextLength"]) == ("small", "acme", 4096)
    assert body(Change(action="delete", kind="provider", identifier="acme", liveId="p-1"), state) is None


def test_resolve_puts_the_value_back_only_in_the_copy_it_sends(tmp_path: Path) -> None:
    made = acme_body(tmp_path)
    sent = resolve(made, Renderer({}, _env(CANARY)))
    assert sent["authConfig"]["fields"]["apiKey"] == CANARY
    assert sent["authConfig"]["headers"] == {"Authorization": "Bearer {{apiKey}}"}
    assert CANARY not in json.dumps(made)


def test_a_secret_missing_at_apply_is_sent_as_redacted_to_keep_the_stored_value(tmp_path: Path) -> None:
    made = acme_body(tmp_path)
    renderer = Renderer({}, {})
    assert resolve(made, renderer)["authConfig"]["fields"]["apiKey"] == REDACTED
    assert unresolved(made, renderer) == [(("authConfig", "fields", "apiKey"), EXPRESSION)]
    assert unresolved(made, Renderer({}, _env(CANARY))) == []


def test_a_secret_rotated_since_the_plan_is_refused_with_exit_code_3(tmp_path: Path) -> None:
    made = acme_body(tmp_path)
    with pytest.raises(SecretMoved) as refused:
        resolve(made, Renderer({}, _env(CANARY + "-rotated")))
    assert refused.value.exit_code == 3
    assert "the secret ${{ secret.DPM_ACME_KEY }} has changed since the plan was made" in str(refused.value)
    assert CANARY not in str(refused.value) + str(refused.value.hint)


def test_a_secret_first_set_after_the_plan_is_sent_as_it_is(tmp_path: Path) -> None:
    made = acme_body(tmp_path, key=None)  # nothing to compare it with: the plan only knew the expression
    assert resolve(made, Renderer({}, _env(CANARY)))["authConfig"]["fields"]["apiKey"] == CANARY


def test_live_version_is_the_etag_when_the_registry_sends_one() -> None:
    assert live_version({"etag": '"e1"', "name": "a"}) == '"e1"'
    assert live_version(None) is None


def test_without_an_etag_live_version_digests_the_content_but_not_its_volatile_fields() -> None:
    live = {"id": "p-1", "name": "Acme", "lastTested": None, "testResult": None, "modelCount": 1}
    version = live_version(live)
    assert version is not None
    assert version.startswith("sha256:")
    tested = {**live, "lastTested": "2026-01-01T00:00:00Z", "testResult": {"success": True}, "modelCount": 2}
    assert live_version(tested) == version
    assert live_version({**live, "name": "Acme Corp"}) != version
