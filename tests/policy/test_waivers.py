"""Waivers: a table of waivers, each against the same finding, and what becomes of the finding."""

from __future__ import annotations

import datetime

import pytest

from dpm.policy.load import WaiverEntry
from dpm.policy.waivers import Finding, apply_waivers
from dpm.values import Diagnostic, Mark

TODAY = datetime.date(2026, 11, 30)
FINDING = Finding(
    Diagnostic.error("policy", "provider acme breaks policy https-only", Mark("a.yaml", 4, 14), ("apiEndpoint",)),
    "https-only",
    "acme",
    "apiEndpoint",
)


def waiver(**changes: object) -> WaiverEntry:
    fields: dict[str, object] = {
        "policy": "https-only",
        "identifier": "acme",
        "path": None,
        "environments": None,
        "reason": "the lab has no certificate yet",
        "expires": datetime.date(2027, 1, 31),
        "mark": Mark("dpm.yaml", 3, 5),
    }
    return WaiverEntry(**(fields | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("entry", "environment", "severity", "says"),
    [
        pytest.param(waiver(), None, "warning", "waived until 2027-01-31", id="valid"),
        pytest.param(waiver(expires="2027-01-31"), None, "warning", "waived until 2027-01-31", id="valid-as-text"),
        pytest.param(waiver(expires=TODAY), None, "warning", "waived until", id="expires-today"),
        pytest.param(
            waiver(reason=None), None, "error", "dpm.yaml:3:5 does not apply: it has no reason", id="no-reason"
        ),
        pytest.param(waiver(reason="  "), None, "error", "it has no reason", id="blank-reason"),
        pytest.param(waiver(expires=None), None, "error", "it has no expires date", id="no-date"),
        pytest.param(waiver(expires="31/01/2027"), None, "error", "'31/01/2027' is not a date", id="malformed"),
        pytest.param(
            waiver(expires=datetime.date(2026, 11, 29)), None, "error", "it expired on 2026-11-29", id="expired"
        ),
        pytest.param(waiver(identifier="other"), None, "error", None, id="another-object"),
        pytest.param(waiver(policy="other"), None, "error", None, id="another-policy"),
        pytest.param(waiver(path="apiEndpoint"), None, "warning", "waived", id="this-field"),
        pytest.param(waiver(path="description"), None, "error", None, id="another-field"),
        pytest.param(waiver(environments=("prod",)), "prod", "warning", "waived", id="this-environment"),
        pytest.param(waiver(environments=("prod",)), "staging", "error", None, id="another-environment"),
        pytest.param(waiver(environments=("prod",)), None, "error", None, id="no-environment"),
    ],
)
def test_a_waiver_applies_only_with_a_reason_and_a_date_not_past(
    entry: WaiverEntry, environment: str | None, severity: str, says: str | None
) -> None:
    [result] = apply_waivers([FINDING], [entry], environment, TODAY)
    assert result.severity == severity
    assert result.policy is None or result.policy == "https-only"
    if says is None:
        assert result == FINDING.diagnostic  # the waiver is about something else: the finding stands, untouched
    else:
        assert says in result.message
        assert FINDING.diagnostic.message in result.message
    assert (result.waived is not None) == (severity == "warning")
    if result.waived is not None:
        assert result.waived == "the lab has no certificate yet"
        assert "waiver reason: the lab has no certificate yet" in result.message


def test_one_valid_waiver_among_broken_ones_is_enough() -> None:
    [result] = apply_waivers([FINDING], [waiver(reason=None), waiver()], None, TODAY)
    assert result.severity == "warning"
