"""Plan and apply, wired end to end: compiled config + registry client → plan → requests → verification."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dpm import apply
from dpm.client import RegistryClient
from dpm.config import CompiledConfig
from dpm.diff import Ownership, diff
from dpm.errors import DpmError
from dpm.live import LiveState, live_from_export
from dpm.plan import Change, Plan, RequestCost, count


@dataclass
class Planned:
    plan: Plan
    live: LiveState
    steps: list[apply.Step]


def ownership(config: CompiledConfig, prune: bool | None) -> Ownership:
    settings = config.project.settings
    return Ownership(tuple(settings.scope), settings.prune if prune is None else prune)


def make_plan(
    config: CompiledConfig,
    client: RegistryClient,
    target: str,
    owner: Ownership,
    max_bytes: int | None = None,
) -> Planned:
    """Read the registry once and diff it against the config."""
    before = client.requests
    live = live_from_export(client.export())
    changes, warnings = diff(config.state, live, owner)
    steps = apply.steps(changes, config.state, max_bytes or apply.MAX_IMPORT_BYTES)
    verification = 2 if changes else 0  # refresh-registry, then one export to verify
    rate = client.rate
    cost = RequestCost(
        plan=client.requests - before,
        apply=len(steps) + verification,
        remaining=rate.remaining,
        limit=rate.limit,
        resetsAt=rate.reset,
    )
    plan = Plan(
        target=target,
        liveRevision=live.revision,
        changes=changes,
        counts=count(changes),
        warnings=warnings,
        requests=cost,
    )
    return Planned(plan, live, steps)


def check_applicable(planned: Planned, config: CompiledConfig) -> None:
    """Refuse before any write what is sure to fail: creating a provider whose secret dpm does not have."""
    problems = apply.unset_secrets_for_creates(planned.plan.changes, config.state)
    if problems:
        raise DpmError(
            "cannot apply: " + "; ".join(problems), "export the missing DPM_* secrets and run dpm apply again"
        )


def run_apply(
    planned: Planned,
    config: CompiledConfig,
    client: RegistryClient,
    owner: Ownership,
    progress: Callable[[str], None],
) -> Applied:
    """Carry the plan out, then refresh the registry and re-read it to find the changes left (ideally none)."""
    outcome = apply.carry_out(planned.steps, client, progress)
    if not outcome.ok:
        return Applied(outcome)
    client.refresh_registry()
    live = live_from_export(client.export())
    left, _ = diff(config.state, live, owner)
    return Applied(outcome, left, live)


@dataclass
class Applied:
    outcome: apply.Outcome
    left: list[Change] | None = None  # None when apply stopped before verifying
    live: LiveState | None = None


def test_connectivity(applied: Applied, client: RegistryClient) -> list[str]:
    """Run the registry's connectivity test for every provider the apply created or changed; the failures."""
    assert applied.live is not None
    touched = {
        c.provider or c.identifier for c in applied.outcome.applied if c.kind != "template" and c.action != "delete"
    }
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
