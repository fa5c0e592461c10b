"""Evaluation: every policy against every subject it matches; findings are ``Diagnostic`` values (code
``policy``), so every diagnostics format carries them, at the file:line:col of the offending value.

``Guard`` is what the pipeline holds: the project's policies, where the config's objects were written, and the
environment. It checks the desired state when the config compiles, and each plan's changes before the plan is
shown, saved or applied.
"""

from __future__ import annotations

import datetime
import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from dpm.config.compile import DesiredState
from dpm.config.project import Project
from dpm.config.validate import Checked
from dpm.engine.plan import Plan
from dpm.policy.load import Policy, PolicySet, load_policies
from dpm.policy.rules import Violation
from dpm.policy.subjects import Sources, Subject, change_subjects, config_subjects
from dpm.policy.waivers import Finding, apply_waivers, today
from dpm.values import Diagnostic, Mark, format_path, has_errors

CODE = "policy"
_HIDDEN = "authConfig"  # credentials: a finding there names the rule it breaks, never the value


@dataclass
class Guard:
    policies: PolicySet = field(default_factory=PolicySet)
    sources: Sources = field(default_factory=Sources)
    environment: str | None = None
    waivers: bool = True
    on: datetime.date = field(default_factory=today)

    @classmethod
    def load(cls, project: Project, checked: Sequence[Checked], *, waivers: bool = True) -> Guard:
        policies = load_policies(project)
        guard = cls(policies, Sources(), project.environment, waivers)
        # Where each object was written is needed only to place a finding; without a policy that runs here, the
        # documents and their positions (most of a large config's memory) are not kept for the rest of the run.
        if guard.active():
            guard.sources = Sources.of(checked)
        return guard

    @property
    def problems(self) -> list[Diagnostic]:
        """What is wrong with the policy files themselves."""
        return self.policies.problems

    def check_config(self, state: DesiredState) -> list[Diagnostic]:
        """The policy files' own problems, then the findings of every config policy on the desired state."""
        policies = [p for p in self.active() if p.target != "Change"]
        subjects = config_subjects(state, self.sources, {p.target for p in policies}) if policies else iter(())
        return self.problems + self.findings(policies, subjects)

    def check_plan(self, plan: Plan) -> Plan:
        """``plan`` with the findings of every change policy on its changes."""
        policies = [p for p in self.active() if p.target == "Change"]
        if not policies or not plan.changes:
            return plan
        found = self.findings(policies, change_subjects(plan, self.sources))
        return plan.model_copy(update={"policy": found})

    def active(self) -> list[Policy]:
        return [p for p in self.policies.policies if p.environments is None or self.environment in p.environments]

    def findings(self, policies: Sequence[Policy], subjects: Iterable[Subject]) -> list[Diagnostic]:
        by_target: dict[str, list[Subject]] = {}
        for subject in subjects:
            by_target.setdefault(subject.target, []).append(subject)
        found: list[Finding] = []
        unmatched: list[Diagnostic] = []
        for policy in policies:
            matched = [s for s in by_target.get(policy.target, []) if _matches(policy, s.identifier)]
            found += [_finding(policy, s, v) for s in matched for v in policy.rule.violations(s.data)]
            if not matched and policy.match_mark is not None and policy.target != "Change":
                unmatched.append(_selects_nothing(policy, policy.match_mark))
        waivers = self.policies.waivers if self.waivers else []
        return sorted(apply_waivers(found, waivers, self.environment, self.on) + unmatched, key=Diagnostic.sort_key)


def _matches(policy: Policy, identifier: str) -> bool:
    if policy.identifiers == ("*",):  # the default, on ten thousand models: no pattern to run
        return True
    return any(fnmatch.fnmatchcase(identifier, pattern) for pattern in policy.identifiers)


def _selects_nothing(policy: Policy, mark: Mark) -> Diagnostic:
    """A self-check: a policy whose identifiers select nothing in this config checks nothing, which is a mistake more
    often than a plan (a typo, a renamed provider)."""
    kind = {"Model": "model", "Provider": "provider", "ProviderTemplate": "template"}[policy.target]
    globs = ", ".join(policy.identifiers)
    message = f"policy {policy.name} selects no {kind} of this config (identifiers: {globs}), so it checks nothing"
    hint = "a model's identifier is provider/model; a template's is its name"
    return Diagnostic.warning("policy-file", message, mark, ("match", "identifiers"), hint)


def _finding(policy: Policy, subject: Subject, violation: Violation) -> Finding:
    mark, path = subject.locate(violation.path)
    detail = violation.message
    if _HIDDEN in violation.path and violation.keyword != "required" and not isinstance(violation.value, dict | list):
        detail = f"the value breaks the rule's {violation.keyword} (not shown: it belongs to the credentials)"
    message = f"{subject.label} breaks policy {policy.name} ({policy.description}): {detail}"
    diagnostic = Diagnostic.at(policy.severity, CODE, message, mark or policy.mark, path if mark else ())
    return Finding(
        replace(diagnostic, policy=policy.name), policy.name, subject.identifier, format_path(violation.path)
    )


def plan_refusal(plan: Plan) -> tuple[str, str] | None:
    """Why a plan whose changes break an error policy must not be saved or applied, and what to do; or None."""
    if not has_errors(plan.policy):
        return None
    broken = sorted({d.policy or "" for d in plan.policy if d.severity == "error"})
    errors = sum(d.severity == "error" for d in plan.policy)
    return (
        f"this plan cannot be applied: it breaks the policies {', '.join(broken)} ({errors} error(s), listed above)",
        "change the config, or add a waiver with a reason and an expires date",
    )
