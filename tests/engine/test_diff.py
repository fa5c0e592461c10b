"""Diff: ordering is data, ownership is scope, and the system's own objects are never touched."""

from __future__ import annotations

from typing import Any

from dpm.config.compile import DesiredState
from dpm.engine.diff import diff
from dpm.engine.live import live_from_export
from dpm.values import Ownership


def provider(identifier: str, **extra: Any) -> dict[str, Any]:
    return {
        "identifier": identifier,
        "name": identifier,
        "apiEndpoint": "https://x.example/v1",
        "authMethod": "custom",
        "authConfig": {"type": "custom", "fields": {"region": "eu"}},
        "capabilities": {"maxContextLength": 10, "supportedRoles": ["user"]},
        "models": [],
        **extra,
    }


def model(identifier: str) -> dict[str, Any]:
    return {"identifier": identifier, "name": identifier, "contextLength": 5}


def export(providers: list[dict[str, Any]], models: list[dict[str, Any]] = (), templates: list[Any] = ()) -> Any:  # type: ignore[assignment]
    return live_from_export({"data": {"providers": providers, "models": list(models), "templates": list(templates)}})


def test_creates_run_top_down_and_deletes_bottom_up() -> None:
    desired = DesiredState(
        providers={"new": provider("new", models=[model("m1")])},
        templates={"t": {"name": "t", "providerConfig": {}, "defaultModels": []}},
    )
    live = export(
        [provider("old", id="p-old")],
        [{**model("gone"), "id": "m-gone", "providerIdentifier": "old"}],
        [{"name": "stale", "id": "t-1", "providerConfig": {}, "defaultModels": []}],
    )
    changes, _ = diff(desired, live, Ownership(prune=True))
    assert [(c.action, c.kind, c.key) for c in changes] == [
        ("create", "template", "t"),
        ("create", "provider", "new"),
        ("create", "model", "new/m1"),
        ("delete", "model", "old/gone"),
        ("delete", "provider", "old"),
        ("delete", "template", "stale"),
    ]
    assert changes[3].liveId == "m-gone"


def test_prune_respects_scope_and_never_touches_system_providers() -> None:
    live = export([provider("team-a"), provider("team-b"), provider("openai-system", isSystem=True)])
    changes, _ = diff(DesiredState(), live, Ownership(scope=("team-*", "openai-*"), prune=True))
    assert sorted(c.key for c in changes) == ["team-a", "team-b"]
    assert diff(DesiredState(), live, Ownership(scope=("team-a",), prune=True))[0][0].key == "team-a"
    assert diff(DesiredState(), live, Ownership(prune=False))[0] == []


def test_an_equal_registry_plans_nothing_and_an_edit_plans_one_field() -> None:
    desired = DesiredState(providers={"p": provider("p", models=[model("m")])})
    live = export([provider("p", id="1", etag="e")], [{**model("m"), "providerIdentifier": "p", "id": "2"}])
    assert diff(desired, live, Ownership())[0] == []
    desired.providers["p"]["models"][0]["contextLength"] = 6
    (change,) = diff(desired, live, Ownership())[0]
    assert [(f.path, f.before, f.after) for f in change.fields] == [("contextLength", 5, 6)]
