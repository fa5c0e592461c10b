"""What an apply did: every change applied, failed or left, whether the registry now matches, and the
connectivity tests that failed. A half-applied change is reported as exactly that."""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import Field

from dpm.engine.outcome import Applied
from dpm.engine.plan import Action, Change, Counts, Kept, Kind, Record, TestResult
from dpm.reports.style import SYMBOLS

APPLY_FORMAT_VERSION = 1

Result = Literal["nothing-to-do", "applied", "changes-left", "connectivity-failed", "gate-failed", "failed", "moved"]
RESULTS: dict[str, str] = {
    "nothing-to-do": "exit 0: the plan had no changes, so nothing was written",
    "applied": "exit 0: every change was applied and verification found nothing left to do",
    "changes-left": "exit 1: every request succeeded, but verification found changes still to make",
    "connectivity-failed": "exit 1: applied and verified, but a connectivity test of a changed provider failed",
    "gate-failed": "exit 1: gated: objects whose test failed were held back (a new object written but not "
    "routable, an active provider on its old settings); the rest is applied and verified",
    "failed": "exit 1: a request failed; what came before it is applied, the rest was not attempted",
    "moved": "exit 3: the registry refused a write because an object it touches moved since the plan was made",
}


class ChangeRef(Record):
    action: Action
    kind: Kind
    provider: str | None = Field(default=None, description="The provider identifier, for a model.")
    identifier: str = Field(description="Provider or model identifier, or template name.")

    @classmethod
    def of(cls, change: Change) -> ChangeRef:
        return cls(action=change.action, kind=change.kind, provider=change.provider, identifier=change.identifier)


class Verification(Record):
    performed: bool = Field(
        description="Whether the registry was compared with the config after the writes (or, with nothing to do, "
        "by the plan itself); false when apply stopped at a failed request."
    )
    changesLeft: list[ChangeRef] = Field(default_factory=list, description="What the registry still lacks.")
    kept: list[Kept] = Field(
        default_factory=list, description="In scope, in the registry, not in the files: kept, since prune is off."
    )
    matches: bool = Field(
        description="The registry matches the whole configuration: verified, nothing left, nothing kept, and not a "
        "targeted apply (which compared only its targets)."
    )


class ApplyReport(Record):
    """The output of ``dpm apply --format json``: what the apply did, one document on standard output."""

    formatVersion: int = APPLY_FORMAT_VERSION
    target: str = Field(description="The registry the apply wrote to.")
    targets: list[str] = Field(default_factory=list, description="The plan's --target objects; empty for all.")
    result: Result = Field(description="; ".join(f"{name}: {meaning}" for name, meaning in RESULTS.items()))
    exitCode: int = Field(description="dpm's exit code: 0 done, 1 failed or left undone, 3 something moved.")
    planned: Counts = Field(description="What the plan held.")
    planChecksum: str | None = Field(default=None, description="The checksum of the plan that was carried out.")
    applied: list[ChangeRef] = Field(default_factory=list)
    failed: list[ChangeRef] = Field(default_factory=list, description="The changes of the request that failed.")
    notAttempted: list[ChangeRef] = Field(default_factory=list, description="After the failure: never sent.")
    error: str | None = Field(default=None, description="Why the failed request failed.")
    moved: list[str] = Field(default_factory=list, description="What moved since the plan (result 'moved').")
    verification: Verification
    connectivityFailures: list[str] = Field(default_factory=list, description="provider: why its test failed.")
    heldBack: list[ChangeRef] = Field(
        default_factory=list,
        description="Gated: changes held back because a test failed; a new object is written but not routable, an "
        "active provider keeps its old connection settings. The next apply tries again.",
    )
    tests: list[TestResult] = Field(default_factory=list, description="Gated: each test with its result and time.")
    notes: list[str] = Field(default_factory=list, description="Gated: what the run could not tidy up.")


def result_of(applied: Applied) -> Result:
    if applied.outcome.stale:
        return "moved"
    if not applied.outcome.ok:
        return "failed"
    if applied.nothing_to_do:
        return "nothing-to-do"
    if applied.left:
        return "changes-left"
    if applied.outcome.held:
        return "gate-failed"
    return "connectivity-failed" if applied.connectivity_failures else "applied"


