"""Plan reporters: text for people (Terraform's ``+ ~ -``, coloured on a terminal), versioned JSON for tools
(``schemas/plan.schema.json``), and Markdown for pull-request comments (``reports.markdown``)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from dpm.engine.plan import Change, FieldChange, Plan
from dpm.reports.markdown import MarkdownPlanReporter
from dpm.reports.style import SYMBOLS, inline, nothing_to_do, styled, targeted_note

_SECRET_WORDS = {
    "changed": "(sensitive value changed)",
    "added": "(sensitive value added)",
    "removed": "(sensitive value removed)",
}


class PlanReporter(Protocol):
    def report(self, plan: Plan) -> str: ...


def plan_reporter(output: str, *, color: bool, saved_as: Path | None) -> PlanReporter:
    """The reporter for ``--format output``; each takes only what it uses."""
    if output == "json":
        return JsonPlanReporter()
    if output == "markdown":
        return MarkdownPlanReporter(saved_as)
    return TextPlanReporter(color, saved_as)


PLAN_FORMATS = ("json", "markdown", "text")


class TextPlanReporter:
    def __init__(self, color: bool = False, saved_as: Path | None = None) -> None:
        self.color = color
        self.saved_as = saved_as

    def report(self, plan: Plan) -> str:
        lines = [f"dpm plan for {plan.target}" + (f" (revision {plan.liveRevision})" if plan.liveRevision else "")]
        lines += [targeted_note(plan)] if plan.targeted else []
        lines.append("")
        if plan.empty:
            lines.append(nothing_to_do(plan))
        for change in plan.changes:
            lines += self._change(change)
        lines += [f"? {kept.label}: in the registry, not in the files; kept (--prune deletes it)" for kept in plan.kept]
        lines.append("")
        counts = plan.counts
        if not plan.empty:
            lines.append(f"Plan: {counts.create} to create, {counts.update} to update, {counts.delete} to delete.")
        if plan.kept:
            lines.append(f"Kept: {len(plan.kept)} object(s) in scope that the files lack.")
        lines.append(_cost(plan))
        lines += [f"warning: {w}" for w in plan.warnings]
        if self.saved_as is not None:
            lines.append(f"Saved the plan to {self.saved_as}; apply exactly it with: dpm apply --plan {self.saved_as}")
        return "\n".join(lines)

    def _change(self, change: Change) -> list[str]:
        lines = [styled(f"{SYMBOLS[change.action]} {change.kind} {change.key}", change.action, self.color)]
        secrets = {f"authConfig.fields.{s.field}": s.status for s in change.secrets}
        for field in change.fields:
            lines.append("    " + self._field(change.action, field, secrets.get(field.path)))
        return lines

    def _field(self, action: str, field: FieldChange, secret: str | None) -> str:
        if secret in _SECRET_WORDS and action == "update":
            return styled(f"~ {field.path}: {_SECRET_WORDS[secret]}", "update", self.color)
        if action == "create":
            return f"{field.path}: {inline(field.after)}"
        if action == "delete":
            return f"{field.path}: {inline(field.before)}"
        if field.before is None:
            return styled(f"+ {field.path}: {inline(field.after)}", "create", self.color)
        if field.after is None:
            return styled(f"- {field.path}: {inline(field.before)}", "delete", self.color)
        return styled(f"~ {field.path}: {inline(field.before)} → {inline(field.after)}", "update", self.color)


class JsonPlanReporter:
    """The plan as JSON; ``schemas/plan.schema.json`` describes it and ``formatVersion`` versions it."""

    def report(self, plan: Plan) -> str:
        return plan.model_dump_json(indent=2)


def _cost(plan: Plan) -> str:
    cost = plan.requests
    text = f"Requests: this plan cost {cost.plan}; applying it will cost {cost.apply}"
    if cost.remaining is not None:
        text += f", of {cost.remaining} left in the registry's rate-limit window"
        if cost.limit is not None:
            text += f" (limit {cost.limit}"
            text += f", resets at {cost.resetsAt})" if cost.resetsAt else ")"
    return text + "."
