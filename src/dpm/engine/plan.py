"""The plan: a value that says exactly what apply will do, computed once and never recomputed by apply.

Its JSON form (``dpm plan --format json``) is versioned; ``schemas/plan.schema.json`` describes it. A plan holds
no secret values: a secret shows as ``(sensitive value)``, and its comparison with the registry as a status.

A create carries its request body and no field list: the reports read its fields from the body
(``engine.fields``), so a plan of thousands of creates holds each value once, not once more per field.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dpm.values import Diagnostic

PLAN_FORMAT_VERSION = 2  # 2: a create carries its body only; the checksum sums the compact JSON form

Action = Literal["create", "update", "delete"]
Kind = Literal["template", "provider", "model"]
LEVELS: tuple[Kind, ...] = ("template", "provider", "model")


class Record(BaseModel):
    """Immutable plain data with a published JSON form."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class FieldChange(Record):
    path: str = Field(description="Dotted path of the field, e.g. capabilities.maxContextLength.")
    before: Any = None
    after: Any = None


class SecretNote(Record):
    field: str = Field(description="The authConfig.fields name.")
    status: Literal["same", "changed", "unknown", "added", "removed"]


class Change(Record):
    action: Action
    kind: Kind
    provider: str | None = Field(default=None, description="The provider identifier, for a model.")
    identifier: str = Field(description="Provider or model identifier, or template name.")
    fields: list[FieldChange] = Field(
        default_factory=list,
        description="For update: the fields that change; for delete: every field the object held. Empty for a "
        "create, whose fields are its body.",
    )
    secrets: list[SecretNote] = Field(default_factory=list)
    liveId: str | None = Field(default=None, description="The registry's id of the object, when it exists.")
    etag: str | None = Field(default=None, description="The live object's etag, when the registry sends one.")
    liveVersion: str | None = Field(
        default=None,
        description="The live object's etag, or a digest of its content: a saved plan is stale when it moved.",
    )
    body: dict[str, Any] | None = Field(
        default=None,
        description='What apply sends for a create or update. Secrets are {"$secret": expression, "fingerprint": …}.',
    )

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.identifier}" if self.provider else self.identifier

    def order(self) -> tuple[int, int, str]:
        """Creates and updates run templates → providers → models; deletes run the other way."""
        level = LEVELS.index(self.kind)
        return (1, -level, self.key) if self.action == "delete" else (0, level, self.key)


class Kept(Record):
    """An object in scope that the registry holds and the files lack, kept because prune is off."""

    kind: Kind
    identifier: str = Field(description="Provider identifier or template name.")
    models: int = Field(default=0, description="For a provider: how many models it holds.")

    @property
    def label(self) -> str:
        return f"{self.kind} {self.identifier}" + (f" ({self.models} model(s))" if self.models else "")


class Counts(Record):
    create: int = 0
    update: int = 0
    delete: int = 0

    @property
    def total(self) -> int:
        return self.create + self.update + self.delete


class RequestCost(Record):
    plan: int = Field(description="Requests made to compute this plan.")
    apply: int = Field(description="Requests the apply will make, including its final verification.")
    remaining: int | None = Field(default=None, description="The registry's remaining quota, when it says.")
    limit: int | None = None
    resetsAt: str | None = None


Reason = Literal["new", "activated", "new-settings"]


class GateTest(Record):
    """One connectivity test the gate runs before the object it names becomes (or stays) routable."""

    kind: Literal["provider", "model"]
    provider: str | None = Field(default=None, description="The provider identifier, for a model.")
    identifier: str = Field(description="Provider or model identifier.")
    reason: Reason = Field(
        description="new: created; activated: becomes active; new-settings: an active provider's connection "
        "settings change, tested on a canary copy (its models that need a test are tested as copies there)."
    )
    canary: str | None = Field(default=None, description="The canary copy the test runs on, for new-settings.")

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.identifier}" if self.provider else self.identifier

    @property
    def owner(self) -> str:
        """The provider this test belongs to."""
        return self.provider or self.identifier

    @property
    def label(self) -> str:
        where = f" on canary copy {self.canary}" if self.canary else ""
        return f"{self.kind} {self.key}{where}"


class NotRoutable(Record):
    """A live provider the plan leaves as it is, and not active: its models that become active are not tested,
    since nothing routes to them. A gated apply writes them only while the provider is still at ``etag``."""

    identifier: str
    etag: str


