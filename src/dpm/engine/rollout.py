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
    promoted: set[tuple[str, str]] = field(default_factory=set)  # (kind, key) the final write made active


def carry_out(  # noqa: PLR0917 - the plan's parts and the run's means, as apply.carry_out takes them
    changes: Sequence[Change],
    planned: Gate,
    client: RegistryClient,
    renderer: Renderer,
    progress: Progress = lambda _: None,
    max_bytes: int = apply.MAX_IMPORT_BYTES,
) -> GatedRun:
    first = gate.staged(changes, planned)
    # A canary an earlier run left behind goes first: the copy this run makes may bear its name.
    leftover = [c for c in first if gate.removes_canary(c)]
    rest = [c for c in first if not gate.removes_canary(c)]
    run = GatedRun(Outcome())
    live: LiveState | None = None
    try:
        steps = apply.steps(leftover, max_bytes) + apply.steps(rest, max_bytes)
        for step in steps:
            step.relies_on = gate.relied_on(step.changes, planned)
        run.outcome = apply.carry_out(steps, client, renderer, progress)
        if run.outcome.ok:
            live = live_from_export(client.export())
            run.tests = _test(planned.tests, live, client, progress)
            _promote(run, changes, live, client, renderer, progress, max_bytes)
    finally:
        # Also on Ctrl-C or SIGTERM, from the first write on: a canary copy must not outlive its run (one that is
        # killed outright is removed by the next plan, see gate.leftovers).
        run.outcome.notes += _remove_canaries(planned, live, client)
    run.outcome = _as_planned(run, changes, planned)
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
    run.promoted = {(c.kind, c.key) for c in done.applied}
    if not done.ok:
        run.outcome.error = f"switching the tested objects to active failed: {done.error}"
        run.outcome.moved += done.moved


def _remove_canaries(planned: Gate, live: LiveState | None, client: RegistryClient) -> list[str]:
    """Delete this run's canary copies (their models first), and only those: another run's may be under test right
    now. What could not be deleted is said as a note."""
    own = set(planned.canaries)
    if not own:
        return []
    try:
        live = live if live is not None else live_from_export(client.export())
    except RegistryError as exc:
        return [f"the canary copies could not be looked up ({exc.message}); the next plan deletes them"]
    notes = []
    for change in gate.leftovers(live):
        if (change.provider or change.identifier) not in own:
            continue
        try:
            client.delete(change.kind, str(change.liveId), change.etag)
        except RegistryError as exc:
            if exc.status != 404:
                notes.append(
                    f"{change.kind} {change.key} could not be deleted ({exc.message}); the next plan deletes it"
                )
    return notes


def _as_planned(run: GatedRun, changes: Sequence[Change], planned: Gate) -> Outcome:
    """The outcome in the plan's terms, canary copies left out. A change the gate tests counts as applied only when
    its test passed and the final write made it active; written but not made active, it is held (not routable, or
    for an active provider's new settings, not written at all)."""
    written = run.outcome
    outcome = Outcome(error=written.error, moved=written.moved, notes=written.notes)
    # (action, kind, key): a leftover canary's delete and this run's canary create share kind and key.
    sent = {(c.action, c.kind, c.key) for c in written.applied}
    refused = {(c.action, c.kind, c.key) for c in written.failed}
    gated: dict[tuple[str, str], GateTest] = {(t.kind, t.key): t for t in planned.tests}
    passed = {(r.test.kind, r.test.key) for r in run.tests if r.result == "passed"}
    for change in changes:
        key, ident = (change.kind, change.key), (change.action, change.kind, change.key)
        test = gated.get(key)
        settings_only = test is not None and test.kind == "provider" and test.canary is not None
        if test is None:
            target = outcome.applied if ident in sent else outcome.failed if ident in refused else outcome.remaining
        elif ident in sent or (settings_only and run.tests):
            target = outcome.applied if key in passed and key in run.promoted else outcome.held
        else:
            target = outcome.failed if ident in refused else outcome.remaining
        target.append(change)
    return outcome
