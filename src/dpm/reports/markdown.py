"""Markdown for pull-request comments and issues: a summary table first, then one ``<details>`` per object.

A comment always fits GitHub's limit: past ``MAX_CHARS`` the remaining objects are listed by name only, and the
comment says where the full JSON plan is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from dpm.engine.drift import LABELS, DriftReport, Finding
from dpm.engine.fields import fields_of
from dpm.engine.plan import LEVELS, Change, FieldChange, Plan
from dpm.reports.style import block, gate_heading, gate_lines, inline, nested, nothing_to_do, targeted_note
from dpm.values import Diagnostic

MAX_CHARS = 60_000  # GitHub refuses comments over 65,536 characters; keep room for a footer
_ICONS = {"create": "🟢", "update": "🟡", "delete": "🔴", "changed": "🟡", "deleted": "🔴", "unmanaged": "🟣"}


def _fence(lines: Sequence[str]) -> str:
    body = "\n".join(lines)
    # A fence longer than any run of backticks in the values, so that no value can close it.
    fence = "`" * max(3, *(len(run) + 1 for run in re.findall("`+", body)), 3)
    return f"{fence}diff\n{body}\n{fence}"


def _details(summary: str, lines: Sequence[str]) -> str:
    return f"<details><summary>{summary}</summary>\n\n{_fence(lines)}\n\n</details>\n"


def _truncated(head: str, sections: Sequence[tuple[str, str]], full: str) -> str:
    """``head`` and as many sections as fit; the rest named in one line each, pointing at ``full``."""
    text = head
    for index, (_, section) in enumerate(sections):
        if len(text) + len(section) > MAX_CHARS:
            rest = [n for n, _ in sections[index:]]
            shown = ", ".join(rest[:50]) + (f" and {len(rest) - 50} more" if len(rest) > 50 else "")
            return text + f"\n**{len(rest)} more object(s) not shown here:** {shown}.\n\n{full}\n"
        text += section
    return text


def _where_full(saved_as: Path | None) -> str:
    if saved_as is not None:
        return f"The full plan is in `{saved_as}` (JSON)."
    return "Save the full plan with `dpm plan -o plan.json` and read it there."


class MarkdownPlanReporter:
    def __init__(self, saved_as: Path | None = None) -> None:
        self.saved_as = saved_as

    def report(self, plan: Plan) -> str:
        head = f"### dpm plan for the {plan.target}\n\n"
        head += f"> 🎯 {targeted_note(plan)}\n\n" if plan.targeted else ""
        kept = _kept(plan)
        warnings = "".join(f"> ⚠️ {w}\n" for w in plan.warnings)
        if plan.empty:
            return head + nothing_to_do(plan) + "\n" + ("\n" + warnings if warnings else "") + kept
        head += "| | create | update | delete |\n|---|---:|---:|---:|\n"
        for level in LEVELS:
            counts = [
                sum(c.kind == level and c.action == a for c in plan.changes) for a in ("create", "update", "delete")
            ]
            head += f"| {level}s | {counts[0]} | {counts[1]} | {counts[2]} |\n"
        c = plan.counts
        head += f"\n**Plan: {c.create} to create, {c.update} to update, {c.delete} to delete.** "
        head += f"Applying costs {plan.requests.apply} request(s).\n\n"
        head += warnings + ("\n" if warnings else "") + kept + ("\n" if kept else "") + _gate(plan) + _policy(plan)
        sections = [(f"{c.kind} {c.key}", _details(_change_summary(c), _change_lines(c))) for c in plan.changes]
        return _truncated(head, sections, _where_full(self.saved_as))


def _gate(plan: Plan) -> str:
    heading = gate_heading(plan)
    if heading is None:
        return ""
    return f"**{_escaped(heading)}**\n\n" + "".join(f"- {_escaped(line)}\n" for line in gate_lines(plan)) + "\n"


def _policy(plan: Plan) -> str:
    """The change policies' findings, errors first, each with the policy's name and where it points."""
    if not plan.policy:
        return ""
    ordered = sorted(plan.policy, key=lambda d: d.severity != "error")
    errors = sum(d.severity == "error" for d in ordered)
    lines = [f"**Policy:** {errors} error(s), {len(ordered) - errors} warning(s).\n\n"]
    for d in ordered:
        icon = "❌" if d.severity == "error" else ("✅ waived" if d.waived else "⚠️")
        lines.append(f"- {icon} **{_escaped(d.policy or '')}** at `{d.location}`: {_escaped(d.message)}\n")
    return "".join(lines) + "\n"


def _escaped(text: str) -> str:
    """Plain text that Markdown shows as written: no emphasis, link, table cell or HTML out of a value."""
    return re.sub(r"([\\`*_{}\[\]<>|#])", r"\\\1", text)


def _kept(plan: Plan) -> str:
    if not plan.kept:
        return ""
    listed = "".join(
        f"- `{k.kind} {k.identifier}`" + (f" ({k.models} model(s))" if k.models else "") + "\n" for k in plan.kept
    )
    return f"\n**Kept:** {len(plan.kept)} object(s) in scope that the files lack (`--prune` deletes them):\n\n{listed}"


def _change_summary(change: Change) -> str:
    badges = ""
    if change.action == "delete":
        badges += " ⚠️ <b>delete</b>"
    if any(s.status in ("changed", "added", "removed") for s in change.secrets) and change.action == "update":
        badges += " 🔑 <b>secret changed</b>"
    return f"{_ICONS[change.action]} {change.action} {change.kind} <code>{change.key}</code>{badges}"


def _change_lines(change: Change) -> list[str]:
    secrets = {f"authConfig.fields.{s.field}": s.status for s in change.secrets}
    return [_field_line(change.action, f, secrets.get(f.path)) for f in fields_of(change)]


def _field_line(action: str, field: FieldChange, secret: str | None) -> str:
    if secret in ("changed", "added", "removed") and action == "update":
        return f"! {field.path}: (sensitive value {secret})"
    if action == "create" or field.before is None:
        return _diff("+", field.path, field.after)
    if action == "delete" or field.after is None:
        return _diff("-", field.path, field.before)
    return _diff("-", field.path, field.before) + "\n" + _diff("+", field.path, field.after)


def _diff(symbol: str, path: str, value: object) -> str:
    """A field as diff lines: one for a plain value; for a nested one (a template's models), a YAML-like block
    with the symbol on every line, so the comment's diff colouring covers all of it."""
    if not nested(value):
        return f"{symbol} {path}: {inline(value)}"
    return "\n".join([f"{symbol} {path}:", *(f"{symbol} {line}" for line in block(value, 2))])


class MarkdownDriftReporter:
    def report(self, report: DriftReport) -> str:
        head = f"### dpm drift for the {report.target}\n\n"
        uncompared = ", ".join(f"`{name}`" for name in report.secretsNotCompared)
        if uncompared:
            head += f"> ⚠️ Secrets not compared (not set in the environment): {uncompared}.\n\n"
        if not report.drifted:
            return head + (
                "No drift in what could be compared.\n" if uncompared else "No drift: the registry matches git.\n"
            )
        head += "| finding | count |\n|---|---:|\n"
        head += "".join(f"| {LABELS[k]} | {report.count(k)} |\n" for k in LABELS)
        head += "\n" + "".join(f"> ⚠️ {w}\n" for w in report.warnings)
        sections = [(f"{f.object} {f.key}", _details(_finding_summary(f), _finding_lines(f))) for f in report.findings]
        return _truncated(head, sections, "Run `dpm drift --format json` for the full report.")


def _finding_summary(finding: Finding) -> str:
    return f"{_ICONS[finding.kind]} {finding.object} <code>{finding.key}</code>: {LABELS[finding.kind]}"


def _finding_lines(finding: Finding) -> list[str]:
    if finding.kind == "deleted":
        return [f"- {finding.object} {finding.key} is in git but not in the registry"]
    if finding.kind == "unmanaged":
        return [f"+ {f.path}: {inline(f.before)}" for f in finding.fields]
    secrets = {f"authConfig.fields.{s.field}" for s in finding.secrets if s.status == "changed"}
    return [
        f"! {f.path}: (sensitive value changed)"
        if f.path in secrets
        else f"- {f.path}: {inline(f.before)}  (git)\n+ {f.path}: {inline(f.after)}  (registry)"
        for f in finding.fields
    ]


_SEVERITY_ICONS = {"error": "❌", "warning": "⚠️", "notice": "ℹ️"}  # noqa: RUF001 - the information sign is meant


class MarkdownCheckReporter:
    """``dpm check`` as an issue for a scheduled job: the counts, then one line per finding, errors first."""

    def report(self, diagnostics: Sequence[Diagnostic], summary: str) -> str:
        head = f"### {_escaped(summary)}\n\n"
        if not diagnostics:
            return head + "Every configured model is served by its provider.\n"
        counts = {s: sum(d.severity == s for d in diagnostics) for s in _SEVERITY_ICONS}
        head += "| finding | count |\n|---|---:|\n"
        head += "".join(f"| {_SEVERITY_ICONS[s]} {s}s | {n} |\n" for s, n in counts.items() if n)
        head += "\n"
        ordered = sorted(diagnostics, key=lambda d: list(_SEVERITY_ICONS).index(d.severity))
        sections = []
        for d in ordered:
            line = f"- {_SEVERITY_ICONS[d.severity]} `{d.location}`: {_escaped(d.message)}"
            line += f" — {_escaped(d.suggestion)}" if d.suggestion else ""
            sections.append((d.location, line + "\n"))
        return _truncated(head, sections, "Run `dpm check --format json` for the full report.")
