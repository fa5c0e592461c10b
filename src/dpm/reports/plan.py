"""Plan reporters: text for people (Terraform's ``+ ~ -``, coloured on a terminal), versioned JSON for tools
(``schemas/plan.schema.json``), and Markdown for pull-request comments (``reports.markdown``)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from dpm.engine.fields import fields_of
from dpm.engine.plan import Change, FieldChange, Plan
from dpm.reports.markdown import MarkdownPlanReporter
from dpm.reports.style import (
    SYMBOLS,
    block,
    gate_heading,
    gate_lines,
    inline,
    nested,
    nothing_to_do,
    styled,
    targeted_note,
)

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
        heading = gate_heading(plan)
        if heading is not None and not plan.empty:
            lines += ["", heading, *(f"  {line}" for line in gate_lines(plan))]
        summary = []
        counts = plan.counts
        if not plan.empty:
            summary.append(f"Plan: {counts.create} to create, {counts.update} to update, {counts.delete} to delete.")
        if plan.kept:
            summary.append(f"Kept: {len(plan.kept)} object(s) in scope that the files lack.")
        if plan.registry is not None:  # the embedded registry's requests never leave the machine: no quota to count
            summary.append(_cost(plan))
        summary += [f"warning: {w}" for w in plan.warnings]
        if self.saved_as is not None:
            saved = self.saved_as
            summary.append(f"Saved the plan to {saved}; apply exactly it with: dpm apply --plan {saved}")
        return "\n".join(lines + (["", *summary] if summary else []))

    def _change(self, change: Change) -> list[str]:
        lines = [styled(f"{SYMBOLS[change.action]} {change.kind} {change.key}", change.action, self.color)]
        secrets = {f"authConfig.fields.{s.field}": s.status for s in change.secrets}
        for field in fields_of(change):
            lines += ["    " + line for line in self._field(change.action, field, secrets.get(field.path))]
        return lines

    def _field(self, action: str, field: FieldChange, secret: str | None) -> list[str]:
        """The field's lines: one for a plain value, a header and an indented block for a nested one."""
        if secret in _SECRET_WORDS and action == "update":
            return [styled(f"~ {field.path}: {_SECRET_WORDS[secret]}", "update", self.color)]
        if action in ("create", "delete"):  # the object's own symbol already says what happens to every field
            return _entry(field.path, field.after if action == "create" else field.before, 0)
        if field.before is None:
            return self._styled(_marked("+", _entry(field.path, field.after, 0)), "create")
        if field.after is None:
            return self._styled(_marked("-", _entry(field.path, field.before, 0)), "delete")
        if not nested(field.before) and not nested(field.after):
            return self._styled([f"~ {field.path}: {inline(field.before)} → {inline(field.after)}"], "update")
        changed = [f"{field.path}:", *_entry("before", field.before, 2), *_entry("after", field.after, 2)]
        return self._styled(_marked("~", changed), "update")

    def _styled(self, lines: list[str], action: str) -> list[str]:
        """Each line coloured on its own, so that a pager or a cut keeps the colour of every line it shows."""
        return [styled(line, action, self.color) for line in lines]


def _marked(symbol: str, lines: list[str]) -> list[str]:
    """The symbol before the first line; the lines below it keep their place under the text, past the symbol."""
    return [f"{symbol} {lines[0]}", *("  " + line for line in lines[1:])]


def _entry(label: str, value: object, indent: int) -> list[str]:
    """``label: value`` on one line, or ``label:`` and the value as a block below it, 2 spaces further in."""
    pad = " " * indent
    if not nested(value):
        return [f"{pad}{label}: {inline(value)}"]
    return [f"{pad}{label}:", *block(value, indent + 2)]


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
