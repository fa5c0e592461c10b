"""Carrying out a gated apply (see ``dpm.engine.gate``): write with the gated objects held not routable, test them
through the registry, switch what passed to active in one write, and delete the canary copies, whatever happened.

At no point is an object whose test failed (or has not run yet) routable: it is written ``testing``/``inactive``
and only the final write, which holds nothing but objects that passed, makes it ``active``. An active provider
whose new settings fail keeps its old ones, since its update is part of that final write only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from dpm.config.render import Renderer
from dpm.engine import apply, gate
from dpm.engine.live import LiveState, live_from_export
from dpm.engine.outcome import Outcome
from dpm.engine.plan import Change, Gate, GateTest, TestResult
from dpm.registry.client import RegistryClient, RegistryError

Progress = Callable[[apply.StepProgress], None]


@dataclass
class GatedRun:
    outcome: Outcome
    tests: list[TestResult] = field(default_factory=list)


def carry_out(  # noqa: PLR0917 - the plan's parts and the run's means, as apply.carry_out takes them
    changes: Sequence[Change],
    planned: Gate,
    client: RegistryClient,
    renderer: Renderer,
    progress: Progress = lambda _: None,
    max_bytes: int = apply.MAX_IMPORT_BYTES,
) -> GatedRun:
    first = gate.staged(changes, planned)
    written = apply.carry_out(apply.steps(first, max_bytes), client, renderer, progress)
    run = GatedRun(written)
    live: LiveState | None = None
    try:
        if written.ok:
            live = live_from_export(client.export())
            run.tests = _test(planned.tests, live, client, progress)
            _promote(run, changes, live, client, renderer, progress, max_bytes)
    finally:
        # Also on Ctrl-C: a canary copy must not outlive its run (one that is killed outright is removed by the next
        # plan, see gate.leftovers).
        run.outcome.notes += _remove_canaries(planned, live, client)
    run.outcome = _as_planned(run, changes)
    return run


def _test(tests: Sequence[GateTest], live: LiveState, client: RegistryClient, progress: Progress) -> list[TestResult]:
    results: list[TestResult] = []
    failed: set[str] = set()  # providers whose own test failed: their models cannot pass
    for number, test in enumerate(tests, 1):
        step = apply.StepProgress("test", number, len(tests), test.label, "sending")
        if test.owner in failed:
            reason = f"not tested: provider {test.owner} failed its test"
            results.append(TestResult(test=test, result="not-run", errors=[reason]))
            continue
        progress(step)
        result = _run_test(test, live, client)
        if test.kind == "provider" and result.result != "passed":
            failed.add(test.owner)
        timed = f"{test.label} ({result.responseTime} ms)" if result.responseTime is not None else test.label
        state: Literal["passed", "failed"] = "passed" if result.result == "passed" else "failed"
        progress(apply.StepProgress("test", number, len(tests), timed, state))
        results.append(result)
    return results


def _run_test(test: GateTest, live: LiveState, client: RegistryClient) -> TestResult:
    kind, provider, identifier = gate.subject(test)
    found = live.find(kind, identifier, provider)
    if found is None or found.get("id") is None:
        return TestResult(test=test, result="failed", errors=["the registry does not show the object to test"])
    try:
        run = client.test_provider if kind == "provider" else client.test_model
        answer = run(str(found["id"]))
    except RegistryError as exc:
        return TestResult(test=test, result="failed", errors=[f"the test could not run: {exc.message}"])
    errors = [str(e) for e in answer.get("errors") or []]
    passed = bool(answer.get("success"))
    elapsed = answer.get("responseTime")
    return TestResult(
        test=test,
        result="passed" if passed else "failed",
        responseTime=elapsed if isinstance(elapsed, int) else None,
        errors=errors if not passed or errors else [],
    )


def _promote(  # noqa: PLR0917 - the parts of one run, passed on
    run: GatedRun,
    changes: Sequence[Change],
    live: LiveState,
    client: RegistryClient,
    renderer: Renderer,
    progress: Progress,
    max_bytes: int,
) -> None:
    passed = [r.test for r in run.tests if r.result == "passed"]
    final = gate.promoted(changes, passed, live)
    if not final:
        return
    done = apply.carry_out(apply.steps(final, max_bytes), client, renderer, progress)
    if not done.ok:
        run.outcome.error = f"switching the tested objects to active failed: {done.error}"
        run.outcome.moved += done.moved


def _remove_canaries(planned: Gate, live: LiveState | None, client: RegistryClient) -> list[str]:
    """Delete the canary copies (their models first); what could not be deleted, said as a note."""
    if not planned.canaries:
        return []
    try:
        live = live if live is not None else live_from_export(client.export())
    except RegistryError as exc:
        return [f"the canary copies could not be looked up ({exc.message}); the next plan deletes them"]
    notes = []
    for change in gate.leftovers(live):
        try:
            client.delete(change.kind, str(change.liveId), change.etag)
        except RegistryError as exc:
            if exc.status != 404:
                notes.append(
                    f"{change.kind} {change.key} could not be deleted ({exc.message}); the next plan deletes it"
                )
    return notes


def _as_planned(run: GatedRun, changes: Sequence[Change]) -> Outcome:
    """The outcome in the plan's terms: canary copies left out, and each change applied, held (written, not
    routable, since its test failed or its switch to active failed) or not attempted."""
    written, outcome = run.outcome, Outcome(error=run.outcome.error, moved=run.outcome.moved, notes=run.outcome.notes)
    sent = {(c.kind, c.key) for c in written.applied if not gate.is_canary_change(c)}
    tests: dict[tuple[str, str], TestResult] = {(r.test.kind, r.test.key): r for r in run.tests}
    promoted = outcome.ok
    for change in changes:
        key = (change.kind, change.key)
        test = tests.get(key)
        held_back = test is not None and test.test.kind == "provider" and test.test.canary is not None
        if key in sent or (held_back and written.ok):
            if test is None or (test.result == "passed" and promoted):
                outcome.applied.append(change)
            else:
                outcome.held.append(change)
        elif any(key == (c.kind, c.key) for c in written.failed):
            outcome.failed.append(change)
        else:
            outcome.remaining.append(change)
    return outcome
