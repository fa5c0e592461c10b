"""Diagnostics: what is wrong, where it was written, and how to fix it.

Every stage reports problems as ``Diagnostic`` values instead of raising, so one run shows all of them. The
reporters turn a list of diagnostics into text for people, JSON for tools (schema in
``schemas/diagnostics.schema.json``) or GitHub Actions annotations.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

Path = tuple[str | int, ...]
Severity = Literal["error", "warning"]

DIAGNOSTICS_FORMAT_VERSION = 1


@dataclass(frozen=True, order=True)
class Mark:
    file: str
    line: int
    column: int


def format_path(path: Path) -> str:
    """``("models", 1, "contextLength")`` as ``models[1].contextLength``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    code: str
    message: str
    file: str | None
    line: int | None
    column: int | None
    path: str
    suggestion: str | None = None

    @classmethod
    def at(  # noqa: PLR0917 - the error/warning shorthands below pass these through
        cls, severity: Severity, code: str, message: str, mark: Mark | None, path: Path = (), hint: str | None = None
    ) -> Diagnostic:
        return cls(
            severity,
            code,
            message,
            mark.file if mark else None,
            mark.line if mark else None,
            mark.column if mark else None,
            format_path(path),
            hint,
        )

    @classmethod
    def error(cls, code: str, message: str, mark: Mark | None, path: Path = (), hint: str | None = None) -> Diagnostic:
        return cls.at("error", code, message, mark, path, hint)

    @classmethod
    def warning(
        cls, code: str, message: str, mark: Mark | None, path: Path = (), hint: str | None = None
    ) -> Diagnostic:
        return cls.at("warning", code, message, mark, path, hint)

    @property
    def location(self) -> str:
        if self.file is None:
            return "dpm"
        return f"{self.file}:{self.line}:{self.column}"

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file or "", self.line or 0, self.column or 0, self.message)


def has_errors(diagnostics: Sequence[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)


def _counts(diagnostics: Sequence[Diagnostic]) -> tuple[int, int]:
    errors = sum(1 for d in diagnostics if d.severity == "error")
    return errors, len(diagnostics) - errors


class TextReporter:
    """``file:line:col: severity: path: message``, with the suggestion indented below."""

    def report(self, diagnostics: Sequence[Diagnostic], summary: str) -> str:
        lines = []
        for d in diagnostics:
            where = f"{d.path}: " if d.path else ""
            lines.append(f"{d.location}: {d.severity}: {where}{d.message}")
            if d.suggestion:
                lines.append(f"    hint: {d.suggestion}")
        errors, warnings = _counts(diagnostics)
        verdict = "invalid" if errors else "valid"
        lines.append(f"{summary}: {verdict}, {errors} error(s), {warnings} warning(s)")
        return "\n".join(lines)


class JsonReporter:
    """A versioned JSON document; its schema is ``schemas/diagnostics.schema.json``."""

    def report(self, diagnostics: Sequence[Diagnostic], summary: str) -> str:
        errors, warnings = _counts(diagnostics)
        document = {
            "version": DIAGNOSTICS_FORMAT_VERSION,
            "valid": errors == 0,
            "summary": summary,
            "errors": errors,
            "warnings": warnings,
            "diagnostics": [asdict(d) for d in diagnostics],
        }
        return json.dumps(document, indent=2)


class GithubReporter:
    """GitHub Actions workflow commands, which show as annotations on the pull request's files."""

    def report(self, diagnostics: Sequence[Diagnostic], summary: str) -> str:
        lines = []
        for d in diagnostics:
            properties = [f"file={_escape_property(d.file)}", f"line={d.line}", f"col={d.column}"] if d.file else []
            properties.append(f"title={_escape_property(f'dpm {d.code}')}")
            text = f"{d.path}: {d.message}" if d.path else d.message
            if d.suggestion:
                text += f"\nhint: {d.suggestion}"
            lines.append(f"::{d.severity} {','.join(properties)}::{_escape_data(text)}")
        errors, warnings = _counts(diagnostics)
        lines.append(f"{summary}: {'invalid' if errors else 'valid'}, {errors} error(s), {warnings} warning(s)")
        return "\n".join(lines)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


REPORTERS: dict[str, type[TextReporter] | type[JsonReporter] | type[GithubReporter]] = {
    "text": TextReporter,
    "json": JsonReporter,
    "github": GithubReporter,
}
