"""What an apply did, as plain data: the changes applied, failed and not attempted, what verification found still
to do, and the connectivity tests that failed. Reports read it without touching the HTTP client."""

from __future__ import annotations

from dataclasses import dataclass, field

from dpm.engine.live import LiveState
from dpm.engine.plan import Change, Kept, Plan, TestResult


@dataclass
class Outcome:
    applied: list[Change] = field(default_factory=list)
    failed: list[Change] = field(default_factory=list)
    remaining: list[Change] = field(default_factory=list)
    error: str | None = None
    moved: list[str] = field(default_factory=list)  # why the registry refused a write: what moved since the plan
    held: list[Change] = field(default_factory=list)  # gated: written, but kept not routable, since a test failed
    notes: list[str] = field(default_factory=list)  # gated: what the run could not tidy up (a canary copy left)

    @property
    def stale(self) -> bool:
        """The registry refused a write because what it would change moved since the plan was made."""
        return bool(self.moved)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Applied:
    """An apply from start to end: its outcome, what verification found still to do, and the failed tests."""

    outcome: Outcome
    left: list[Change] | None = None  # None when apply stopped before verifying
    live: LiveState | None = None
    connectivity_failures: list[str] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)  # the plan's: in scope, in the registry, not in the files
    targets: list[str] = field(default_factory=list)  # the plan's: verification looked at these only
    plan: Plan | None = None  # what was carried out
    tests: list[TestResult] = field(default_factory=list)  # a gated apply's tests, in the order they ran

    @property
    def exit_code(self) -> int:
        """0 done and verified (or nothing to do), 3 the registry refused a write because something moved, else 1."""
        if self.outcome.stale:
            return 3  # as for a stale saved plan: what was reviewed is not what the registry holds any more
        return 0 if self.ok else 1

    @property
    def ok(self) -> bool:
        return self.outcome.ok and not self.left and not self.connectivity_failures and not self.outcome.held

    @property
    def nothing_to_do(self) -> bool:
        """The plan was empty: no request was made, and there is nothing to report."""
        return self.outcome.ok and not self.outcome.applied and not self.outcome.held and self.left == []
