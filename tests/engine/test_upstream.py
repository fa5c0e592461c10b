"""Upstream checks: the configured models against the models a provider's test lists, with no request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dpm.config.compile import DesiredState
from dpm.engine import upstream
from dpm.engine.upstream import Probe, findings, select
from dpm.pipeline import compile_config
from dpm.values import Mark


def state(**models: list[str]) -> DesiredState:
    """Providers with these models, each provider at line 1 of its file and its models at lines 10, 11, …"""
    desired = DesiredState()
    for identifier, names in models.items():
        desired.providers[identifier] = {"identifier": identifier, "models": [{"identifier": n} for n in names]}
        desired.origins[identifier] = Mark(f"{identifier}.yaml", 1, 1)
        for index, name in enumerate(names):
            desired.model_origins[(identifier, name)] = Mark(f"{identifier}.yaml", 10 + index, 19)
    return desired


def passed(*available: str) -> dict[str, Any]:
    return {"success": True, "responseTime": 12, "availableModels": list(available), "errors": [], "testedAt": "t"}


def test_a_provider_that_lists_every_configured_model_has_no_finding() -> None:
    assert findings(state(a=["m1", "m2"]), [Probe("a", passed("m2", "m1"))]) == []


def test_a_configured_model_the_provider_no_longer_lists_is_an_error_at_the_models_line() -> None:
    (found,) = findings(state(a=["m1", "retired"]), [Probe("a", passed("m1"))])
    assert (found.severity, found.code, found.location) == ("error", upstream.RETIRED, "a.yaml:11:19")
    assert "model 'retired' of provider 'a' is no longer listed" in found.message


def test_a_model_the_provider_lists_that_the_config_lacks_is_a_notice_at_the_provider() -> None:
    (found,) = findings(state(a=["m1"]), [Probe("a", passed("m1", "brand-new"))])
    assert (found.severity, found.code, found.location) == ("notice", upstream.OFFERED, "a.yaml:1:1")
    assert "offers model 'brand-new'" in found.message


def test_a_templated_providers_model_points_at_the_provider_document() -> None:
    desired = state(a=["m1"])
    desired.model_origins.clear()  # its models came from the template
    (found,) = findings(desired, [Probe("a", passed())])
    assert (found.severity, found.location) == ("error", "a.yaml:1:1")


def test_a_failed_test_is_an_error_with_the_providers_messages_and_compares_no_model() -> None:
    result = {"success": False, "errors": ["the provider rejected the credentials (HTTP 401)"], "testedAt": "t"}
    (found,) = findings(state(a=["m1"]), [Probe("a", result)])
    assert (found.severity, found.code, found.location) == ("error", upstream.FAILED, "a.yaml:1:1")
    assert "failed: the provider rejected the credentials (HTTP 401)" in found.message


def test_a_provider_the_registry_lacks_says_to_apply_first_and_one_it_cannot_test_is_an_error() -> None:
    absent, broken = findings(state(a=["m1"], b=["m2"]), [Probe("a", absent=True), Probe("b", error="HTTP 500")])
    assert (absent.code, absent.severity) == (upstream.NOT_APPLIED, "error")
    assert absent.suggestion == "apply the config first (dpm apply)"
    assert (broken.code, broken.severity) == (upstream.FAILED, "error")
    assert "HTTP 500" in broken.message


def test_a_passed_test_without_a_model_list_is_a_notice_not_a_list_of_retired_models() -> None:
    result = {"success": True, "errors": [], "testedAt": "t"}  # a testEndpoint that answers no model list
    (found,) = findings(state(a=["m1"]), [Probe("a", result)])
    assert (found.severity, found.code) == ("notice", upstream.NOT_LISTED)


def test_findings_follow_the_files_and_lines() -> None:
    found = findings(state(b=["x"], a=["y", "z"]), [Probe("b", passed()), Probe("a", passed("extra"))])
    assert [d.location for d in found] == ["a.yaml:1:1", "a.yaml:10:19", "a.yaml:11:19", "b.yaml:10:19"]


def test_select_globs_on_identifiers_and_names_the_patterns_that_match_nothing() -> None:
    desired = state(**{"team-a": [], "team-b": [], "other": []})
    assert select(desired, []) == (["other", "team-a", "team-b"], [])
    assert select(desired, ["team-*", "nope"]) == (["team-a", "team-b"], ["nope"])


PROVIDER = """\
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
capabilities: &caps
  supportsSystemMessages: true
  maxContextLength: 8192
  supportedRoles: [user, assistant]
  supportsStreaming: true
  supportsTools: true
models:
  - identifier: zeta
    name: Zeta
    contextLength: 4096
    capabilities: {<<: *caps, supportsFunctionCalling: true}
  - identifier: alpha
    name: Alpha
    contextLength: 4096
    capabilities: {<<: *caps, supportsFunctionCalling: true}
"""


def test_the_compiled_state_keeps_each_models_position_in_its_file(tmp_path: Path) -> None:
    (tmp_path / "acme.yaml").write_text(PROVIDER)
    config = compile_config([str(tmp_path)], environ={"DPM_ACME_KEY": "sk-x"})
    assert config.valid, config.diagnostics
    (found,) = findings(config.state, [Probe("acme", passed("alpha"))])
    assert (found.file, found.line, found.column) == (str(tmp_path / "acme.yaml"), 19, 17)


def test_a_templated_providers_retired_model_points_at_its_document(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        "# ours\nkind: Provider\nidentifier: my-openai\nname: Mine\nfromTemplate: openai-template\n"
        "customizations:\n  apiKey: sk-literal\n"
    )
    config = compile_config([str(tmp_path)], environ={})
    assert config.valid, config.diagnostics
    models = [str(m["identifier"]) for m in config.state.providers["my-openai"]["models"]]
    found = findings(config.state, [Probe("my-openai", passed(*models[1:]))])
    assert [(d.severity, d.file, d.line) for d in found] == [("error", str(tmp_path / "p.yaml"), 2)]
    assert f"model '{models[0]}'" in found[0].message
