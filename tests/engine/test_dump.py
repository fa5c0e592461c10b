"""Dump: a live registry as config files, the same every time, with each secret as an expression to set."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from dpm.engine.dump import DumpedObject, dump, project_settings, secret_name
from dpm.engine.live import live_from_export
from dpm.errors import UsageError
from dpm.pipeline import compile_config
from dpm.resources.secrets import REDACTED, fingerprint
from dpm.values import Ownership, Secret

CANARY = "sk-canary-dump-7b8c9d"
STORED = fingerprint("a value the registry never returns")
CAPABILITIES = {"supportsSystemMessages": True, "supportedRoles": ["user"], "supportsStreaming": True}


def provider(identifier: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"id-{identifier}",
        "identifier": identifier,
        "name": identifier.title(),
        "description": None,
        "apiEndpoint": f"https://{identifier}.example/v1",
        "authMethod": "oauth2",
        "authConfig": {
            "type": "oauth2",
            "fields": {"clientId": "cid", "clientSecret": REDACTED, "tokenUrl": "https://auth.example/token"},
            "headers": {},
            "fieldFingerprints": {"clientSecret": STORED},
        },
        "capabilities": {**CAPABILITIES, "maxContextLength": 100, "supportsTools": False},
        "status": "active",
        "isSystem": False,
        "etag": '"e1"',
        "createdAt": "2026-01-01T00:00:00Z",
        "lastTested": None,
        **extra,
    }


def model(owner: str, identifier: str) -> dict[str, Any]:
    capabilities = {**CAPABILITIES, "maxContextLength": 10, "supportsTools": False, "supportsFunctionCalling": False}
    return {
        "id": f"id-{owner}-{identifier}",
        "identifier": identifier,
        "providerIdentifier": owner,
        "name": identifier,
        "contextLength": 10,
        "capabilities": capabilities,
        "pricingInfo": None,
        "status": "active",
        "isDefault": False,
        "etag": '"m1"',
    }


TEMPLATE = {
    "id": "t-1",
    "name": "Team Gateway",
    "description": "The team's gateway",
    "providerConfig": {
        "apiEndpoint": "https://gateway.example/v1",
        "authMethod": "api_key",
        "authConfig": {"type": "api_key", "fields": {"apiKey": REDACTED}, "headers": {"X-Key": "{{apiKey}}"}},
    },
    "defaultModels": [],
    "isSystem": False,
}


def export(providers: list[dict[str, Any]], models: list[dict[str, Any]], templates: list[Any]) -> dict[str, Any]:
    return {"data": {"providers": providers, "models": models, "templates": templates}}


def test_a_provider_becomes_one_file_that_compiles_back_with_its_secret_set(tmp_path: Path) -> None:
    live = live_from_export(export([provider("acme")], [model("acme", "b"), model("acme", "a")], []))
    dumped = dump(live, Ownership(), "registry http://r/api")
    assert list(dumped.files) == ["acme.yaml"]
    assert dumped.secrets == ["DPM_ACME_CLIENT_SECRET"]
    text = dumped.files["acme.yaml"]
    assert text.startswith(
        "# yaml-language-server: $schema=../schemas/document.schema.json\n"
        "# Written by dpm dump from the registry http://r/api.\n"
    )
    assert "clientSecret: ${{ secret.DPM_ACME_CLIENT_SECRET }}" in text
    for server_only in ("id-acme", "etag", "createdAt", "lastTested", "fieldFingerprints", STORED, REDACTED):
        assert server_only not in text
    (tmp_path / "acme.yaml").write_text(text)
    config = compile_config([str(tmp_path / "acme.yaml")], environ={"DPM_ACME_CLIENT_SECRET": CANARY})
    assert config.valid, config.diagnostics
    acme = config.state.providers["acme"]
    assert acme["authConfig"]["fields"]["clientSecret"] == Secret(("DPM_ACME_CLIENT_SECRET",), CANARY)
    assert [m["identifier"] for m in acme["models"]] == ["a", "b"]
    assert CANARY not in "".join(dumped.files.values())


def test_a_dump_is_the_same_whatever_order_the_registry_lists_things_in() -> None:
    providers = [provider("zeta"), provider("acme")]
    models = [model("acme", "b"), model("zeta", "m"), model("acme", "a")]
    first = dump(live_from_export(export(providers, models, [TEMPLATE])), Ownership(), "registry")
    reordered = export(copy.deepcopy(providers[::-1]), copy.deepcopy(models[::-1]), [copy.deepcopy(TEMPLATE)])
    second = dump(live_from_export(reordered), Ownership(), "registry")
    assert first.files == second.files
    assert list(first.files) == ["acme.yaml", "zeta.yaml", "template-team-gateway.yaml"]
    assert first.files["acme.yaml"].index("identifier: a\n") < first.files["acme.yaml"].index("identifier: b\n")


def test_a_template_secret_is_named_after_the_template() -> None:
    dumped = dump(live_from_export(export([], [], [TEMPLATE])), Ownership(), "registry")
    text = dumped.files["template-team-gateway.yaml"]
    assert "kind: ProviderTemplate\nname: Team Gateway\n" in text
    assert "apiKey: ${{ secret.DPM_TEMPLATE_TEAM_GATEWAY_API_KEY }}" in text
    assert dumped.secrets == ["DPM_TEMPLATE_TEAM_GATEWAY_API_KEY"]


def test_only_providers_in_scope_are_dumped_and_never_a_system_one() -> None:
    providers = [provider("team-a"), provider("team-b-system", isSystem=True), provider("other")]
    dumped = dump(live_from_export(export(providers, [], [])), Ownership(scope=("team-*",)), "registry")
    assert list(dumped.files) == ["team-a.yaml"]


@pytest.mark.parametrize(
    ("owner", "field", "name"),
    [
        ("openai", "apiKey", "DPM_OPENAI_API_KEY"),
        ("aws-bedrock", "secretAccessKey", "DPM_AWS_BEDROCK_SECRET_ACCESS_KEY"),
        ("template_Team Gateway", "clientSecret", "DPM_TEMPLATE_TEAM_GATEWAY_CLIENT_SECRET"),
    ],
)
def test_secret_names_are_environment_variable_names(owner: str, field: str, name: str) -> None:
    assert secret_name(owner, field) == name


def test_select_dumps_only_what_its_patterns_match_and_says_what_each_file_holds() -> None:
    providers = [provider("team-a"), provider("team-b"), provider("openai"), provider("sys", isSystem=True)]
    live = live_from_export(export(providers, [model("team-a", "m1"), model("team-a", "m2")], [TEMPLATE]))
    dumped = dump(live, Ownership(), "registry", select=["team-*", TEMPLATE["name"]])
    assert sorted(dumped.objects) == ["team-a.yaml", "team-b.yaml", "template-team-gateway.yaml"]
    assert dumped.objects["team-a.yaml"] == [DumpedObject("provider", "team-a", 2)]
    assert sorted(dumped.files) == sorted(dumped.objects)
    assert sorted(dump(live, Ownership(), "registry").objects) == [
        "openai.yaml",
        "team-a.yaml",
        "team-b.yaml",
        "template-team-gateway.yaml",
    ]


def test_a_select_pattern_that_matches_nothing_names_what_exists() -> None:
    live = live_from_export(export([provider("openai"), provider("sys", isSystem=True)], [], []))
    with pytest.raises(UsageError) as close:
        dump(live, Ownership(), "registry", select=["openai", "opnai"])
    assert close.value.message == "--select opnai: matches no provider in scope and no custom template"
    assert close.value.hint == "did you mean 'openai'?"
    with pytest.raises(UsageError) as far:
        dump(live, Ownership(), "registry", select=["zzz*", "sys"])  # a system provider is never dumped
    assert far.value.hint == "the registry holds: openai"


def test_the_dpm_yaml_of_a_selective_dump_never_prunes() -> None:
    assert "prune: true" in project_settings(["*"], "registry")
    partial = project_settings(["*"], "registry", complete=False)
    assert "prune: false" in partial
    assert "prune: true" not in partial


def _built(template: dict[str, Any], identifier: str, customizations: dict[str, Any]) -> tuple[Any, list[Any]]:
    """A live provider and its models exactly as the registry's template apply leaves them."""
    from dpm.resources.templates import apply_template  # noqa: PLC0415

    built = apply_template(template, identifier, identifier.title(), customizations)
    models = [{**m, "id": f"id-{m['identifier']}", "providerIdentifier": identifier} for m in built.pop("models")]
    return {**built, "id": f"id-{identifier}", "etag": '"e"'}, models


