"""Drift: what changed in the registry outside git, classified for the person who has to act on it.

It is the plan read the other way round, with prune on so that unmanaged providers in scope show up:
an update is "changed outside git", a create is "deleted outside git", a delete is "unmanaged, new in scope".
"""

from __future__ import annotations

from typing import Literal, TypeGuard

from pydantic import Field

from dpm.config.compile import DesiredState
from dpm.engine.diff import diff
from dpm.engine.live import LiveState
from dpm.engine.plan import Change, FieldChange, Record, SecretNote
from dpm.values import Ownership, Secret, leaves

DRIFT_FORMAT_VERSION = 1
FindingKind = Literal["changed", "deleted", "unmanaged"]
_KINDS: dict[str, FindingKind] = {"update": "changed", "create": "deleted", "delete": "unmanaged"}
LABELS: dict[FindingKind, str] = {
    "changed": "changed outside git",
    "deleted": "deleted outside git",
    "unmanaged": "unmanaged, new in scope",
}


class Finding(Record):
    kind: FindingKind
    object: Literal["template", "provider", "model"]
    key: str
    fields: list[FieldChange] = Field(
        default_factory=list, description="For 'changed': before is the value in git, after the one in the registry."
    )
    secrets: list[SecretNote] = Field(default_factory=list)


class DriftReport(Record):
    formatVersion: int = DRIFT_FORMAT_VERSION
    target: str
    liveRevision: int | None = None
    findings: list[Finding] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    secretsNotCompared: list[str] = Field(
        default_factory=list,
        description="The DPM_* variables of secrets that could not be compared, since they are not set: a report "
        "that lists any says nothing about those secrets.",
    )

    @property
    def drifted(self) -> bool:
        return bool(self.findings)

    def count(self, kind: FindingKind) -> int:
        return sum(f.kind == kind for f in self.findings)


def detect(desired: DesiredState, live: LiveState, scope: tuple[str, ...], target: str) -> DriftReport:
    changes, warnings = diff(desired, live, Ownership(scope, prune=True))
    findings = [_finding(c) for c in changes]
    return DriftReport(
        target=target,
        liveRevision=live.revision,
        findings=findings,
        warnings=warnings,
        secretsNotCompared=_not_compared(desired, live),
    )


def _not_compared(desired: DesiredState, live: LiveState) -> list[str]:
    """The variables of unset secrets whose objects the registry holds: a hand rotation there would go unseen."""
    held = [
        *(provider for identifier, provider in desired.providers.items() if identifier in live.providers),
        *(template for name, template in desired.templates.items() if name in live.templates),
    ]
    return sorted({name for value in held for _, secret in leaves(value) if _unset(secret) for name in secret.names})


def _unset(value: object) -> TypeGuard[Secret]:
    return isinstance(value, Secret) and not value.known


def _finding(change: Change) -> Finding:
    kind = _KINDS[change.action]
    fields = change.fields
    if kind == "changed":
        fields = [FieldChange(path=f.path, before=f.after, after=f.before) for f in fields]
    elif kind == "deleted":
        fields = []
    return Finding(kind=kind, object=change.kind, key=change.key, fields=fields, secrets=change.secrets)
