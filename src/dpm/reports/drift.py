"""Drift reporters: text for people, JSON for tools, and Markdown for an issue (``reports.markdown``)."""

from __future__ import annotations

from typing import Protocol

from dpm.engine.drift import LABELS, DriftReport
from dpm.reports.markdown import MarkdownDriftReporter
from dpm.reports.style import inline

_SYMBOLS = {"changed": "~", "deleted": "-", "unmanaged": "?"}


class DriftReporter(Protocol):
    def report(self, report: DriftReport) -> str: ...


class TextDriftReporter:
    def report(self, report: DriftReport) -> str:
        revision = f" (revision {report.liveRevision})" if report.liveRevision else ""
        lines = [f"dpm drift for {report.target}{revision}", ""]
        if not report.drifted:
            lines.append(_no_drift(report))
        for finding in report.findings:
            lines.append(f"{_SYMBOLS[finding.kind]} {finding.object} {finding.key}: {LABELS[finding.kind]}")
            changed = {f"authConfig.fields.{s.field}" for s in finding.secrets if s.status == "changed"}
            for field in finding.fields:
                if field.path in changed:
                    lines.append(f"    {field.path}: (sensitive value changed)")
                elif finding.kind == "changed":
                    lines.append(f"    {field.path}: git {inline(field.before)}, registry {inline(field.after)}")
        lines.append("")
        counts = ", ".join(f"{report.count(k)} {LABELS[k]}" for k in LABELS)
        lines.append(f"Drift: {counts}." if report.drifted else "Drift: none.")
        lines += [f"warning: {w}" for w in report.warnings]
        if report.secretsNotCompared:
            lines.append(_not_compared(report))
        return "\n".join(lines)


def _no_drift(report: DriftReport) -> str:
    """Said only when true: unset secrets were not compared, so a hand rotation of them could hide there."""
    if not report.secretsNotCompared:
        return "No drift: the registry matches git."
    return "No drift in what could be compared (secrets not compared, listed below)."


def _not_compared(report: DriftReport) -> str:
    return f"Secrets not compared (not set in the environment): {', '.join(report.secretsNotCompared)}."


class JsonDriftReporter:
    def report(self, report: DriftReport) -> str:
        return report.model_dump_json(indent=2)


DRIFT_REPORTERS: dict[str, type[DriftReporter]] = {
    "text": TextDriftReporter,
    "json": JsonDriftReporter,
    "markdown": MarkdownDriftReporter,
}
