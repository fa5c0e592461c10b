"""Diagnostics reports: a line per problem for people, a schema'd document for tools, annotations for GitHub."""

from __future__ import annotations

import json

import jsonschema

from dpm.reports.diagnostics import GithubReporter, JsonReporter, TextReporter
from dpm.values import Diagnostic, Mark
from tests.conftest import REPO

RANGE = Diagnostic.error(
    "range", "contextLength must be at least 1", Mark("providers.d/a.yaml", 12, 20), ("models", 0, "contextLength")
)
UNSET = Diagnostic.warning(
    "secret", "secret DPM_KEY is not set", Mark("providers.d/a.yaml", 7, 13), hint="export DPM_KEY"
)
NO_FILE = Diagnostic.error("no-files", "providers.d holds no *.yaml or *.yml files", None)


def test_text_gives_each_problem_its_place_and_hint_then_a_verdict() -> None:
    text = TextReporter().report([RANGE, UNSET, NO_FILE], "1 file(s), 1 document(s)")
    assert text.splitlines() == [
        "providers.d/a.yaml:12:20: error: models[0].contextLength: contextLength must be at least 1",
        "providers.d/a.yaml:7:13: warning: secret DPM_KEY is not set",
        "    hint: export DPM_KEY",
        "dpm: error: providers.d holds no *.yaml or *.yml files",
        "1 file(s), 1 document(s): invalid, 2 error(s), 1 warning(s)",
    ]
    assert TextReporter().report([UNSET], "s").splitlines()[-1] == "s: valid, 0 error(s), 1 warning(s)"


def test_json_follows_its_published_schema_even_for_a_problem_with_no_file() -> None:
    document = json.loads(JsonReporter().report([RANGE, UNSET, NO_FILE], "1 file(s)"))
    jsonschema.validate(document, json.loads((REPO / "schemas" / "diagnostics.schema.json").read_text()))
    assert {k: document[k] for k in ("version", "valid", "summary", "errors", "warnings")} == {
        "version": 1,
        "valid": False,
        "summary": "1 file(s)",
        "errors": 2,
        "warnings": 1,
    }
    assert document["diagnostics"][2] == {
        "severity": "error",
        "code": "no-files",
        "message": "providers.d holds no *.yaml or *.yml files",
        "file": None,
        "line": None,
        "column": None,
        "path": "",
        "suggestion": None,
        "policy": None,
        "waived": None,
    }


def test_github_annotations_escape_what_would_end_a_workflow_command() -> None:
    odd = Diagnostic.error("odd", "100% wrong\r\nsecond line", Mark("dir:x/a,b.yaml", 3, 4), hint="fix: it")
    lines = GithubReporter().report([odd, NO_FILE], "2 file(s)").splitlines()
    assert lines == [
        "::error file=dir%3Ax/a%2Cb.yaml,line=3,col=4,title=dpm odd::100%25 wrong%0D%0Asecond line%0Ahint: fix: it",
        "::error title=dpm no-files::providers.d holds no *.yaml or *.yml files",
        "2 file(s): invalid, 2 error(s), 0 warning(s)",
    ]


def test_github_puts_the_path_before_the_message_and_keeps_warnings_warnings() -> None:
    (line, _) = GithubReporter().report([RANGE], "s").splitlines()
    assert line == (
        "::error file=providers.d/a.yaml,line=12,col=20,title=dpm range::"
        "models[0].contextLength: contextLength must be at least 1"
    )
    assert GithubReporter().report([UNSET], "s").startswith("::warning file=providers.d/a.yaml,line=7,col=13,")


def test_github_annotates_at_most_ten_of_each_severity_and_says_how_many_it_left_out() -> None:
    many = [Diagnostic.error("rule", f"problem {i}", Mark("a.yaml", i + 1, 1)) for i in range(12)]
    many += [Diagnostic.warning("rule", f"note {i}", Mark("a.yaml", i + 20, 1)) for i in range(3)]
    lines = GithubReporter().report(many, "1 file(s)").splitlines()
    assert sum(line.startswith("::error ") for line in lines) == 10
    assert sum(line.startswith("::warning ") for line in lines) == 3
    assert "a.yaml:11:1: error: problem 10" in lines
    assert "a.yaml:12:1: error: problem 11" in lines
    assert lines[-2] == (
        "::notice title=dpm::2 error(s) and 0 warning(s) are listed in the log without annotations: "
        "GitHub shows at most 10 of each"
    )
    assert lines[-1] == "1 file(s): invalid, 12 error(s), 3 warning(s)"
