"""What an apply did: every change applied, failed or left, whether the registry now matches, and the
connectivity tests that failed. A half-applied change is reported as exactly that."""

from __future__ import annotations

from dpm.engine.outcome import Applied
from dpm.engine.plan import Change
from dpm.reports.style import SYMBOLS


def _line(change: Change, prefix: str = "") -> str:
    return f"  {prefix}{SYMBOLS[change.action]} {change.kind} {change.key}"


def outcome_summary(applied: Applied) -> str:
    outcome, verified = applied.outcome, applied.left
    lines = []
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
    return "\n".join(lines)
