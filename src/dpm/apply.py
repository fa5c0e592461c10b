"""Apply: carry out a plan's changes, economically, and say truthfully how far it got.

Creates and updates go through the atomic import endpoint (``conflictResolution: replace`` with whole objects,
which leaves exactly what a create or a full update would), a provider together with its models, in as few
requests as the body size limit allows. Deletes go through the per-resource routes, bottom-up, with ``If-Match``.
Secrets are revealed only here, into request bodies; a secret whose value dpm does not have is sent as
``[REDACTED]``, which the registry reads as "keep the stored value".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from dpm.client import RegistryClient, RegistryError
from dpm.compile import DesiredState
from dpm.plan import Change
from dpm.render import Secret
from dpm.resources.secrets import REDACTED

MAX_IMPORT_BYTES = 4 * 1024 * 1024
_DELETE_PATHS = {
    "model": "/admin/models/{}",
    "provider": "/admin/providers/{}",
    "template": "/admin/provider-templates/{}",
}


@dataclass
class Step:
    """One request's worth of changes: an import batch, or one delete."""

    changes: list[Change]
    body: dict[str, Any] | None = None  # the import data; None for a delete

    @property
    def label(self) -> str:
        if self.body is None:
            change = self.changes[0]
            return f"delete {change.kind} {change.key}"
        return f"import of {len(self.changes)} change(s)"


@dataclass
class Outcome:
    applied: list[Change] = field(default_factory=list)
    failed: list[Change] = field(default_factory=list)
    remaining: list[Change] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def steps(changes: Sequence[Change], desired: DesiredState, max_bytes: int = MAX_IMPORT_BYTES) -> list[Step]:
    """The requests that carry out ``changes``: import batches first, then deletes in plan order."""
    writes = [c for c in changes if c.action != "delete"]
    batches = list(_batches(writes, desired, max_bytes))
    return batches + [Step([c]) for c in changes if c.action == "delete"]


def _batches(writes: Sequence[Change], desired: DesiredState, max_bytes: int) -> Iterator[Step]:
    groups: dict[str, list[Change]] = {}
    for change in writes:
        groups.setdefault(change.provider or (change.identifier if change.kind == "provider" else ""), []).append(
            change
        )
    batch = Step([], _empty())
    size = 0
    for group in groups.values():
        payload = _empty()
        for change in group:
            _add(payload, change, desired)
        group_size = len(json.dumps(payload))
        if batch.changes and size + group_size > max_bytes:
            yield batch
            batch, size = Step([], _empty()), 0
        batch.changes += group
        assert batch.body is not None
        for key in ("providers", "models", "templates"):
            batch.body[key] += payload[key]
        size += group_size
    if batch.changes:
        yield batch


def _empty() -> dict[str, list[dict[str, Any]]]:
    return {"providers": [], "models": [], "templates": []}


def _add(payload: dict[str, list[dict[str, Any]]], change: Change, desired: DesiredState) -> None:
    if change.kind == "template":
        payload["templates"].append(_revealed(desired.templates[change.identifier]))
    elif change.kind == "provider":
        provider = {k: v for k, v in desired.providers[change.identifier].items() if k != "models"}
        payload["providers"].append(_revealed(provider))
    else:
        assert change.provider is not None
        model = next(m for m in desired.providers[change.provider]["models"] if m["identifier"] == change.identifier)
        payload["models"].append({**_revealed(model), "providerIdentifier": change.provider})


def _revealed(value: Any) -> Any:
    if isinstance(value, Secret):
        revealed = value.reveal()
        return REDACTED if revealed is None else revealed
    if isinstance(value, dict):
        return {k: _revealed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_revealed(v) for v in value]
    return value


def unset_secrets_for_creates(changes: Sequence[Change], desired: DesiredState) -> list[str]:
    """Providers to be created whose secrets are not in the environment: apply cannot create them."""
    problems = []
    for change in changes:
        if change.action == "create" and change.kind == "provider":
            fields = desired.providers[change.identifier].get("authConfig", {}).get("fields", {})
            problems += [
                f"provider {change.identifier}: secret {', '.join(v.names)} is not set"
                for v in fields.values()
                if isinstance(v, Secret) and not v.known
            ]
    return problems


def carry_out(
    planned: Sequence[Step], client: RegistryClient, progress: Callable[[str], None] = lambda _: None
) -> Outcome:
    """Run each step in order; stop at the first failure and report what was and was not applied."""
    outcome = Outcome()
    for index, step in enumerate(planned):
        try:
            _run(step, client)
        except RegistryError as exc:
            outcome.failed = list(step.changes)
            outcome.remaining = [c for later in planned[index + 1 :] for c in later.changes]
            outcome.error = f"{step.label} failed: {exc.message}"
            return outcome
        outcome.applied += step.changes
        progress(f"{step.label}: done")
    return outcome


def _run(step: Step, client: RegistryClient) -> None:
    if step.body is not None:
        client.import_(step.body)
        return
    change = step.changes[0]
    try:
        client.delete(_DELETE_PATHS[change.kind].format(change.liveId), change.etag)
    except RegistryError as exc:
        # Gone already (a retried delete whose first answer was lost, or a delete by someone else): the goal holds.
        if exc.status != 404:
            raise
