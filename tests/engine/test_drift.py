"""Drift: the plan read the other way round, as findings for the person who has to act on them."""

from __future__ import annotations

from typing import Any

from dpm.config.compile import DesiredState
from dpm.engine.drift import DriftReport, detect
from dpm.engine.live import live_from_export
from dpm.resources.secrets import REDACTED, fingerprint
from dpm.values import Secret

CANARY = "sk-canary-drift-1a2b3c"


def provider(identifier: str, **extra: Any) -> dict[str, Any]:
    return {
        "identifier": identifier,
        "name": identifier,
        "apiEndpoint": "https://x.example/v1",
        "authMethod": "api_key",
        "authConfig": {"type": "api_key", "fields": {"apiKey": Secret(("DPM_K",), CANARY)}},
        "capabilities": {"maxContextLength": 10, "supportedRoles": ["user"]},
        **extra,
    }


def live_provider(identifier: str, key: str = CANARY, **extra: Any) -> dict[str, Any]:
    auth = {"type": "api_key", "fields": {"apiKey": REDACTED}, "fieldFingerprints": {"apiKey": fingerprint(key)}}
    return {**provider(identifier), "id": f"id-{identifier}", "authConfig": auth, **extra}


def drift(desired: dict[str, dict[str, Any]], live: list[dict[str, Any]], scope: tuple[str, ...]) -> DriftReport:
    export = {"data": {"providers": live, "models": [], "templates": []}, "metadata": {"revision": 12}}
    state = DesiredState(providers={k: {**v, "models": []} for k, v in desired.items()})
    return detect(state, live_from_export(export), scope, "registry http://r/api")


def test_a_registry_that_matches_git_has_no_drift() -> None:
    report = drift({"a": provider("a")}, [live_provider("a")], ("*",))
    assert not report.drifted
    assert (report.findings, report.liveRevision, report.target) == ([], 12, "registry http://r/api")


def test_an_edit_made_in_the_registry_is_changed_outside_git_with_git_first() -> None:
    report = drift({"a": provider("a")}, [live_provider("a", name="renamed in the UI")], ("*",))
    (finding,) = report.findings
    assert (finding.kind, finding.object, finding.key) == ("changed", "provider", "a")
    assert [(f.path, f.before, f.after) for f in finding.fields] == [("name", "a", "renamed in the UI")]
    assert report.count("changed") == 1


def test_a_secret_rotated_in_the_registry_is_a_change_whose_values_stay_hidden() -> None:
    report = drift({"a": provider("a")}, [live_provider("a", key="rotated by hand")], ("*",))
    (finding,) = report.findings
    assert finding.kind == "changed"
    assert [(s.field, s.status) for s in finding.secrets] == [("apiKey", "changed")]
    assert [f.path for f in finding.fields] == ["authConfig.fields.apiKey"]
    assert CANARY not in report.model_dump_json()


def test_an_object_in_git_but_not_in_the_registry_was_deleted_outside_git() -> None:
    report = drift({"a": provider("a")}, [], ("*",))
    (finding,) = report.findings
    assert (finding.kind, finding.key, finding.fields) == ("deleted", "a", [])
    assert CANARY not in report.model_dump_json()


def test_a_provider_new_in_scope_is_unmanaged_and_one_out_of_scope_is_not_ours_to_report() -> None:
    live = [live_provider("team-new"), live_provider("other-team"), live_provider("openai", isSystem=True)]
    report = drift({}, live, ("team-*", "openai"))
    (finding,) = report.findings
    assert (finding.kind, finding.object, finding.key) == ("unmanaged", "provider", "team-new")
    assert ("name", "team-new") in [(f.path, f.before) for f in finding.fields]
    assert [report.count(kind) for kind in ("changed", "deleted", "unmanaged")] == [0, 0, 1]
