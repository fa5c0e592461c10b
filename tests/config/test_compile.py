"""Compiling documents into the desired state: cross-document checks, template expansion and secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dpm.config.compile import masked
from dpm.pipeline import compile_config
from dpm.resources import templates
from dpm.values import Secret

PROVIDER = """\
kind: Provider
identifier: {identifier}
name: Acme
apiEndpoint: https://api.acme.example/v1
authMethod: api_key
authConfig:
  type: api_key
  fields:
    apiKey: ${{{{ secret.DPM_ACME_KEY }}}}
  headers:
    Authorization: Bearer {{{{apiKey}}}}
capabilities:
  supportsSystemMessages: true
  maxContextLength: 8192
  supportedRoles: [user]
  supportsStreaming: true
  supportsTools: true
models:
  - identifier: b-model
    name: B
    contextLength: 4096
    capabilities: &caps
      supportsSystemMessages: true
      maxContextLength: 4096
      supportedRoles: [user]
      supportsStreaming: true
      supportsTools: true
      supportsFunctionCalling: true
  - identifier: a-model
    name: A
    contextLength: 4096
    capabilities: *caps
"""


def write(directory: Path, name: str, text: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text)


def test_state_applies_defaults_and_sorts_models(tmp_path: Path) -> None:
    write(tmp_path, "acme.yaml", PROVIDER.format(identifier="acme"))
    config = compile_config([str(tmp_path)], environ={"DPM_ACME_KEY": "k"})
    assert config.valid, config.diagnostics
    provider = config.state.providers["acme"]
    assert provider["status"] == "active"
    assert [m["identifier"] for m in provider["models"]] == ["a-model", "b-model"]
    assert provider["models"][0]["status"] == "active"
    assert provider["models"][0]["isDefault"] is False
    secret = provider["authConfig"]["fields"]["apiKey"]
    assert isinstance(secret, Secret)
    assert secret.reveal() == "k"


def test_duplicate_identifiers_across_files_name_the_first(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", PROVIDER.format(identifier="acme"))
    write(tmp_path, "b.yaml", PROVIDER.format(identifier="acme"))
    config = compile_config([str(tmp_path)], environ={})
    errors = [d for d in config.diagnostics if d.severity == "error"]
    assert len(errors) == 1
    assert errors[0].file is not None
    assert errors[0].file.endswith("b.yaml")
    assert "first at" in errors[0].message
    assert "a.yaml:1" in errors[0].message


@pytest.mark.parametrize("ref", ["openai-template", "OpenAI"])
def test_system_template_expands_exactly_as_template_apply_would(tmp_path: Path, ref: str) -> None:
    write(
        tmp_path,
        "p.yaml",
        f"kind: Provider\nidentifier: my-openai\nname: Mine\nfromTemplate: {ref}\n"
        "customizations:\n  apiKey: sk-literal\n  organizationId: org-1\n  description: Ours\n",
    )
    config = compile_config([str(tmp_path)], environ={})
    assert config.valid, config.diagnostics
    template = templates.find_system_template("openai-template")
    assert template is not None
    expected = templates.apply_template(
        template, "my-openai", "Mine", {"apiKey": "sk-literal", "organizationId": "org-1", "description": "Ours"}
    )
    built = config.state.providers["my-openai"]
    assert built["authConfig"] == expected["authConfig"]
    assert built["description"] == "Ours"
    assert [m["identifier"] for m in built["models"]] == sorted(m["identifier"] for m in expected["models"])
    assert config.state.built_from == {"my-openai": ref}


def test_config_template_is_found_by_name_whatever_the_file_order(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        "kind: Provider\nidentifier: team-a\nname: A\nfromTemplate: gw\ncustomizations: {apiKey: k}\n",
    )
    write(
        tmp_path,
        "z.yaml",
        "kind: ProviderTemplate\nname: gw\nproviderConfig:\n  apiEndpoint: https://gw.example/v1\n"
        "  authMethod: api_key\n  authConfig: {type: api_key}\n  capabilities: {supportsSystemMessages: true, "
        "maxContextLength: 100, supportedRoles: [user], supportsStreaming: false, supportsTools: false}\n",
    )
    config = compile_config([str(tmp_path)], environ={})
    assert config.valid, config.diagnostics
    assert config.state.providers["team-a"]["apiEndpoint"] == "https://gw.example/v1"
    assert list(config.state.templates) == ["gw"]


def test_secrets_fill_only_credential_fields(tmp_path: Path) -> None:
    write(
        tmp_path,
        "t.yaml",
        "kind: ProviderTemplate\nname: gw\ndescription: '${{ secret.DPM_KEY }}'\nproviderConfig:\n"
        "  authConfig:\n    type: api_key\n    fields: {apiKey: '${{ secret.DPM_KEY }}'}\n",
    )
    config = compile_config([str(tmp_path)], environ={"DPM_KEY": "v"})
    assert [(d.code, d.path) for d in config.diagnostics] == [("secret-placement", "description")]


def test_masked_replaces_secrets_by_field_and_leaves_lookalikes_alone() -> None:
    uuid = "550e8400-e29b-41d4-a716-446655440000"
    value = {
        "id": uuid,
        "description": "uses apiKey",
        "authConfig": {"fields": {"apiKey": "sk-live", "region": "eu", "clientSecret": Secret(("DPM_X",), "s")}},
    }
    shown = json.dumps(masked(value))
    assert "sk-live" not in shown
    assert '"s"' not in shown
    assert uuid in shown
    assert '"region": "eu"' in shown
    assert "uses apiKey" in shown


@pytest.mark.parametrize(
    ("name", "field_yaml"),
    [
        ("provider field", "  fields:\n    apiKey: k\n    organizationId: ${{ secret.DPM_ORG }}\n"),
        ("provider field, other case", "  fields:\n    apiKey: k\n    region: ${{ secret.DPM_ORG }}\n"),
    ],
)
def test_a_secret_in_a_field_the_registry_stores_in_clear_is_an_error(
    tmp_path: Path, name: str, field_yaml: str
) -> None:
    text = PROVIDER.format(identifier="acme").replace("  fields:\n    apiKey: ${{ secret.DPM_ACME_KEY }}\n", field_yaml)
    write(tmp_path, "acme.yaml", text)
    config = compile_config([str(tmp_path)], environ={"DPM_ORG": "sk-canary-org"})
    errors = [d for d in config.diagnostics if d.code == "secret-placement"]
    assert len(errors) == 1, name
    assert "stores in clear" in errors[0].message
    assert "apiKey, clientSecret" in errors[0].message  # names the sensitive set
    assert errors[0].path.startswith("authConfig.fields.")
    assert "sk-canary-org" not in errors[0].message


def test_a_secret_in_a_template_or_customization_field_stored_in_clear_is_an_error(tmp_path: Path) -> None:
    write(
        tmp_path,
        "t.yaml",
        "kind: ProviderTemplate\nname: Team\nproviderConfig:\n  authMethod: api_key\n"
        "  authConfig:\n    type: api_key\n    fields:\n      orgId: ${{ secret.DPM_ORG }}\n",
    )
    write(
        tmp_path,
        "p.yaml",
        "kind: Provider\nidentifier: mistral\nname: Mistral\nfromTemplate: mistral-template\n"
        "customizations:\n  apiKey: ${{ secret.DPM_KEY }}\n  workspace: ${{ secret.DPM_ORG }}\n",
    )
    config = compile_config([str(tmp_path)], environ={"DPM_ORG": "o", "DPM_KEY": "k"})
    placed = sorted(d.path for d in config.diagnostics if d.code == "secret-placement")
    assert placed == ["customizations.workspace", "providerConfig.authConfig.fields.orgId"]


def test_a_secret_read_through_env_in_another_file_is_masked_and_placed_like_one(tmp_path: Path) -> None:
    write(tmp_path, "acme.yaml", PROVIDER.format(identifier="acme"))  # reads secret.DPM_ACME_KEY
    leaky = PROVIDER.format(identifier="leaky").replace(
        "name: Acme", 'name: Acme\ndescription: "${{ env.DPM_ACME_KEY }}"'
    )
    write(tmp_path, "leaky.yaml", leaky)
    config = compile_config([str(tmp_path)], environ={"DPM_ACME_KEY": "sk-canary-env-side-door"})
    placed = [d for d in config.diagnostics if d.code == "secret-placement"]
    assert [d.path for d in placed] == ["description"]
    assert "sk-canary-env-side-door" not in json.dumps([d.message for d in config.diagnostics])
