"""Apply: carry out a plan's changes, economically, and say truthfully how far it got.

Creates and updates go through the atomic import endpoint (``conflictResolution: replace`` with whole objects,
which leaves exactly what a create or a full update would), a provider together with its models, in as few
requests as the body size limit allows. Deletes go through the per-resource routes, bottom-up, with ``If-Match``.
Every write carries the state the plan saw (import preconditions, ``If-Match``), so the registry refuses it, whole,
when someone else moved an object in between: apply never overwrites what its plan did not show.
Secrets are resolved only here, into request bodies (see ``payload``); a secret whose value dpm does not have is
sent as ``[REDACTED]``, which the registry reads as "keep the stored value".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from dpm.config.render import Renderer
from dpm.engine.diff import holds
from dpm.engine.live import live_from_export
from dpm.engine.outcome import Outcome
from dpm.engine.payload import check_secrets, resolve, unresolved
from dpm.engine.plan import Change
from dpm.registry.client import RegistryClient, RegistryError

MAX_IMPORT_BYTES = 4 * 1024 * 1024
ABSENT = "absent"  # the precondition of a create: the object must not exist yet


@dataclass
class Step:
    """One request's worth of changes: an import batch, or one delete."""

    changes: list[Change]
    body: dict[str, Any] | None = None  # the import data; None for a delete
    # Preconditions on objects the import does not write but whose state the plan relied on (see gate.relied_on).
    relies_on: list[dict[str, str]] = field(default_factory=list)

    @property
    def label(self) -> str:
        if self.body is None:
            change = self.changes[0]
            return f"delete {change.kind} {change.key}"
        return f"import of {len(self.changes)} change(s)"

    @property
    def preconditions(self) -> list[dict[str, str]]:
        """For an import: each entry as the plan saw it, absent for a create and at its etag for an update."""
        if self.body is None:
            return []
        wanted = [(c, ABSENT if c.action == "create" else c.etag) for c in self.changes]
        own = [{"type": c.kind, "identifier": c.key, "ifMatch": etag} for c, etag in wanted if etag is not None]
        return own + self.relies_on


@dataclass(frozen=True)
class StepProgress:
    """Where a long apply is: step ``number`` of ``total`` of its kind (imports and deletes are counted apart), and
    whether it is being sent, is done, or failed. ``line`` is what a person reads."""

    kind: Literal["import", "delete", "test"]
    number: int
    total: int
    subject: str  # an import's change count, what a delete removes, or what a test tests
    state: Literal["sending", "done", "done-lost", "failed", "passed"]

    @property
    def line(self) -> str:
        ending = {
            "sending": "…",
            "done": "done",
            "done-lost": "done (its answer was lost; the registry holds what it wrote)",
            "failed": "failed",
            "passed": "passed",
        }[self.state]
        return f"{self.kind} {self.number}/{self.total}: {self.subject}: {ending}"

    def __str__(self) -> str:
        return self.line


def _positions(planned: Sequence[Step]) -> list[StepProgress]:
    """Each step's place among the steps of its kind, to report as it runs."""
    totals = {"import": sum(s.body is not None for s in planned), "delete": sum(s.body is None for s in planned)}
    seen = {"import": 0, "delete": 0}
    found = []
    for step in planned:
        kind: Literal["import", "delete"] = "delete" if step.body is None else "import"
        seen[kind] += 1
        change = step.changes[0]
        subject = f"{change.kind} {change.key}" if kind == "delete" else f"{len(step.changes):,} change(s)"
        found.append(StepProgress(kind, seen[kind], totals[kind], subject, "sending"))
    return found


def describe_move(change: Change, *, present: bool) -> str:
    """How the object ``change`` names moved since the plan was made, given whether it exists now."""
    if change.action == "create":
        return f"{change.kind} {change.key} now exists (the plan would create it)"
    if not present:
        return f"{change.kind} {change.key} is gone (the plan would {change.action} it)"
    return f"{change.kind} {change.key} changed since the plan was made"


def describe_relied_on(kind: str, identifier: str) -> str:
    """How an object the plan does not change, but relied on as it was, moved."""
    return f"{kind} {identifier} changed since the plan was made, which relied on it as it was"


def steps(changes: Sequence[Change], max_bytes: int = MAX_IMPORT_BYTES) -> list[Step]:
    """The requests that carry out ``changes``: import batches first, then deletes in plan order."""
    writes = [c for c in changes if c.action != "delete"]
    batches = list(_batches(writes, max_bytes))
    return batches + [Step([c]) for c in changes if c.action == "delete"]


_SECTIONS = {"provider": "providers", "model": "models", "template": "templates"}


