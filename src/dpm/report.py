"""Plan reporters: text for people (Terraform's ``+ ~ -``, coloured on a terminal) and versioned JSON for tools."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from dpm.apply import Outcome
from dpm.drift import LABELS, DriftReport
from dpm.markdown import MarkdownDriftReporter, MarkdownPlanReporter
from dpm.plan import Change, FieldChange, Plan

_SYMBOLS = {"create": ("+", "green"), "update": ("~", "yellow"), "delete": ("-", "red")}
_SECRET_WORDS = {
    "changed": "(sensitive value changed)",
    "added": "(sensitive value added)",
    "removed": "(sensitive value removed)",
}


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


class TextPlanReporter:
    def __init__(self, color: bool = False, saved_as: Path | None = None) -> None:
        self.color = color
        self.saved_as = saved_as

    def _style(self, text: str, action: str) -> str:
        return click.style(text, fg=_SYMBOLS[action][1]) if self.color else text

    def report(self, plan: Plan) -> str:
        lines = [f"dpm plan for {plan.target}" + (f" (revision {plan.liveRevision})" if plan.liveRevision else "")]
        lines.append("")
        if plan.empty:
            lines.append("No changes. The registry matches the configuration.")
        for change in plan.changes:
            lines += self._change(change)
        lines.append("")
        counts = plan.counts
        if not plan.empty:
            lines.append(f"Plan: {counts.create} to create, {counts.update} to update, {counts.delete} to delete.")
        lines.append(_cost(plan))
        lines += [f"warning: {w}" for w in plan.warnings]
        if self.saved_as is not None:
            lines.append(f"Saved the plan to {self.saved_as}; apply exactly it with: dpm apply --plan {self.saved_as}")
        return "\n".join(lines)

    def _change(self, change: Change) -> list[str]:
        symbol = _SYMBOLS[change.action][0]
        lines = [self._style(f"{symbol} {change.kind} {change.key}", change.action)]
        secrets = {f"authConfig.fields.{s.field}": s.status for s in change.secrets}
        for field in change.fields:
            lines.append("    " + self._field(change.action, field, secrets.get(field.path)))
        return lines

    def _field(self, action: str, field: FieldChange, secret: str | None) -> str:
        if secret in _SECRET_WORDS and action == "update":
            return self._style(f"~ {field.path}: {_SECRET_WORDS[secret]}", "update")
        if action == "create":
            return f"{field.path}: {_value(field.after)}"
        if action == "delete":
            return f"{field.path}: {_value(field.before)}"
        if field.before is None:
            return self._style(f"+ {field.path}: {_value(field.after)}", "create")
        if field.after is None:
            return self._style(f"- {field.path}: {_value(field.before)}", "delete")
        return self._style(f"~ {field.path}: {_value(field.before)} → {_value(field.after)}", "update")


class JsonPlanReporter:
    """The plan as JSON; ``schemas/plan.schema.json`` describes it and ``formatVersion`` versions it."""

    def __init__(self, color: bool = False, saved_as: Path | None = None) -> None:
        del color, saved_as  # the JSON is the same either way

    def report(self, plan: Plan) -> str:
        return plan.model_dump_json(indent=2)


PLAN_REPORTERS: dict[str, type[TextPlanReporter] | type[JsonPlanReporter] | type[MarkdownPlanReporter]] = {
    "text": TextPlanReporter,
    "json": JsonPlanReporter,
    "markdown": MarkdownPlanReporter,
}


class TextDriftReporter:
    def report(self, report: DriftReport) -> str:
        revision = f" (revision {report.liveRevision})" if report.liveRevision else ""
        lines = [f"dpm drift for {report.target}{revision}", ""]
        if not report.drifted:
            lines.append("No drift: the registry matches git.")
        for finding in report.findings:
            lines.append(f"{_DRIFT_SYMBOLS[finding.kind]} {finding.object} {finding.key}: {LABELS[finding.kind]}")
            changed = {f"authConfig.fields.{s.field}" for s in finding.secrets if s.status == "changed"}
            for field in finding.fields:
                if field.path in changed:
                    lines.append(f"    {field.path}: (sensitive value changed)")
                elif finding.kind == "changed":
                    lines.append(f"    {field.path}: git {_value(field.before)}, registry {_value(field.after)}")
        lines.append("")
        counts = ", ".join(f"{report.count(k)} {LABELS[k]}" for k in LABELS)
        lines.append(f"Drift: {counts}." if report.drifted else "Drift: none.")
        lines += [f"warning: {w}" for w in report.warnings]
        return "\n".join(lines)


class JsonDriftReporter:
    def report(self, report: DriftReport) -> str:
        return report.model_dump_json(indent=2)


_DRIFT_SYMBOLS = {"changed": "~", "deleted": "-", "unmanaged": "?"}
DRIFT_REPORTERS: dict[str, type[TextDriftReporter] | type[JsonDriftReporter] | type[MarkdownDriftReporter]] = {
    "text": TextDriftReporter,
    "json": JsonDriftReporter,
    "markdown": MarkdownDriftReporter,
}


def _cost(plan: Plan) -> str:
    cost = plan.requests
    text = f"Requests: this plan cost {cost.plan}; applying it will cost {cost.apply}"
    if cost.remaining is not None:
        text += f", of {cost.remaining} left in the registry's rate-limit window"
        if cost.limit is not None:
            text += f" (limit {cost.limit}"
            text += f", resets at {cost.resetsAt})" if cost.resetsAt else ")"
    return text + "."


def outcome_summary(outcome: Outcome, verified: Sequence[Change] | None) -> str:
    """What apply did: every change applied, failed or left, and whether the registry now matches."""
    lines = []
    if outcome.applied:
        lines.append(f"Applied {len(outcome.applied)} change(s):")
        lines += [f"  {_SYMBOLS[c.action][0]} {c.kind} {c.key}" for c in outcome.applied]
    if outcome.error:
        lines.append(f"Failed: {outcome.error}")
        lines += [f"  not applied: {_SYMBOLS[c.action][0]} {c.kind} {c.key}" for c in outcome.failed]
        if outcome.remaining:
            lines.append(f"Not attempted ({len(outcome.remaining)}):")
            lines += [f"  {_SYMBOLS[c.action][0]} {c.kind} {c.key}" for c in outcome.remaining]
        lines.append("Run dpm apply again to converge: changes already applied plan to nothing.")
    elif verified is not None:
        if verified:
            lines.append(f"Verification found {len(verified)} change(s) still to make:")
            lines += [f"  {_SYMBOLS[c.action][0]} {c.kind} {c.key}" for c in verified]
        else:
            lines.append("Verified: the registry matches the configuration.")
    return "\n".join(lines)
