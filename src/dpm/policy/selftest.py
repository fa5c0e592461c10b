"""``dpm policy test``: each policy's fixture cases, run like unit tests.

A case gives an object (or a change) and the paths where the rule must fail on it; it passes when the rule fails
at exactly those paths. A run in which no case ran is a failure, not a pass: a policy check that tested nothing
must not read as green.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dpm.policy.load import Policy
from dpm.values import Mark, format_path


@dataclass(frozen=True)
class Outcome:
    policy: str
    case: str
    mark: Mark
    expected: tuple[str, ...]
    got: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return self.expected == self.got


def run_cases(policies: Sequence[Policy]) -> list[Outcome]:
    outcomes = []
    for policy in policies:
        for case, mark in policy.tests:
            got = tuple(sorted({format_path(v.path) for v in policy.rule.violations(case.input)}))
            outcomes.append(Outcome(policy.name, case.name, mark, tuple(sorted(set(case.fails))), got))
    return outcomes


def report(outcomes: Sequence[Outcome], untested: Sequence[str]) -> str:
    lines = []
    for outcome in outcomes:
        where = f"{outcome.mark.file}:{outcome.mark.line}:{outcome.mark.column}"
        if outcome.passed:
            lines.append(f"ok    {where}: {outcome.policy}: {outcome.case}")
        else:
            lines.append(
                f"FAIL  {where}: {outcome.policy}: {outcome.case}: expected the rule to fail at "
                f"{_paths(outcome.expected)}, it failed at {_paths(outcome.got)}"
            )
    failed = sum(not o.passed for o in outcomes)
    lines.append(f"{len(outcomes)} case(s): {len(outcomes) - failed} passed, {failed} failed")
    if untested:
        lines.append(f"policies without cases: {', '.join(untested)}")
    return "\n".join(lines)


def _paths(paths: Sequence[str]) -> str:
    return ", ".join(repr(p) for p in paths) if paths else "nothing"