def _batches(writes: Sequence[Change], max_bytes: int) -> Iterator[Step]:
    # A provider travels with its models, so each import leaves every provider whole.
    groups: dict[str, list[Change]] = {}
    for change in writes:
        owner = change.provider or (change.identifier if change.kind == "provider" else "")
        groups.setdefault(owner, []).append(change)
    batch, size = Step([], _empty()), 0
    for group in groups.values():
        group_size = sum(len(json.dumps(c.body)) for c in group)
        if batch.changes and size + group_size > max_bytes:
            yield batch
            batch, size = Step([], _empty()), 0
        for change in group:
            assert batch.body is not None
            assert change.body is not None
            batch.body[_SECTIONS[change.kind]].append(change.body)
        batch.changes += group
        size += group_size
    if batch.changes:
        yield batch


def _empty() -> dict[str, list[dict[str, Any]]]:
    return {"providers": [], "models": [], "templates": []}


def unset_secrets(changes: Sequence[Change], renderer: Renderer) -> list[str]:
    """What apply cannot do because a secret it needs is not in the environment: every secret of a create, and each
    secret an update adds. A secret the registry already holds is kept when its value is unknown, so it is no
    obstacle."""
    problems = []
    for change in changes:
        added = {note.field for note in change.secrets if note.status == "added"}
        for path, expression in unresolved(change.body, renderer):
            if change.action == "create" or path[-1] in added:
                problems.append(
                    f"{change.kind} {change.key}: {expression} cannot be resolved (not set in the environment)"
                )
    return problems


def carry_out(
    planned: Sequence[Step],
    client: RegistryClient,
    renderer: Renderer,
    progress: Callable[[StepProgress], None] = lambda _: None,
) -> Outcome:
    """Run each step in order; stop at the first failure and report what was and was not applied.

    Secrets are checked against the plan's fingerprints before the first request is sent, and resolved into each
    step's body only as it is sent: one batch's request body is held at a time, not every one of them.
    ``progress`` hears of each step as it is sent and when it is done or failed.
    """
    outcome = Outcome()
    for step in planned:
        check_secrets(step.body, renderer)
    positions = _positions(planned)
    for index, step in enumerate(planned):
        progress(positions[index])
        sent = resolve(step.body, renderer)
        try:
            _run(step, sent, client)
        except RegistryError as exc:
            lost = client.answer_lost
            if exc.status == 412 and lost and _written(step, sent, client):
                outcome.applied += step.changes
                progress(replace(positions[index], state="done-lost"))
                continue
            progress(replace(positions[index], state="failed"))
            outcome.failed = list(step.changes)
            outcome.remaining = [c for later in planned[index + 1 :] for c in later.changes]
            if exc.status == 412:
                outcome.moved = _moved(step, exc)
                outcome.error = f"{step.label} refused: the registry moved since the plan was made"
                if lost:
                    outcome.error += " (in part, perhaps, by this apply's own first attempt, whose answer was lost)"
            else:
                outcome.error = f"{step.label} failed: {exc.message}"
            return outcome
        outcome.applied += step.changes
        progress(replace(positions[index], state="done"))
    return outcome


def _written(step: Step, sent: dict[str, Any] | None, client: RegistryClient) -> bool:
    """After a retry refused because its objects moved: whether what moved them was the lost first attempt, that
    is, whether the registry now holds exactly what this step writes (one more request)."""
    if sent is None:
        return False  # a delete's retry finds the object gone (404), never moved
    live = live_from_export(client.export())
    # Each section of the body lists its kind's changes in the order the step holds them.
    entries = {kind: iter(sent[section]) for kind, section in _SECTIONS.items()}
    return all(holds(change, next(entries[change.kind]), live) for change in step.changes)


def _moved(step: Step, exc: RegistryError) -> list[str]:
    if step.body is None:  # a delete's If-Match: the object is there, at another etag
        return [describe_move(step.changes[0], present=True)]
    by_key: dict[tuple[object, object], Change] = {(c.kind, c.key): c for c in step.changes}
    relied = {(p["type"], p["identifier"]) for p in step.relies_on}
    found = []
    for entry in exc.envelope.get("details") or []:
        key = (entry.get("type"), entry.get("identifier")) if isinstance(entry, dict) else None
        change = by_key.get(key) if key is not None else None
        if change is not None:
            found.append(describe_move(change, present=entry.get("actual") != ABSENT))
        elif key in relied:
            found.append(describe_relied_on(str(key[0]), str(key[1])))
    return found or [f"the registry did not say which: {exc.message}"]


def _run(step: Step, body: dict[str, Any] | None, client: RegistryClient) -> None:
    if body is not None:
        client.import_(body, preconditions=step.preconditions)
        return
    change = step.changes[0]
    try:
        client.delete(change.kind, str(change.liveId), change.etag)
    except RegistryError as exc:
        # Gone already (a retried delete whose first answer was lost, or a delete by someone else): the goal holds.
        if exc.status != 404:
            raise
