"""SARIF: the same findings as every other format, in the same order, in the shape code scanning reads."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import RunDpm

CASE = Path(__file__).parent.parent / "golden" / "policy-waivers"

# The parts of the SARIF 2.1.0 schema (OASIS, errata01) that dpm's log uses, with the spec's own constraints: the
# official schema is not vendored here, so this holds what code scanning needs from each object.
LOCATION = {
    "type": "object",
    "required": ["physicalLocation"],
    "properties": {
        "physicalLocation": {
            "type": "object",
            "required": ["artifactLocation", "region"],
            "properties": {
                "artifactLocation": {"type": "object", "required": ["uri"], "properties": {"uri": {"type": "string"}}},
                "region": {
                    "type": "object",
                    "required": ["startLine", "startColumn"],
                    "properties": {"startLine": {"type": "integer", "minimum": 1}, "startColumn": {"minimum": 1}},
                },
            },
        }
    },
}
SARIF = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["tool", "results"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "rules": {
                                        "type": "array",
                                        "items": {"type": "object", "required": ["id"]},
                                        "uniqueItems": True,
                                    }
                                },
                            }
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message", "ruleId", "level"],
                            "properties": {
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "message": {"type": "object", "required": ["text"]},
                                "locations": {"type": "array", "items": LOCATION},
                                "suppressions": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["kind"],
                                        "properties": {"kind": {"enum": ["inSource", "external"]}},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


@pytest.fixture
def outputs(dpm: RunDpm, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(CASE)
    return {f: dpm("validate", "providers.d", "--format", f).out for f in ("json", "github", "sarif")}


def test_sarif_has_the_shape_code_scanning_reads(outputs: dict[str, str]) -> None:
    log = json.loads(outputs["sarif"])
    jsonschema.validate(log, SARIF)
    [run] = log["runs"]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert all(rules[r["ruleIndex"]] == r["ruleId"] for r in run["results"])


def test_every_format_reports_the_same_findings_in_the_same_order(outputs: dict[str, str]) -> None:
    diagnostics = json.loads(outputs["json"])["diagnostics"]
    from_json = [(d["file"], d["line"], d["column"], d["severity"], d["waived"]) for d in diagnostics]
    results = json.loads(outputs["sarif"])["runs"][0]["results"]
    from_sarif = [
        (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
            r["locations"][0]["physicalLocation"]["region"]["startColumn"],
            r["level"],
            r["suppressions"][0]["justification"] if "suppressions" in r else None,
        )
        for r in results
    ]
    annotations = [line for line in outputs["github"].splitlines() if line.startswith("::")]
    from_github = [
        (line.split("file=")[1].split(",")[0], int(line.split("line=")[1].split(",")[0]), line[2:].split(" ")[0])
        for line in annotations
    ]
    assert from_sarif == from_json
    assert from_github == [(f, line, severity) for f, line, _, severity, _ in from_json]
    assert len(from_json) == 12
    assert sum(waived is not None for *_, waived in from_json) == 3