class Gate(Record):
    """The tests of a gated apply, providers before their models, and the requests they add at most."""

    tests: list[GateTest] = Field(default_factory=list)
    requests: int = Field(
        default=0,
        description="Requests the gate adds to the apply, at most: one export to find what to test, the tests, "
        "the deletes of canary copies and one write that switches what passed to active.",
    )
    untestedUnder: list[NotRoutable] = Field(
        default_factory=list,
        description="Unchanged providers that are not active, whose models becoming active are left untested: the "
        "writes of those models require each provider at this etag, so one activated since the plan was made is "
        "refused as moved rather than made routable untested.",
    )

    @property
    def canaries(self) -> list[str]:
        return sorted({t.canary for t in self.tests if t.canary and t.kind == "provider"})


class TestResult(Record):
    """What one test of the gate found."""

    test: GateTest
    result: Literal["passed", "failed", "not-run"] = Field(
        description="not-run: a model whose provider failed its own test."
    )
    responseTime: int | None = Field(default=None, description="Milliseconds, as the registry measured them.")
    errors: list[str] = Field(default_factory=list, description="The provider's own error messages.")

    @property
    def line(self) -> str:
        if self.result == "not-run":
            return f"{self.test.label}: {'; '.join(self.errors)}"
        time = f" in {self.responseTime} ms" if self.responseTime is not None else ""
        reasons = f": {'; '.join(self.errors)}" if self.errors else ""
        return f"{self.test.label}: {self.result}{time}{reasons}"


class Plan(Record):
    formatVersion: int = PLAN_FORMAT_VERSION
    target: str = Field(description="The registry this plan was computed against.")
    registry: str | None = Field(default=None, description="Its URL; None for the embedded registry.")
    liveRevision: int | None = Field(default=None, description="The registry's revision when it was read.")
    changes: list[Change] = Field(default_factory=list)
    counts: Counts = Field(default_factory=Counts)
    warnings: list[str] = Field(default_factory=list)
    kept: list[Kept] = Field(
        default_factory=list,
        description="Objects in scope that the registry holds and the files lack: kept, since prune is off "
        "(--prune deletes them). A plan with none of them and no changes means the registry matches the files.",
    )
    targets: list[str] = Field(
        default_factory=list,
        description="The --target objects this plan was narrowed to (KIND/IDENTIFIER), with what they need; empty "
        "for a plan of the whole config. A targeted plan compared nothing else, so it never says the registry matches.",
    )
    requests: RequestCost
    vars: dict[str, Any] = Field(default_factory=dict, description="The vars the config was rendered with.")
    policy: list[Diagnostic] = Field(
        default_factory=list,
        description="Findings of the change policies (target: Change) on this plan's changes; absent when none.",
        exclude_if=lambda findings: not findings,  # a plan without findings reads as it did before policies
    )
    gate: Gate | None = Field(
        default=None,
        description="A gated apply's tests (dpm apply --gate, rollout: gated); absent for a plan made without it.",
        exclude_if=lambda gate: gate is None,
    )
    checksum: str | None = Field(
        default=None, description="sha256 of the plan's compact JSON form (as dpm writes it) without this field."
    )

    @property
    def empty(self) -> bool:
        return not self.changes

    @property
    def targeted(self) -> bool:
        return bool(self.targets)

    def compute_checksum(self) -> str:
        # The serializer writes the JSON bytes straight from the objects, in field and insertion order, which a
        # saved plan read back keeps: no second copy of the plan as dicts, and the same bytes on every run.
        content = type(self).__pydantic_serializer__.to_json(self, exclude={"checksum"})
        return "sha256:" + hashlib.sha256(content).hexdigest()

    def strings(self) -> set[str]:
        """Every distinct string the plan holds, mapping keys included: where a secret's value could be, read
        without writing the plan out as JSON (and without JSON's escapes hiding a value)."""
        found: set[str] = set()
        _collect(self, found)
        return found

    def sealed(self) -> Plan:
        return self.model_copy(update={"checksum": self.compute_checksum()})


def _collect(value: Any, found: set[str]) -> None:
    # Dicts and lists first: they are most of a plan; a policy finding (a dataclass) may quote a value.
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                found.add(key)
            if isinstance(item, str):
                found.add(item)
            elif isinstance(item, int | float):
                if not isinstance(item, bool):  # an all-digit secret written in clear reads as a number
                    found.add(str(item))
            elif item is not None:
                _collect(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, found)
    elif isinstance(value, str):
        found.add(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        found.add(str(value))
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _collect(getattr(value, name), found)
    elif dataclasses.is_dataclass(value):
        for item in dataclasses.fields(value):
            _collect(getattr(value, item.name), found)


def count(changes: list[Change]) -> Counts:
    return Counts(
        create=sum(c.action == "create" for c in changes),
        update=sum(c.action == "update" for c in changes),
        delete=sum(c.action == "delete" for c in changes),
    )
