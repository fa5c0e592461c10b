"""Waivers: an exception to a policy for one object, which says why and until when.

A waiver applies only with a reason and an expiry date that is well-formed and not yet past. One that lacks
either lets its finding fire again, and the finding says which waiver failed and why, so an exception can neither
be made without a reason nor outlive its date unnoticed. A waived finding is still shown, as a warning marked
waived, with the reason.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, replace

from dpm.policy.load import WaiverEntry
from dpm.values import Diagnostic


@dataclass(frozen=True)
class Finding:
    """A policy finding before waivers: the diagnostic, and what a waiver matches it on."""

    diagnostic: Diagnostic
    policy: str
    identifier: str
    field: str  # the path inside the checked object, e.g. pricingInfo.currency


def today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


def why_not(waiver: WaiverEntry, on: datetime.date) -> str | None:
    """Why ``waiver`` does not apply, or None when it does."""
    if waiver.reason is None or not waiver.reason.strip():
        return "it has no reason"
    if waiver.expires is None:
        return "it has no expires date"
    expires = waiver.expires
    if isinstance(expires, str):
        try:
            expires = datetime.date.fromisoformat(expires)
        except ValueError:
            return f"its expires date {waiver.expires!r} is not a date (YYYY-MM-DD)"
    if expires < on:
        return f"it expired on {expires.isoformat()}"
    return None


def covers(waiver: WaiverEntry, finding: Finding, environment: str | None) -> bool:
    if waiver.policy != finding.policy or waiver.identifier != finding.identifier:
        return False
    if waiver.environments is not None and environment not in waiver.environments:
        return False
    path = waiver.path
    return path is None or finding.field == path or finding.field.startswith((path + ".", path + "["))


def apply_waivers(
    findings: Sequence[Finding], waivers: Sequence[WaiverEntry], environment: str | None, on: datetime.date
) -> list[Diagnostic]:
    result = []
    for finding in findings:
        diagnostic = finding.diagnostic
        matching = [w for w in waivers if covers(w, finding, environment)]
        valid = next((w for w in matching if why_not(w, on) is None), None)
        if valid is not None:
            reason = str(valid.reason).strip()
            message = f"waived until {valid.expires}: {diagnostic.message} (waiver reason: {reason})"
            diagnostic = replace(diagnostic, severity="warning", message=message, waived=reason)
        elif matching:
            notes = "; ".join(f"the waiver at {_where(w)} does not apply: {why_not(w, on)}" for w in matching)
            diagnostic = replace(diagnostic, message=f"{diagnostic.message} ({notes})")
        result.append(diagnostic)
    return result


def _where(waiver: WaiverEntry) -> str:
    return f"{waiver.mark.file}:{waiver.mark.line}:{waiver.mark.column}"
