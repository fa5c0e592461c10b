"""Drift reports: one line per finding with what to compare, secrets only as "changed", and a closing count."""

from __future__ import annotations

import json

from dpm.engine.drift import DriftReport, Finding
from dpm.engine.plan import FieldChange, SecretNote
from dpm.reports.drift import DRIFT_REPORTERS, JsonDriftReporter, TextDriftReporter

CANARY = "sk-canary-drift-report-5a6b7c"


def drifted(secret: str = "(sensitive value)") -> DriftReport:
    changed = Finding(
        kind="changed",
        object="provider",
        key="acme",
        fields=[
            FieldChange(path="authConfig.fields.apiKey", before=secret, after=f"{secret}, rotated"),
            FieldChange(path="capabilities.supportedRoles", before=["user"], after=["system", "user"]),
            FieldChange(path="name", before="Acme", after="Acme (edited in the UI)"),
        ],
        secrets=[SecretNote(field="apiKey", status="changed")],
    )
    deleted = Finding(kind="deleted", object="model", key="acme/small")
    unmanaged = Finding(
        kind="unmanaged", object="provider", key="team-new", fields=[FieldChange(path="name", before="New")]
    )
    return DriftReport(
        target="registry http://r/api",
        liveRevision=12,
        findings=[changed, deleted, unmanaged],
        warnings=["acme: cannot tell whether secret authConfig.fields.token changed"],
    )


def test_the_text_report_names_each_finding_and_what_differs() -> None:
    # A secret field is masked by its path, whatever its values: even one that should never reach a report.
    text = TextDriftReporter().report(drifted(secret=CANARY))
    assert text.splitlines() == [
        "dpm drift for registry http://r/api (revision 12)",
        "",
        "~ provider acme: changed outside git",
        "    authConfig.fields.apiKey: (sensitive value changed)",
        '    capabilities.supportedRoles: git ["user"], registry ["system", "user"]',
        '    name: git "Acme", registry "Acme (edited in the UI)"',
        "- model acme/small: deleted outside git",
        "? provider team-new: unmanaged, new in scope",
        "",
        "Drift: 1 changed outside git, 1 deleted outside git, 1 unmanaged, new in scope.",
        "warning: acme: cannot tell whether secret authConfig.fields.token changed",
    ]
    assert CANARY not in text


def test_no_drift_says_the_registry_matches_git() -> None:
    text = TextDriftReporter().report(DriftReport(target="registry http://r/api"))
    assert text.splitlines() == [
        "dpm drift for registry http://r/api",
        "",
        "No drift: the registry matches git.",
        "",
        "Drift: none.",
    ]


def test_the_json_report_is_versioned_and_reads_back_whole() -> None:
    report = drifted()
    document = json.loads(JsonDriftReporter().report(report))
    assert document["formatVersion"] == 1
    assert [f["kind"] for f in document["findings"]] == ["changed", "deleted", "unmanaged"]
    assert DriftReport.model_validate(document) == report


def test_every_format_names_every_finding() -> None:
    assert sorted(DRIFT_REPORTERS) == ["json", "markdown", "text"]
    for reporter in DRIFT_REPORTERS.values():
        shown = reporter().report(drifted())
        assert all(key in shown for key in ("acme", "acme/small", "team-new")), reporter
