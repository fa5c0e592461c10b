"""Diagnostics reporters: text for people, JSON for tools (``schemas/diagnostics.schema.json``), and GitHub Actions
annotations, which show on the pull request's lines."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pydantic import BaseModel, Field

from dpm.reports.sarif import SarifReporter
from dpm.values import Diagnostic

DIAGNOSTICS_FORMAT_VERSION = 1


class DiagnosticsReport(BaseModel):
    """The output of ``dpm validate --format json``."""

    version: int = Field(description="Format version; changes only when a field changes meaning or goes away.")
    valid: bool
    summary: str
    errors: int
    warnings: int
    notices: int = Field(default=0, description="Findings that inform only, such as a model a provider offers.")
    diagnostics: list[Diagnostic]


def _counts(diagnostics: Sequence[Diagnostic]) -> tuple[int, int]:
    errors = sum(1 for d in diagnostics if d.severity == "error")
    return errors, sum(1 for d in diagnostics if d.severity == "warning")


def _tally(diagnostics: Sequence[Diagnostic], summary: str) -> str:
    """The last line: the verdict and the counts; notices are counted only where there are some."""
    errors, warnings = _counts(diagnostics)
    notices = sum(1 for d in diagnostics if d.severity == "notice")
    extra = f", {notices} notice(s)" if notices else ""
    return f"{summary}: {'invalid' if errors else 'valid'}, {errors} error(s), {warnings} warning(s){extra}"


class TextReporter:
    """``file:line:col: severity: path: message``, with the suggestion indented below."""

    def report(self, diagnostics: Sequence[Diagnostic], summary: str) -> str:
        lines = []
        for d in diagnostics:
            where = f"{d.path}: " if d.path else ""
            lines.append(f"{d.location}: {d.severity}: {where}{d.message}")
            if d.suggestion:
                lines.append(f"    hint: {d.suggestion}")
        lines.append(_tally(diagnostics, summary))
        return "\n".join(lines)


class JsonReporter:
    """A versioned JSON document; its schema is ``schemas/diagnostics.schema.json``."""

    def report(self, diagnostics: Sequence[Diagnostic], summary: str) -> str:
        errors, warnings = _counts(diagnostics)
        document = DiagnosticsReport(
            version=DIAGNOSTICS_FORMAT_VERSION,
            valid=errors == 0,
            summary=summary,
            errors=errors,
            warnings=warnings,
            notices=sum(1 for d in diagnostics if d.severity == "notice"),
            diagnostics=list(diagnostics),
        )
        return json.dumps(document.model_dump(mode="json"), indent=2)


class GithubReporter:
    """GitHub Actions workflow commands, which show as annotations on the pull request's files.

    GitHub shows at most ``ANNOTATIONS`` errors and as many warnings of one step; past that, each further problem is
    a plain log line, and a last notice says how many were not annotated, so none disappears silently.
    """

    ANNOTATIONS = 10

    def report(self, diagnostics: Sequence[Diagnostic], summary: str) -> str:
        lines = []
        shown = {"error": 0, "warning": 0, "notice": 0}
        for d in diagnostics:
            text = f"{d.path}: {d.message}" if d.path else d.message
            if d.suggestion:
                text += f"\nhint: {d.suggestion}"
            if shown[d.severity] >= self.ANNOTATIONS:
                lines.append(f"{d.location}: {d.severity}: {text}".replace("\n", " "))
                continue
            shown[d.severity] += 1
            properties = [f"file={_escape_property(d.file)}", f"line={d.line}", f"col={d.column}"] if d.file else []
            title = f"dpm {d.code} {d.policy}" if d.policy else f"dpm {d.code}"
            properties.append(f"title={_escape_property(title)}")
            lines.append(f"::{d.severity} {','.join(properties)}::{_escape_data(text)}")
        errors, warnings = _counts(diagnostics)
        left = (errors - shown["error"], warnings - shown["warning"])
        notices = sum(1 for d in diagnostics if d.severity == "notice") - shown["notice"]
        if any(left) or notices:
            counted = f"{left[0]} error(s), {left[1]} warning(s) and {notices} notice(s)"
            if not notices:
                counted = f"{left[0]} error(s) and {left[1]} warning(s)"
            lines.append(
                f"::notice title=dpm::{counted} are listed in the log without "
                f"annotations: GitHub shows at most {self.ANNOTATIONS} of each"
            )
        lines.append(_tally(diagnostics, summary))
        return "\n".join(lines)


def policy_findings(findings: Sequence[Diagnostic]) -> str:
    """A plan's change-policy findings as text lines with their count, or nothing when there are none."""
    if not findings:
        return ""
    return TextReporter().report(findings, "change policies") + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


REPORTERS: dict[str, type[TextReporter] | type[JsonReporter] | type[GithubReporter] | type[SarifReporter]] = {
    "text": TextReporter,
    "json": JsonReporter,
    "github": GithubReporter,
    "sarif": SarifReporter,
}