def test_a_provider_built_from_a_template_is_written_back_as_from_template_with_what_differs() -> None:
    from dpm.resources.templates import find_system_template  # noqa: PLC0415

    system = find_system_template("mistral-template")
    assert system is not None
    mistral, mistral_models = _built(system, "mistral", {"apiKey": REDACTED, "status": "testing"})
    gateway, _ = _built(TEMPLATE, "team", {"apiKey": REDACTED, "team": "search"})
    edited, edited_models = _built(system, "edited", {"apiKey": REDACTED})
    edited_models[0]["contextLength"] = 1  # no template builds this one any more
    live = live_from_export(export([mistral, gateway, edited], mistral_models + edited_models, [TEMPLATE]))

    dumped = dump(live, Ownership(), "registry http://r/api")

    assert "fromTemplate: mistral-template\ncustomizations:\n  status: testing\n" in dumped.files["mistral.yaml"]
    assert "apiKey: ${{ secret.DPM_MISTRAL_API_KEY }}" in dumped.files["mistral.yaml"]
    assert "models:" not in dumped.files["mistral.yaml"]
    assert "fromTemplate: Team Gateway\n" in dumped.files["team.yaml"]
    assert "team: search" in dumped.files["team.yaml"]
    assert "fromTemplate" not in dumped.files["edited.yaml"]
    assert "contextLength: 1\n" in dumped.files["edited.yaml"]
