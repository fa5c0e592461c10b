"""SARIF 2.1.0, for code-scanning uploads: one run, one rule per diagnostic code or policy, one result per
diagnostic, with the same findings in the same order as the other formats. A waived finding is a result with an
external suppression that carries the waiver's reason, so code scanning shows it as dismissed rather than hiding it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dpm import __version__
from dpm.values import Diagnostic

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {"error": "error", "warning": "warning", "notice": "note"}  # SARIF calls a notice a note


def _rule_id(diagnostic: Diagnostic) -> str:
    return f"policy/{diagnostic.policy}" if diagnostic.policy else diagnostic.code


def _result(diagnostic: Diagnostic, rules: dict[str, int]) -> dict[str, Any]:
    rule = _rule_id(diagnostic)
    text = f"{diagnostic.path}: {diagnostic.message}" if diagnostic.path else diagnostic.message
    if diagnostic.suggestion:
        text += f"\nhint: {diagnostic.suggestion}"
    result: dict[str, Any] = {
        "ruleId": rule,
        "ruleIndex": rules[rule],
        "level": _LEVELS[diagnostic.severity],
        "message": {"text": text},
    }
    if diagnostic.file is not None:
        region = {"startLine": diagnostic.line or 1, "startColumn": diagnostic.column or 1}
        result["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": diagnostic.file}, "region": region}}]
    if diagnostic.waived is not None:
        result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": diagnostic.waived}]
    return result


class SarifReporter:
    """A SARIF 2.1.0 log; ``summary`` becomes the run's invocation note."""

    def report(self, diagnostics: Sequence[Diagnostic], summary: str) -> str:
        rules: dict[str, int] = {}
        for diagnostic in diagnostics:
            rules.setdefault(_rule_id(diagnostic), len(rules))
        log = {
            "$schema": SARIF_SCHEMA,
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "dpm",
                            "version": __version__,
                            "rules": [{"id": rule} for rule in rules],
                        }
                    },
                    "invocations": [
                        {
                            "executionSuccessful": True,
                            "toolExecutionNotifications": [{"level": "note", "message": {"text": summary}}],
                        }
                    ],
                    "results": [_result(d, rules) for d in diagnostics],
                }
            ],
        }
        return json.dumps(log, indent=2)
