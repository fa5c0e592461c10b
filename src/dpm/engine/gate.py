"""The gate of a gated rollout (``dpm apply --gate``, ``rollout: gated``): test before routable.

What the gate tests, decided when the plan is made from its changes and the live state:

- an object the plan makes routable (a new provider or model the config wants ``active``, or one that is live but
  not active and becomes so) is written first as not routable (a provider ``testing``, a model ``inactive``), tested
  through the registry, and switched to ``active`` only when its test passes;
- a provider that is live and ``active`` and whose connection settings change (``apiEndpoint``, ``authConfig``: its
  headers, ``testEndpoint`` or a secret) keeps its old settings while the new ones are tested on a canary copy: a
  provider with a reserved identifier (``dpm-canary-…``), created ``testing``, tested and deleted again. Its new
  models are tested there too, as copies under the canary.

A model is tested only when its provider will be active. The plan records the tests (``Plan.gate``) and what they
cost; ``dpm.engine.rollout`` carries them out. Nothing here makes a request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from dpm.config.render import Renderer
from dpm.engine.live import LiveState, is_canary
from dpm.engine.payload import live_version, unresolved
from dpm.engine.plan import Change, Gate, GateTest, NotRoutable, Reason
from dpm.resources.models import CANARY_PREFIX

_MAX_IDENTIFIER = 50  # a provider identifier's limit
ROUTABLE = "active"
HELD = {"provider": "testing", "model": "inactive"}  # written so while its test is pending or failed
CONNECTION = ("apiEndpoint", "authConfig")  # the fields whose change a canary tests


def canary_identifier(identifier: str) -> str:
    """The reserved identifier of ``identifier``'s canary copy; long identifiers are shortened with a digest, so
    that the copy's identifier stays within the limit and distinct."""
    whole = CANARY_PREFIX + identifier
    if len(whole) <= _MAX_IDENTIFIER:
        return whole
    digest = hashlib.sha256(identifier.encode()).hexdigest()[:8]
    return f"{CANARY_PREFIX}{identifier[: _MAX_IDENTIFIER - len(CANARY_PREFIX) - 9].rstrip('-')}-{digest}"


def plan_gate(changes: Sequence[Change], live: LiveState) -> Gate:
    """What a gated apply of ``changes`` tests (the changes carry their bodies)."""
    tests: list[GateTest] = []
    canaries: dict[str, str] = {}
    active: dict[str, bool] = {}  # provider identifier → whether it will be active after the apply
    for identifier, provider in live.providers.items():
        active[identifier] = provider.get("status", ROUTABLE) == ROUTABLE
    for change in changes:
        if change.kind == "provider" and change.action != "delete":
            active[change.identifier] = _status(change) == ROUTABLE
    for change in changes:
        if change.kind == "provider" and change.action != "delete":
            test = _provider_test(change, live)
            if test is not None:
                tests.append(test)
                if test.canary:
                    canaries[change.identifier] = test.canary
    for change in changes:
        if change.kind == "model" and change.action != "delete" and active.get(str(change.provider), False):
            reason = _reason(change, live)
            if reason is not None:
                canary = canaries.get(str(change.provider))
                tests.append(
                    GateTest(
                        kind="model",
                        provider=change.provider,
                        identifier=change.identifier,
                        reason=reason,
                        canary=canary,
                    )
                )
    tests.sort(key=lambda t: (t.owner, t.kind != "provider", t.identifier))
    return Gate(tests=tests, requests=cost(tests, live), untestedUnder=_untested_under(changes, live))


def _untested_under(changes: Sequence[Change], live: LiveState) -> list[NotRoutable]:
    """The unchanged, live providers that are not active and have models this plan makes active: the decision not
    to test those models holds only while the provider stays as it is."""
    changed = {c.identifier for c in changes if c.kind == "provider"}
    found: dict[str, NotRoutable] = {}
    for change in changes:
        owner = str(change.provider)
        provider = live.providers.get(owner)
        if change.kind != "model" or change.action == "delete" or owner in changed or provider is None:
            continue
        etag = provider.get("etag")
        if provider.get("status", ROUTABLE) != ROUTABLE and etag and _reason(change, live) is not None:
            found[owner] = NotRoutable(identifier=owner, etag=str(etag))
    return [found[k] for k in sorted(found)]


def relied_on(step_changes: Sequence[Change], gate: Gate) -> list[dict[str, str]]:
    """The import preconditions a write of ``step_changes`` adds for the providers the gate left untested under."""
    owners = {c.provider for c in step_changes if c.kind == "model"}
    return [
        {"type": "provider", "identifier": p.identifier, "ifMatch": p.etag}
        for p in gate.untestedUnder
        if p.identifier in owners
    ]


def _provider_test(change: Change, live: LiveState) -> GateTest | None:
    reason = _reason(change, live)
    if reason is not None:
        return GateTest(kind="provider", identifier=change.identifier, reason=reason)
    if change.action == "update" and _status(change) == ROUTABLE and _connection_changed(change):
        return GateTest(
            kind="provider",
            identifier=change.identifier,
            reason="new-settings",
            canary=canary_identifier(change.identifier),
        )
    return None


def _reason(change: Change, live: LiveState) -> Reason | None:
    """Why ``change`` needs a test before it is routable, or None when it does not make its object routable."""
    if _status(change) != ROUTABLE:
        return None
    if change.action == "create":
        return "new"
    found = live.find(change.kind, change.identifier, change.provider) or {}
    return None if found.get("status", ROUTABLE) == ROUTABLE else "activated"


