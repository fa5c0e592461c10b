"""Notices (findings that inform, such as a model a provider offers): every diagnostics format carries them, none
counts them as a warning, and none fails on them."""

from __future__ import annotations

import json

import jsonschema

from dpm.reports.diagnostics import REPORTERS, GithubReporter, JsonReporter, TextReporter
from dpm.reports.markdown import MarkdownCheckReporter
from dpm.values import Diagnostic, Mark
from tests.conftest import REPO

RETIRED = Diagnostic.error(
    "upstream-model-missing", "model 'old' of provider 'a' is no longer listed", Mark("a.yaml", 16, 19)
)
OFFERED = Diagnostic.notice(
    "upstream-model-new", "provider 'a' offers model 'new', which the config lacks", Mark("a.yaml", 1, 1), hint="add it"
)


def test_text_shows_a_notice_and_counts_it_apart_from_warnings() -> None:
    lines = TextReporter().report([OFFERED], "check").splitlines()
    assert lines == [
        "a.yaml:1:1: notice: provider 'a' offers model 'new', which the config lacks",
        "    hint: add it",
        "check: valid, 0 error(s), 0 warning(s), 1 notice(s)",
    ]


def test_json_counts_notices_and_follows_its_published_schema() -> None:
    document = json.loads(JsonReporter().report([RETIRED, OFFERED], "check"))
    jsonschema.validate(document, json.loads((REPO / "schemas" / "diagnostics.schema.json").read_text()))
    assert (document["valid"], document["errors"], document["warnings"], document["notices"]) == (False, 1, 0, 1)


def test_github_annotates_a_notice_as_a_notice_and_sarif_as_a_note() -> None:
    github = GithubReporter().report([OFFERED], "check").splitlines()
    assert github[0].startswith("::notice file=a.yaml,line=1,col=1,title=dpm upstream-model-new::provider 'a'")
    sarif = json.loads(REPORTERS["sarif"]().report([RETIRED, OFFERED], "check"))
    assert [r["level"] for r in sarif["runs"][0]["results"]] == ["error", "note"]


def test_markdown_lists_errors_first_with_their_place() -> None:
    text = MarkdownCheckReporter().report([OFFERED, RETIRED], "dpm check of 1 provider(s)")
    assert text.startswith("### dpm check of 1 provider(s)\n\n| finding | count |\n")
    assert "| ❌ errors | 1 |\n| ℹ️ notices | 1 |\n" in text  # noqa: RUF001 - the information sign is meant
    assert text.index("`a.yaml:16:19`: model 'old'") < text.index("`a.yaml:1:1`: provider 'a' offers model 'new'")
    clean = MarkdownCheckReporter().report([], "dpm check of 1 provider(s)")
    assert clean.endswith("Every configured model is served by its provider.\n")
