"""The pipeline, top to bottom: files → desired → live → diff → plan → apply → verify.

Every command is a thin layer over these functions: it parses its options, calls one of them, and reports what
comes back. Nothing here prints or asks; what a run needs from the person at the terminal (to see the plan, to
say yes, to follow progress) comes in as a ``Conversation``.

    compile_config   files ─load─▶ documents ─render─▶ ─validate─▶ ─compile─▶ desired state      (no network)
    read_ahead       live state (login, one export), read on a thread while the config compiles
    make_plan        desired state + live state ─diff─▶ Plan, with bodies, cost and checksum
    apply_config     make_plan, then carry it out ─▶ refresh ─▶ export ─▶ verify against the desired state
    apply_saved      a reviewed Plan: still fresh? ─▶ carry it out ─▶ verify against the plan's own objects
    detect_drift     desired state + live state ─▶ DriftReport
    check_upstream   desired state + live state (one export) ─▶ one connectivity test per provider ─▶ findings
    dump_registry    live state ─▶ config files
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from dpm import redaction
from dpm.config import prepare
from dpm.config.cache import CompileCache
from dpm.config.compile import DesiredState, compile_state
from dpm.config.load import read_sources
from dpm.config.project import Project, load_project
from dpm.config.render import Renderer
from dpm.engine import apply, gate, payload, rollout, targets, upstream
from dpm.engine.diff import diff, kept
from dpm.engine.drift import DriftReport, detect
from dpm.engine.dump import Dumped, dump
from dpm.engine.live import LiveState, live_from_export
from dpm.engine.outcome import Applied, Outcome
from dpm.engine.plan import Change, Kept, Plan, RequestCost, TestResult, count
from dpm.errors import DpmError, UsageError
from dpm.policy.evaluate import Guard, plan_refusal
from dpm.registry import ahead
from dpm.registry.client import RegistryClient, RegistryError
from dpm.registry.targets import Session
from dpm.values import Diagnostic, Ownership, has_errors


class StalePlan(DpmError):
    """A saved plan that touches objects which moved since it was made; nothing was applied."""

    exit_code = 3

    def __init__(self, message: str, hint: str, *, plan: Plan, moved: Sequence[str]) -> None:
        super().__init__(message, hint)
        self.plan = plan
        self.moved = list(moved)

    def as_applied(self) -> Applied:
        """The refusal as an apply that stopped before its first write, for reports that list what happened."""
        outcome = Outcome(remaining=list(self.plan.changes), error=self.message.partition(":")[0], moved=self.moved)
        return Applied(outcome, kept=list(self.plan.kept), targets=list(self.plan.targets), plan=self.plan)


# ── files → desired state ────────────────────────────────────────────────────────────────────────────────────────


@dataclass
class CompiledConfig:
    project: Project
    state: DesiredState
    files: list[str] = field(default_factory=list)
    documents: int = 0
    diagnostics: list[Diagnostic] = field(default_factory=list)
    guard: Guard = field(default_factory=Guard)  # the project's policies, for the plans made from this config

    @property
    def valid(self) -> bool:
        return not has_errors(self.diagnostics)

    @property
    def summary(self) -> str:
        return f"{len(self.files)} file(s), {self.documents} document(s)"

    def gated(self, gate: bool | None = None) -> bool:
        """Whether apply goes through the gate; ``gate`` (the command line's) wins over the project's rollout."""
        return self.project.settings.rollout == "gated" if gate is None else gate

    def ownership(self, prune: bool | None = None) -> Ownership:
        """The providers this config owns; ``prune`` (the command line's) wins over the project's setting."""
        settings = self.project.settings
        return Ownership(tuple(settings.scope), settings.prune if prune is None else prune)


def compile_config(
    paths: Sequence[str],
    *,
    environment: str | None = None,
    variables: Sequence[str] = (),
    require_secrets: bool = False,
    environ: Mapping[str, str] | None = None,
    stdin: BinaryIO | None = None,
    waivers: bool = True,
    cache: bool = False,
) -> CompiledConfig:
    """Load, render, validate and compile the config that ``paths`` name. Needs no network.

    With ``cache``, each file's rendered and validated documents are kept in, and taken from, the compile cache
    under the project's ``.dpm/`` (see ``dpm.config.cache``); the result is the same either way.
    """
    project, problems = load_project(paths, environment, variables)
    sources, found = read_sources(paths, stdin)
    problems += found
    decoded, secret_names = prepare.secret_names(sources)
    renderer = Renderer(project.vars, os.environ if environ is None else environ, secret_names)
    store = CompileCache.under(project.root or Path.cwd(), environment) if cache else CompileCache.off()
    prepared = prepare.prepare(decoded, renderer, store, variables=project.vars, environment=environment)
    problems += prepared.diagnostics
    state, found = compile_state(prepared.checked, require_secrets=require_secrets)
    problems += found
    guard = Guard.load(project, prepared.checked, waivers=waivers)
    problems += guard.check_config(state)
    problems.sort(key=Diagnostic.sort_key)
    return CompiledConfig(project, state, prepared.files, prepared.documents, problems, guard)


# ── desired + live → plan ────────────────────────────────────────────────────────────────────────────────────────


def read_live(client: RegistryClient) -> LiveState:
    """The whole registry, in one request."""
    return live_from_export(client.export())


LiveRead = ahead.Ahead[LiveState]


def read_ahead(client: RegistryClient) -> AbstractContextManager[LiveRead]:
    """The whole registry, read on a thread for the length of the block (``dpm.registry.ahead``): a command starts
    it before it compiles the config, and the read's waiting for the registry hides behind the compiling."""
    return ahead.reading(client, read_live)


def compare(
    desired: DesiredState, live: LiveState, owner: Ownership, chosen: Sequence[str] = (), *, verifying: bool = False
) -> tuple[list[Change], list[str], list[Kept]]:
    """The diff of the two states, narrowed to the ``chosen`` targets when there are any: the changes, the warnings,
    and what the registry holds in scope that the files lack (kept, since prune is off)."""
    if not chosen:
        changes, warnings = diff(desired, live, owner)
        return changes, warnings, kept(desired, live, owner)
    selection = targets.select(chosen, desired, live, check=not verifying)
    desired, live = targets.narrow(desired, live, selection)
    changes, warnings = diff(desired, live, owner)
    changes = [c for c in changes if selection.keeps(c)]
    return (
        changes,
        targets.warnings_within(warnings, changes, selection),
        targets.kept_within(kept(desired, live, owner), selection),
    )


def make_plan(
    config: CompiledConfig,
    read: LiveRead,
    target: str,
    owner: Ownership,
    *,
    max_bytes: int | None = None,
    registry: str | None = None,
    chosen: Sequence[str] = (),
    gated: bool = False,
) -> Plan:
    """Diff the registry (``read``: one export) against the config: the changes, their request bodies and their
    cost.

    With ``chosen`` targets (``provider/ID``, ``model/PROVIDER/MODEL``, ``template/NAME``), only those objects and
    what they need are compared; the plan records them. ``gated``: what makes an object routable is tested first
    (``dpm.engine.gate``); the plan records the tests and their cost. Canary copies that an interrupted gated apply
    left behind are deleted by any plan.
    """
    live, client = read.result(), read.client
    changes, warnings, left_alone = compare(config.state, live, owner, chosen)
    changes = [c.model_copy(update={"body": payload.body(c, config.state)}) for c in changes]
    leftovers = gate.leftovers(live)
    changes += leftovers
    warnings += gate.leftover_warnings(leftovers)
    tests = gate.plan_gate(changes, live) if gated else None
    steps = apply.steps(changes, max_bytes or apply.MAX_IMPORT_BYTES)
    rate = client.rate
    cost = RequestCost(
        plan=client.requests - read.requests_before,
        # then refresh-registry, and one export to verify; and what the gate adds
        apply=len(steps) + (2 if changes else 0) + (tests.requests if tests else 0),
        remaining=rate.remaining,
        limit=rate.limit,
        resetsAt=rate.reset,
    )
    if cost.remaining is not None and cost.apply > cost.remaining:
        warnings.append(
            f"applying this plan costs {cost.apply} requests, more than the {cost.remaining} left in the registry's "
            "rate-limit window: apply will wait for the next window when they run out (up to --max-wait)"
        )
    plan = Plan(
        target=target,
        registry=registry,
        liveRevision=live.revision,
        changes=changes,
        counts=count(changes),
        warnings=warnings,
        kept=left_alone,
        targets=[str(t) for t in targets.parse_all(chosen)],
        requests=cost,
        vars=dict(config.project.vars),
        gate=tests,
    )
    return config.guard.check_plan(plan).sealed()


# ── plan → apply → verify ────────────────────────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Conversation:
    """What carrying out a plan needs from whoever runs it. ``confirm`` raises to say no."""

    show: Callable[[Plan], None] = lambda _: None
    confirm: Callable[[str], None] = lambda _: None
    progress: Callable[[apply.StepProgress], None] = lambda _: None


def apply_config(
    config: CompiledConfig,
    session: Session,
    read: LiveRead,
    owner: Ownership,
    *,
    max_deletes: int | None,
    test_connectivity: bool = False,
    conversation: Conversation = Conversation(),
    chosen: Sequence[str] = (),
    gated: bool = False,
) -> Applied:
    """Plan the config (narrowed to the ``chosen`` targets) against the registry, show the plan, and carry it out
    once confirmed; ``gated``, with the gate of ``dpm.engine.gate``."""
    made = make_plan(config, read, session.target, owner, registry=session.url, chosen=chosen, gated=gated)
    return _carry_out(made, config.state, session, owner, max_deletes, test_connectivity, conversation)


def apply_saved(
    saved: Plan,
    session: Session,
    *,
    max_deletes: int | None,
    test_connectivity: bool = False,
    conversation: Conversation = Conversation(),
) -> Applied:
    """Carry out exactly a reviewed plan, after checking (one request) that nothing it touches has moved."""
    if session.target != saved.target:
        raise UsageError(f"the plan was made for the {saved.target}, not the {session.target}")
    check_fresh(saved, read_live(session.client))
    return _carry_out(saved, None, session, Ownership(), max_deletes, test_connectivity, conversation)


def _carry_out(  # noqa: PLR0917 - the two public entry points above pass their arguments through
    made: Plan,
    state: DesiredState | None,
    session: Session,
    owner: Ownership,
    max_deletes: int | None,
    test_connectivity: bool,
    conversation: Conversation,
) -> Applied:
    conversation.show(made)
    if made.empty:
        return Applied(Outcome(), left=[], kept=list(made.kept), targets=list(made.targets), plan=made)
    renderer = renderer_for(made)
    check_applicable(made, renderer, max_deletes)
    conversation.confirm(session.target)
    applied = run_apply(made, state, session.client, owner, progress=conversation.progress, renderer=renderer)
    if test_connectivity and applied.outcome.ok and not applied.left:
        applied.connectivity_failures = connectivity_failures(applied, session.client)
    applied.plan = made
    return applied


def renderer_for(plan: Plan, environ: Mapping[str, str] | None = None) -> Renderer:
    """Resolves a plan's secret markers from the environment apply runs in."""
    return Renderer(plan.vars, os.environ if environ is None else environ)


def blocked(plan: Plan, renderer: Renderer | None = None) -> DpmError | None:
    """Why apply of ``plan`` would fail or must not run, or None: a plan that says so fails, rather than passing
    review and failing on merge.

    - a secret it needs is not in the environment (every secret of a create, each secret an update adds, and every
      secret of a provider whose new settings the gate tests on a canary copy);
    - it holds the value of a known secret outside the secret markers, which apply would store in clear.
    """
    refused = plan_refusal(plan)
    if refused is not None:
        return DpmError(*refused)
    renderer = renderer or renderer_for(plan)
    unset = apply.unset_secrets(plan.changes, renderer)
    if plan.gate is not None:
        unset += gate.canary_unset(plan.changes, plan.gate, renderer)
    if unset:
        return DpmError(
            "this plan cannot be applied: " + "; ".join(unset), "export the missing DPM_* secrets and run again"
        )
    leaked = redaction.found_in("\0".join(plan.strings()))
    if leaked:
        return DpmError(
            f"this plan cannot be applied: it holds the value of secret {', '.join(leaked)} in a field that is not "
            "a secret, which the registry would store in clear",
            "read a secret only as ${{ secret.… }} in a secret field (apiKey, clientSecret, …), never as a literal",
        )
    return None


def check_applicable(plan: Plan, renderer: Renderer, max_deletes: int | None) -> None:
    """Refuse, before any write, what is sure to fail or needs saying yes to twice."""
    problem = blocked(plan, renderer)
    if problem is not None:
        raise problem
    # Canary copies left behind by an interrupted gated apply are dpm's own: removing them needs nobody's consent.
    deletes = sum(1 for c in plan.changes if c.action == "delete" and not gate.removes_canary(c))
    if max_deletes is not None and deletes > max_deletes:
        raise DpmError(
            f"the plan deletes {deletes} objects, more than maxDeletes ({max_deletes}) allows",
            f"review the deletes, then pass --allow-deletes {deletes}",
        )


def run_apply(
    plan: Plan,
    state: DesiredState | None,
    client: RegistryClient,
    owner: Ownership,
    *,
    progress: Callable[[apply.StepProgress], None] = lambda _: None,
    max_bytes: int | None = None,
    renderer: Renderer | None = None,
) -> Applied:
    """Carry the plan out, then refresh the registry and re-read it to find the changes left (ideally none).

    Without the desired ``state`` (a saved plan), verification checks the plan's own objects instead.
    """
    renderer = renderer or renderer_for(plan)
    limit = max_bytes or apply.MAX_IMPORT_BYTES
    tests: list[TestResult] = []
    if plan.gate is not None and plan.gate.tests:
        run = rollout.carry_out(plan.changes, plan.gate, client, renderer, progress, limit)
        outcome, tests = run.outcome, run.tests
    else:
        outcome = apply.carry_out(apply.steps(plan.changes, limit), client, renderer, progress)
    if not outcome.ok:
        return Applied(outcome, tests=tests)
    client.refresh_registry()
    live = read_live(client)
    left = _missing(plan, live) if state is None else compare(state, live, owner, plan.targets, verifying=True)[0]
    # What the gate held back is reported as such (with its test), not as a change verification found left.
    held = {(c.kind, c.key) for c in outcome.held}
    left = [c for c in left if (c.kind, c.key) not in held]
    return Applied(outcome, left, live, kept=list(plan.kept), targets=list(plan.targets), tests=tests)


def _missing(plan: Plan, live: LiveState) -> list[Change]:
    """The plan's changes that the registry does not show as done."""
    return [c for c in plan.changes if (live.find(c.kind, c.identifier, c.provider) is None) != (c.action == "delete")]


def check_fresh(plan: Plan, live: LiveState) -> None:
    """Refuse a saved plan when any object it touches, or a provider its gate relied on, moved since it was made;
    unrelated changes do not count."""
    moved = []
    for change in plan.changes:
        current = payload.live_version(live.find(change.kind, change.identifier, change.provider))
        expected = None if change.action == "create" else change.liveVersion
        if current != expected:
            moved.append(apply.describe_move(change, present=current is not None))
    for provider in plan.gate.untestedUnder if plan.gate is not None else ():
        if (live.providers.get(provider.identifier) or {}).get("etag") != provider.etag:
            moved.append(apply.describe_relied_on("provider", provider.identifier))
    if moved:
        raise StalePlan(
            "the saved plan is stale; nothing was applied:\n    - " + "\n    - ".join(moved),
            "make a new plan, review it, and apply that",
            plan=plan,
            moved=moved,
        )


def connectivity_failures(applied: Applied, client: RegistryClient) -> list[str]:
    """Run the registry's connectivity test for every provider the apply created or changed; the failures."""
    assert applied.live is not None
    touched = {c.provider or c.identifier for c in applied.outcome.applied if c.kind != "template"}
    failures = []
    for identifier in sorted(touched):
        provider = applied.live.providers.get(identifier)
        if provider is None:
            continue
        try:
            result = client.test_provider(str(provider["id"]))
        except RegistryError as exc:
            # The changes are written either way; a test the registry could not run is a failed test, reported
            # beside what was applied rather than instead of it.
            failures.append(f"{identifier}: the test could not run: {exc.message}")
            continue
        if not result.get("success"):
            errors = "; ".join(str(e) for e in result.get("errors") or []) or "no reason given"
            failures.append(f"{identifier}: {errors}")
    return failures


# ── desired + live → drift; live → files ─────────────────────────────────────────────────────────────────────────


def detect_drift(config: CompiledConfig, session: Session, read: LiveRead) -> DriftReport:
    """What changed in the registry outside git (``read``: one export)."""
    return detect(config.state, read.result(), tuple(config.project.settings.scope), session.target)


def dump_registry(project: Project, session: Session, select: Sequence[str] = ()) -> Dumped:
    """The live registry as config files: one per provider in scope, one per custom template; only those that the
    ``select`` patterns match, when there are any."""
    return dump(read_live(session.client), Ownership(tuple(project.settings.scope)), session.target, select)


# ── desired + what the providers serve → findings ────────────────────────────────────────────────────────────────


@dataclass
class UpstreamCheck:
    """What ``dpm check`` found: the providers it tested, the findings, and the requests it cost."""

    target: str
    providers: list[str]
    findings: list[Diagnostic]
    requests: int

    @property
    def summary(self) -> str:
        return f"dpm check of {len(self.providers)} provider(s) in the {self.target} ({self.requests} request(s))"


def check_upstream(config: CompiledConfig, session: Session, select: Sequence[str] = ()) -> UpstreamCheck:
    """Test each configured provider (those ``select`` matches, when given) through the registry, once, and compare
    the models it lists with the configured ones: one export plus one request per provider in the registry."""
    chosen, unmatched = upstream.select(config.state, select)
    if unmatched:
        known = ", ".join(sorted(config.state.providers)) or "none"
        raise UsageError(
            f"--select {', '.join(unmatched)} matches no provider in the config", f"the config's providers: {known}"
        )
    live = read_live(session.client)
    probes = []
    for identifier in chosen:
        provider = live.providers.get(identifier)
        if provider is None:
            probes.append(upstream.Probe(identifier, absent=True))
            continue
        try:
            probes.append(upstream.Probe(identifier, result=session.client.test_provider(str(provider["id"]))))
        except RegistryError as exc:
            # One provider the registry cannot test is a finding; the others are still worth checking.
            probes.append(upstream.Probe(identifier, error=exc.message))
    tested = sum(1 for p in probes if not p.absent)
    return UpstreamCheck(session.target, chosen, upstream.findings(config.state, probes), 1 + tested)
