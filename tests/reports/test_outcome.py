"""What an apply did, told truthfully: what was applied, what failed, what was never tried, and what is left."""

from __future__ import annotations

from typing import get_args

from dpm.engine.outcome import Applied, Outcome
from dpm.engine.plan import Change, Kept
from dpm.reports.outcome import RESULTS, Result, Verification, apply_report, outcome_summary

ACME = Change(action="create", kind="provider", identifier="acme")
SMALL = Change(action="create", kind="model", provider="acme", identifier="small")
BETA = Change(action="update", kind="provider", identifier="beta")
OLD = Change(action="delete", kind="provider", identifier="old")


def test_a_half_applied_change_is_reported_as_exactly_that() -> None:
    outcome = Outcome(
        applied=[ACME, SMALL],
        failed=[BETA],
        remaining=[OLD],
        error="import of 1 change(s) failed: POST /admin/providers/import: 422 VALIDATION_ERROR: Validation failed",
    )
    assert outcome_summary(Applied(outcome)).splitlines() == [
        "Applied 2 change(s):",
        "  + provider acme",
        "  + model acme/small",
        "Failed: import of 1 change(s) failed: POST /admin/providers/import: 422 VALIDATION_ERROR: Validation failed",
        "  not applied: ~ provider beta",
        "Not attempted (1):",
        "  - provider old",
        "Run dpm apply again to converge: changes already applied plan to nothing.",
    ]


def test_a_failure_on_the_first_step_with_nothing_after_it_lists_only_the_failure() -> None:
    outcome = Outcome(failed=[OLD], error="delete provider old failed: 412 PRECONDITION_FAILED")
    assert outcome_summary(Applied(outcome)).splitlines() == [
        "Failed: delete provider old failed: 412 PRECONDITION_FAILED",
        "  not applied: - provider old",
        "Run dpm apply again to converge: changes already applied plan to nothing.",
    ]


def test_a_verified_apply_says_the_registry_matches() -> None:
    summary = outcome_summary(Applied(Outcome(applied=[BETA]), left=[]))
    assert summary.splitlines() == [
        "Applied 1 change(s):",
        "  ~ provider beta",
        "Verified: the registry matches the configuration.",
    ]


def test_changes_still_to_make_after_apply_are_named() -> None:
    summary = outcome_summary(Applied(Outcome(applied=[ACME, BETA]), left=[BETA]))
    assert summary.splitlines()[-2:] == ["Verification found 1 change(s) still to make:", "  ~ provider beta"]


def test_failed_connectivity_tests_follow_the_verification() -> None:
    applied = Applied(Outcome(applied=[ACME]), left=[], connectivity_failures=["acme: 401 from the provider"])
    assert outcome_summary(applied).splitlines()[-2:] == [
        "Verified: the registry matches the configuration.",
        "connectivity test failed: acme: 401 from the provider",
    ]


def test_verified_says_matches_only_when_nothing_in_scope_was_kept() -> None:
    kept = [Kept(kind="provider", identifier="old-lab", models=2)]
    summary = outcome_summary(Applied(Outcome(applied=[ACME]), left=[], kept=kept))
    assert "matches" not in summary
    assert "the registry also holds 1 object(s) in scope that the files lack (kept; --prune deletes them)" in summary


def test_the_json_outcome_names_each_result_with_its_exit_code() -> None:
    failed = apply_report(Applied(Outcome(applied=[ACME], failed=[BETA], remaining=[OLD], error="500")), "registry x")
    assert (failed.result, failed.exitCode) == ("failed", 1)
    assert [c.identifier for c in failed.notAttempted] == ["old"]
    assert failed.verification == Verification(performed=False, matches=False)
    left = apply_report(Applied(Outcome(applied=[ACME]), left=[SMALL]), "registry x")
    assert (left.result, left.exitCode, left.verification.changesLeft[0].provider) == ("changes-left", 1, "acme")
    targeted = apply_report(Applied(Outcome(applied=[ACME]), left=[], targets=["provider/acme"]), "registry x")
    assert (targeted.result, targeted.exitCode, targeted.verification.matches) == ("applied", 0, False)
    kept = apply_report(Applied(Outcome(), left=[], kept=[Kept(kind="provider", identifier="old")]), "registry x")
    assert (kept.result, kept.verification.matches) == ("nothing-to-do", False)
    moved = apply_report(Applied(Outcome(remaining=[BETA], error="stale", moved=["provider beta changed"])), "x")
    assert (moved.result, moved.exitCode) == ("moved", 3)
    assert set(RESULTS) == set(get_args(Result))  # every result is documented in the schema