def _status(change: Change) -> str:
    return str((change.body or {}).get("status") or ROUTABLE)


def _connection_changed(change: Change) -> bool:
    moved = any(f.path.split(".")[0] in CONNECTION for f in change.fields)
    return moved or any(note.status in ("changed", "added", "removed") for note in change.secrets)


def cost(tests: Sequence[GateTest], live: LiveState) -> int:
    """The requests a gate adds at most: an export, each test, each canary's deletes (its models, then itself), and
    the write that makes what passed active."""
    if not tests:
        return 0
    canary_models = sum(1 for t in tests if t.kind == "model" and t.canary)
    canaries = sum(1 for t in tests if t.kind == "provider" and t.canary)
    return 1 + len(tests) + canary_models + canaries + 1


# ── what a gated apply writes ────────────────────────────────────────────────────────────────────────────────────


def held(body: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """``body`` as written before its test passes: not routable, and for a model not the provider's default either,
    since the registry would take the default from the provider's active models at once."""
    found = {**body, "status": HELD[kind]}
    if kind == "model" and found.get("isDefault"):
        found["isDefault"] = False
    return found


def staged(changes: Sequence[Change], gate: Gate) -> list[Change]:
    """The first write of a gated apply: every change, with what the gate tests held not routable; an active
    provider's new settings held back (its canary copy, and copies of its new models, instead)."""
    tested: dict[tuple[str, str], GateTest] = {(t.kind, t.key): t for t in gate.tests}
    found: list[Change] = []
    for change in changes:
        test = tested.get((change.kind, change.key))
        if test is None or change.body is None:
            found.append(change)
        elif test.kind == "provider" and test.canary:
            found.append(_canary_change(change, test.canary))
        else:
            found.append(change.model_copy(update={"body": held(change.body, change.kind)}))
            if test.canary:  # a new model of a provider whose settings change: a copy under the canary as well
                found.append(_canary_model(change, test.canary))
    return found


def _canary_change(change: Change, canary: str) -> Change:
    assert change.body is not None
    body = {
        **held(change.body, "provider"),
        "identifier": canary,
        "description": f"Canary copy of {change.identifier} made by dpm apply --gate; deleted when its test ends.",
    }
    return Change(action="create", kind="provider", identifier=canary, secrets=change.secrets, body=body)


def _canary_model(change: Change, canary: str) -> Change:
    assert change.body is not None
    body = {**held(change.body, "model"), "providerIdentifier": canary}
    return Change(action="create", kind="model", provider=canary, identifier=change.identifier, body=body)


def subject(test: GateTest) -> tuple[str, str | None, str]:
    """Where ``test`` runs in the registry: (kind, provider, identifier), on the canary copy when it has one."""
    if test.kind == "provider":
        return "provider", None, test.canary or test.identifier
    return "model", test.canary or test.provider, test.identifier


def promoted(changes: Sequence[Change], passed: Iterable[GateTest], live: LiveState) -> list[Change]:
    """The write that makes what passed routable: each tested object as the plan wants it, at the etag the first
    write left (an active provider's new settings at the etag the plan saw)."""
    wanted = {(t.kind, t.key) for t in passed if not (t.kind == "provider" and t.canary)}
    settings = {(t.kind, t.key) for t in passed if t.kind == "provider" and t.canary}
    found = []
    for change in changes:
        if (change.kind, change.key) in settings:
            found.append(change)
        elif (change.kind, change.key) in wanted:
            current = live.find(change.kind, change.identifier, change.provider) or {}
            found.append(change.model_copy(update={"action": "update", "etag": current.get("etag")}))
    return found


def canary_unset(changes: Sequence[Change], planned: Gate, renderer: Renderer) -> list[str]:
    """What a canary copy cannot be made without: it is a new provider, so it needs every secret of the provider's
    new settings, even those the live provider keeps."""
    canaried = {t.identifier for t in planned.tests if t.kind == "provider" and t.canary}
    return [
        f"provider {c.identifier}: {expression} cannot be resolved (not set in the environment), and the gate's "
        "canary copy needs every secret of the new settings"
        for c in changes
        if c.kind == "provider" and c.identifier in canaried
        for _, expression in unresolved(c.body, renderer)
    ]


def leftovers(live: LiveState) -> list[Change]:
    """Deletes of the canary copies an interrupted gated apply left behind (their models first): any plan removes
    them, gated or not, since nothing else ever will."""
    found = []
    for canary, models in sorted(live.canary_models.items()):
        for identifier, model in sorted(models.items()):
            found.append(_delete("model", canary, identifier, model))
    for canary, provider in sorted(live.canaries.items()):
        found.append(_delete("provider", None, canary, provider))
    return found


def _delete(
    kind: Literal["provider", "model"], provider: str | None, identifier: str, live: Mapping[str, Any]
) -> Change:
    return Change(
        action="delete",
        kind=kind,
        provider=provider,
        identifier=identifier,
        liveId=None if live.get("id") is None else str(live["id"]),
        etag=live.get("etag"),
        liveVersion=live_version(live),
    )


def removes_canary(change: Change) -> bool:
    """Whether ``change`` deletes a canary copy or one of its models: dpm's own housekeeping, not the config's."""
    return change.action == "delete" and is_canary(change.provider or change.identifier)


def leftover_warnings(changes: Sequence[Change]) -> list[str]:
    canaries = sorted({c.provider or c.identifier for c in changes if removes_canary(c)})
    return [
        f"{name}: a canary copy left behind by an interrupted gated apply; this apply deletes it" for name in canaries
    ]
