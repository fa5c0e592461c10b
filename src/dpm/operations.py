"""Plan and apply, wired end to end: compiled config + registry client → plan → requests → verification."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dpm import apply, payload
from dpm.client import RegistryClient
from dpm.compile import DesiredState
from dpm.config import CompiledConfig
from dpm.diff import Ownership, diff
from dpm.errors import DpmError
from dpm.live import LiveState, live_from_export
from dpm.plan import Change, Plan, RequestCost, count
from dpm.render import Renderer


class StalePlan(DpmError):
    exit_code = 3


@dataclass
class Planned:
    plan: Plan
    live: LiveState


@dataclass
class Applied:
    outcome: apply.Outcome
    left: list[Change] | None = None  # None when apply stopped before verifying
    live: LiveState | None = None


def ownership(config: CompiledConfig, prune: bool | None) -> Ownership:
    settings = config.project.settings
    return Ownership(tuple(settings.scope), settings.prune if prune is None else prune)


def make_plan(
    config: CompiledConfig,
    client: RegistryClient,
    target: str,
    owner: Ownership,
    *,
    max_bytes: int | None = None,
    registry: str | None = None,
) -> Planned:
    """Read the registry once and diff it against the config."""
    before = client.requests
    live = live_from_export(client.export())
    changes, warnings = diff(config.state, live, owner)
    changes = [c.model_copy(update={"body": payload.body(c, config.state)}) for c in changes]
    steps = apply.steps(changes, max_bytes or apply.MAX_IMPORT_BYTES)
    rate = client.rate
    cost = RequestCost(
        plan=client.requests - before,
        apply=len(steps) + (2 if changes else 0),  # then refresh-registry, and one export to verify
        remaining=rate.remaining,
        limit=rate.limit,
        resetsAt=rate.reset,
    )
    plan = Plan(
        target=target,
        registry=registry,
        liveRevision=live.revision,
        changes=changes,
        counts=count(changes),
        warnings=warnings,
        requests=cost,
        vars=dict(config.project.vars),
    )
    return Planned(plan.sealed(), live)


def renderer_for(plan: Plan, environ: Mapping[str, str] | None = None) -> Renderer:
    """Resolves a plan's secret markers from the environment apply runs in."""
    return Renderer(plan.vars, os.environ if environ is None else environ)


def check_applicable(plan: Plan, renderer: Renderer, max_deletes: int | None) -> None:
    """Refuse, before any write, what is sure to fail or needs saying yes to twice."""
    problems = apply.unset_secrets_for_creates(plan.changes, renderer)
    if problems:
        raise DpmError("cannot apply: " + "; ".join(problems), "export the missing DPM_* secrets and apply again")
    deletes = plan.counts.delete
    if max_deletes is not None and deletes > max_deletes:
        raise DpmError(
            f"the plan deletes {deletes} objects, more than maxDeletes ({max_deletes}) allows",
            f"review the deletes, then pass --allow-deletes {deletes}",
        )


def run_apply(
    plan: Plan,
    state: DesiredState | None,
    client: RegistryClient,
    owner: Ownership,
    *,
    progress: Callable[[str], None] = lambda _: None,
    max_bytes: int | None = None,
    renderer: Renderer | None = None,
) -> Applied:
    """Carry the plan out, then refresh the registry and re-read it to find the changes left (ideally none).

    Without the desired ``state`` (a saved plan), verification checks the plan's own objects instead.
    """
    steps = apply.steps(plan.changes, max_bytes or apply.MAX_IMPORT_BYTES)
    outcome = apply.carry_out(steps, client, renderer or renderer_for(plan), progress)
    if not outcome.ok:
        return Applied(outcome)
    client.refresh_registry()
    live = live_from_export(client.export())
    left = diff(state, live, owner)[0] if state is not None else _missing(plan, live)
    return Applied(outcome, left, live)


def _missing(plan: Plan, live: LiveState) -> list[Change]:
    """The plan's changes that the registry does not show as done."""
    return [c for c in plan.changes if (_find(live, c) is None) != (c.action == "delete")]


def _find(live: LiveState, change: Change) -> dict[str, object] | None:
    if change.kind == "template":
        return live.templates.get(change.identifier)
    if change.kind == "provider":
        return live.providers.get(change.identifier)
    return live.models.get(change.provider or "", {}).get(change.identifier)


def read_live(client: RegistryClient) -> LiveState:
    return live_from_export(client.export())


def check_fresh(plan: Plan, live: LiveState) -> None:
    """Refuse a saved plan when any object it touches moved since it was made; unrelated changes do not count."""
    moved = []
    for change in plan.changes:
        current = payload.live_version(_find(live, change))
        if change.action == "create" and current is not None:
            moved.append(f"{change.kind} {change.key} now exists (the plan would create it)")
        elif change.action != "create" and current is None:
            moved.append(f"{change.kind} {change.key} is gone (the plan would {change.action} it)")
        elif change.action != "create" and current != change.liveVersion:
            moved.append(f"{change.kind} {change.key} changed since the plan was made")
    if moved:
        raise StalePlan(
            "the saved plan is stale; nothing was applied:\n    - " + "\n    - ".join(moved),
            "make a new plan, review it, and apply that",
        )


def test_connectivity(applied: Applied, client: RegistryClient) -> list[str]:
    """Run the registry's connectivity test for every provider the apply created or changed; the failures."""
    assert applied.live is not None
    touched = {c.provider or c.identifier for c in applied.outcome.applied if c.kind != "template"}
    failures = []
    for identifier in sorted(touched):
        provider = applied.live.providers.get(identifier)
        if provider is None:
            continue
        result = client.test_provider(str(provider["id"]))
        if not result.get("success"):
            errors = "; ".join(str(e) for e in result.get("errors") or []) or "no reason given"
            failures.append(f"{identifier}: {errors}")
    return failures
