"""Markdown reports for pull-request comments and issues: whole when small, cut to fit GitHub when large, and no value
can break out of its fence."""

from __future__ import annotations

from pathlib import Path

from dpm.engine.drift import DriftReport, Finding
from dpm.engine.plan import Change, FieldChange, Plan, RequestCost
from dpm.reports import markdown
from dpm.reports.markdown import MarkdownDriftReporter, MarkdownPlanReporter


def _big_plan(count: int) -> Plan:
    changes = [
        Change(
            action="update",
            kind="provider",
            identifier=f"provider-{i:05d}",
            fields=[FieldChange(path="description", before="x" * 200, after="y" * 200)],
        )
        for i in range(count)
    ]
    return Plan(target="registry http://r/api", changes=changes, requests=RequestCost(plan=1, apply=3))


def test_a_large_plan_comment_is_truncated_to_fit_github(tmp_path: Path) -> None:
    comment = MarkdownPlanReporter(saved_as=tmp_path / "plan.json").report(_big_plan(2000))
    assert len(comment) < 65_000
    assert comment.startswith("### dpm plan for the registry http://r/api")
    assert "| providers | 0 | 2000 | 0 |" in comment
    assert "more object(s) not shown here" in comment
    assert f"The full plan is in `{tmp_path / 'plan.json'}` (JSON)." in comment
    assert comment.count("<details>") == comment.count("</details>")


def test_a_small_plan_comment_is_whole_and_badged() -> None:
    plan = Plan(
        target="registry http://r/api",
        changes=[Change(action="delete", kind="provider", identifier="old", fields=[])],
        requests=RequestCost(plan=1, apply=3),
    )
    comment = MarkdownPlanReporter().report(plan)
    assert "⚠️ <b>delete</b>" in comment
    assert "not shown" not in comment


def test_values_cannot_break_out_of_the_comment_fence() -> None:
    field = FieldChange(path="description", before="a", after="```\n</details>")
    plan = Plan(
        target="t",
        changes=[Change(action="update", kind="provider", identifier="p", fields=[field])],
        requests=RequestCost(plan=1, apply=1),
    )
    comment = MarkdownPlanReporter().report(plan)
    assert "````diff" in comment


def test_drift_markdown_truncates_too() -> None:
    findings = [Finding(kind="unmanaged", object="provider", key=f"p{i}", fields=[]) for i in range(20_000)]
    comment = MarkdownDriftReporter().report(DriftReport(target="t", findings=findings))
    assert len(comment) < markdown.MAX_CHARS + 5_000