def apply_report(applied: Applied, target: str) -> ApplyReport:
    outcome, plan = applied.outcome, applied.plan
    performed = applied.left is not None
    left = [ChangeRef.of(c) for c in applied.left or []]
    warnings = bool(plan and plan.empty and plan.warnings)  # an empty plan's warnings: what it could not compare
    return ApplyReport(
        target=target,
        targets=list(applied.targets),
        result=result_of(applied),
        exitCode=applied.exit_code,
        planned=plan.counts if plan else Counts(),
        planChecksum=plan.checksum if plan else None,
        applied=[ChangeRef.of(c) for c in outcome.applied],
        failed=[ChangeRef.of(c) for c in outcome.failed],
        notAttempted=[ChangeRef.of(c) for c in outcome.remaining],
        error=outcome.error,
        moved=list(outcome.moved),
        verification=Verification(
            performed=performed,
            changesLeft=left,
            kept=list(applied.kept),
            matches=performed
            and not left
            and not applied.kept
            and not applied.targets
            and not warnings
            and not outcome.held,
        ),
        connectivityFailures=list(applied.connectivity_failures),
        heldBack=[ChangeRef.of(c) for c in outcome.held],
        tests=list(applied.tests),
        notes=list(outcome.notes),
    )


def _line(change: Change, prefix: str = "") -> str:
    return f"  {prefix}{SYMBOLS[change.action]} {change.kind} {change.key}"


def outcome_summary(applied: Applied) -> str:
    outcome, verified = applied.outcome, applied.left
    lines = _test_lines(applied)
    if outcome.applied:
        lines.append(f"Applied {len(outcome.applied)} change(s):")
        lines += [_line(c) for c in outcome.applied]
    if outcome.error:
        lines.append(f"Failed: {outcome.error}")
        lines += [f"  moved: {what}" for what in outcome.moved]
        lines += [_line(c, "not applied: ") for c in outcome.failed]
        if outcome.remaining:
            lines.append(f"Not attempted ({len(outcome.remaining)}):")
            lines += [_line(c) for c in outcome.remaining]
        if outcome.stale:
            lines.append("Make a new plan, review what moved, and apply that.")
        else:
            lines.append("Run dpm apply again to converge: changes already applied plan to nothing.")
    elif verified is not None:
        if verified:
            lines.append(f"Verification found {len(verified)} change(s) still to make:")
            lines += [_line(c) for c in verified]
        elif outcome.held:
            lines.append(
                "Verified: the rest of the plan is carried out; what the gate held back (below) is not yet as the "
                "configuration wants it."
            )
        elif applied.targets:
            state = (
                f"the plan is carried out, and {len(applied.kept)} of them are in the registry, not in the files "
                "(kept; --prune deletes them)"
                if applied.kept
                else "they match the configuration"
            )
            lines.append(
                f"Verified for the targeted objects ({', '.join(applied.targets)}): {state}. The rest of the "
                "registry was not compared."
            )
        elif applied.kept:
            lines.append(
                f"Verified: the plan is carried out; the registry also holds {len(applied.kept)} object(s) in scope "
                "that the files lack (kept; --prune deletes them)."
            )
        else:
            lines.append("Verified: the registry matches the configuration.")
    lines += [f"connectivity test failed: {failure}" for failure in applied.connectivity_failures]
    if outcome.held:
        lines.append(f"Held back ({len(outcome.held)}), since a test failed; the next apply tries again:")
        canaried = {t.test.identifier for t in applied.tests if t.test.kind == "provider" and t.test.canary}
        lines += [_line(c) + _held(c, canaried) for c in outcome.held]
    lines += [f"note: {note}" for note in outcome.notes]
    return "\n".join(lines)


_MARKS = {"passed": "✓", "failed": "✗", "not-run": "-"}


def _test_lines(applied: Applied) -> list[str]:
    if not applied.tests:
        return []
    passed = sum(t.result == "passed" for t in applied.tests)
    lines = [f"Gate: {passed} of {len(applied.tests)} test(s) passed:"]
    return lines + [f"  {_MARKS[t.result]} {t.line}" for t in applied.tests]


def _held(change: Change, canaried: set[str]) -> str:
    if change.kind == "provider" and change.identifier in canaried:
        return " (not written: the live provider keeps its current settings)"
    return f" (written {'testing' if change.kind == 'provider' else 'inactive'}: not routable)"


class OutcomeReporter(Protocol):
    def report(self, applied: Applied, target: str) -> str: ...


class TextOutcomeReporter:
    """The summary for people; an apply with nothing to do has said so in its plan, and adds nothing."""

    def report(self, applied: Applied, target: str) -> str:
        return "" if applied.nothing_to_do else outcome_summary(applied)


class JsonOutcomeReporter:
    """One document, always: a script reads standard output whatever happened (``schemas/apply.schema.json``)."""

    def report(self, applied: Applied, target: str) -> str:
        return apply_report(applied, target).model_dump_json(indent=2)


OUTCOME_REPORTERS: dict[str, type[OutcomeReporter]] = {"json": JsonOutcomeReporter, "text": TextOutcomeReporter}
