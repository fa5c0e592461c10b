"""Loading: policy files, the built-in packs that ``extends`` names, ``disable`` and the waivers, with positions.

Policy files are read with the config's own YAML reader (positions, duplicate keys, size limits) and checked with
the model that ``schemas/policy.schema.json`` is generated from. A policy that cannot be used (a rule that is no
valid schema, an unknown target, a glob that can match nothing, a name used twice) is an error at its position:
a broken policy must never pass everything silently.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

from dpm.config.load import PROJECT_FILES, SUFFIXES, display_name
from dpm.config.project import Project
from dpm.config.validate import check_schema
from dpm.config.yamlio import Document, load_documents, read_text
from dpm.policy import builtin
from dpm.policy.model import FIELDS, PolicyDocument, PolicyTest, Waiver
from dpm.policy.rules import Rule, rule_problems
from dpm.resources.rules import did_you_mean
from dpm.values import Diagnostic, Mark, Path, Severity

POLICIES_DIR = "policies"


@dataclass(frozen=True)
class Policy:
    name: str
    description: str
    severity: Severity
    target: str
    identifiers: tuple[str, ...]
    environments: tuple[str, ...] | None
    rule: Rule
    mark: Mark  # where it is written: its document, or the extends entry of a built-in pack
    name_mark: Mark
    match_mark: Mark | None = None  # where match.identifiers is written, when it is
    tests: tuple[tuple[PolicyTest, Mark], ...] = ()


@dataclass(frozen=True)
class WaiverEntry:
    policy: str
    identifier: str
    path: str | None
    environments: tuple[str, ...] | None
    reason: str | None
    expires: datetime.date | str | None
    mark: Mark


@dataclass
class PolicySet:
    policies: list[Policy] = field(default_factory=list)
    waivers: list[WaiverEntry] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)


def load_policies(project: Project) -> PolicySet:
    """Every policy and waiver of the project whose ``dpm.yaml`` is at ``project.root``; none without one."""
    found = PolicySet()
    if project.root is None:
        return found
    settings = _settings_document(project.root)
    for path in _policy_files(project, settings, found):
        _load_file(path, found)
    for index, name in enumerate(project.settings.extends):
        mark = _mark(settings, ("extends", index), project.root)
        if name not in builtin.PACKS:
            hint = did_you_mean(name, builtin.PACKS) or f"the built-in packs: {', '.join(builtin.PACKS)}"
            found.problems.append(Diagnostic.error("policy-file", f"unknown policy pack {name!r}", mark, (), hint))
            continue
        for data in builtin.pack(name):
            _add(found, Document(mark.file, 0, data, {(): (mark.line, mark.column)}))
    _disable(found, project.settings.disable, settings, project.root)
    for index, entry in enumerate(project.settings.waivers):
        if settings is not None:
            _add_waiver(found, settings, entry, ("waivers", index), implied=None)
    _check_names(found)
    return found


def _settings_document(root: FilePath) -> Document | None:
    for name in sorted(PROJECT_FILES):
        path = root / name
        if path.is_file():
            text, _ = read_text(display_name(path), path.read_bytes())
            documents, _ = load_documents(display_name(path), text or "")
            return documents[0] if documents else None  # its problems are the project loader's to report
    return None


def _mark(settings: Document | None, path: Path, root: FilePath) -> Mark:
    return settings.mark(path) if settings is not None else Mark(display_name(root / "dpm.yaml"), 1, 1)


def _policy_files(project: Project, settings: Document | None, found: PolicySet) -> list[FilePath]:
    assert project.root is not None
    files = _yaml_files(project.root / POLICIES_DIR)
    for index, entry in enumerate(project.settings.policies):
        path = project.root / entry
        if path.is_dir():
            files += _yaml_files(path)
        elif path.is_file():
            files.append(path)
        else:
            mark = _mark(settings, ("policies", index), project.root)
            message = f"policies: {entry}: no such file or directory"
            found.problems.append(Diagnostic.error("policy-file", message, mark, ("policies", index)))
    unique: dict[FilePath, None] = {}
    for path in files:
        unique.setdefault(path.resolve(), None)
    return list(unique)


def _yaml_files(directory: FilePath) -> list[FilePath]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in SUFFIXES)


def _load_file(path: FilePath, found: PolicySet) -> None:
    name = display_name(path)
    text, problems = read_text(name, path.read_bytes())
    found.problems += problems
    if text is None:
        return
    documents, problems = load_documents(name, text)
    found.problems += problems
    for document in documents:
        _add(found, document)


def _add(found: PolicySet, document: Document) -> None:
    value, problems = check_schema(PolicyDocument, document)
    problems = [_as_policy_problem(p) for p in problems]
    data = document.data if isinstance(document.data, dict) else {}
    if isinstance(data.get("rule"), dict):
        problems += [
            Diagnostic.error("policy-file", message, document.mark(("rule", *path)), ("rule", *path))
            for path, message in rule_problems(data["rule"])
        ]
    if isinstance(value, PolicyDocument):
        problems += _glob_problems(document, value.match.identifiers)
        found.problems += _unknown_fields(document, value)
    found.problems += problems
    if not isinstance(value, PolicyDocument) or problems:
        return
    found.policies.append(
        Policy(
            value.name,
            value.description,
            value.severity,
            value.target,
            tuple(value.match.identifiers),
            None if value.match.environments is None else tuple(value.match.environments),
            Rule(value.rule),
            document.mark(()),
            document.mark(("name",)),
            document.mark(("match", "identifiers")) if ("match", "identifiers") in document.marks else None,
            tuple((test, document.mark(("tests", i))) for i, test in enumerate(value.tests)),
        )
    )
    for index, entry in enumerate(value.waivers):
        _add_waiver(found, document, entry, ("waivers", index), implied=value.name)


def _as_policy_problem(problem: Diagnostic) -> Diagnostic:
    """A policy file's schema problem, under the code that says it is the policy that is broken."""
    hint = problem.suggestion
    if problem.path == "kind":
        hint = hint or "a policy file holds documents of kind: Policy"
    return Diagnostic(
        "error", "policy-file", problem.message, problem.file, problem.line, problem.column, problem.path, hint
    )


def _glob_problems(document: Document, patterns: Sequence[str]) -> list[Diagnostic]:
    problems = []
    for index, pattern in enumerate(patterns):
        path: Path = ("match", "identifiers", index)
        reason = None
        if not pattern.strip():
            reason = "an empty pattern matches nothing"
        elif pattern.count("[") > pattern.count("]"):
            reason = f"{pattern!r} opens a [ set that it never closes, so it would match only a literal '['"
        if reason:
            problems.append(
                Diagnostic.error("policy-file", reason, document.mark(path), path, "use * ? and [abc] globs")
            )
    return problems


def _unknown_fields(document: Document, value: PolicyDocument) -> list[Diagnostic]:
    """A rule that names a field its target does not have checks nothing there: a warning at the name."""
    known = FIELDS[value.target]
    named: list[tuple[str, Path]] = []
    properties = value.rule.get("properties")
    if isinstance(properties, dict):
        named += [(name, ("rule", "properties", name)) for name in properties]
    required = value.rule.get("required")
    if isinstance(required, list):
        named += [(name, ("rule", "required", i)) for i, name in enumerate(required) if isinstance(name, str)]
    return [
        Diagnostic.warning(
            "policy-file",
            f"the rule names the field {name!r}, which a {value.target} does not have, so it checks nothing there",
            document.mark(path, key=True),
            path,
            did_you_mean(name, sorted(known)) or f"a {value.target} has: {', '.join(sorted(known))}",
        )
        for name, path in named
        if name not in known
    ]


def _add_waiver(found: PolicySet, document: Document, entry: Any, path: Path, implied: str | None) -> None:
    value, problems = check_schema(Waiver, document, data=entry, base=path)
    found.problems += [_as_policy_problem(p) for p in problems]
    if not isinstance(value, Waiver):
        return
    policy = value.policy or implied
    if policy is None:
        message = "a waiver in dpm.yaml names the policy it waives"
        found.problems.append(Diagnostic.error("policy-file", message, document.mark(path), path, "add policy: NAME"))
        return
    environments = None if value.environments is None else tuple(value.environments)
    found.waivers.append(
        WaiverEntry(
            policy, value.identifier, value.path, environments, value.reason, value.expires, document.mark(path)
        )
    )


def _disable(found: PolicySet, names: Sequence[str], settings: Document | None, root: FilePath) -> None:
    known = {p.name for p in found.policies}
    for index, name in enumerate(names):
        if name not in known:
            mark = _mark(settings, ("disable", index), root)
            hint = did_you_mean(name, sorted(known))
            message = f"disable: no policy is named {name!r}"
            found.problems.append(Diagnostic.warning("policy-file", message, mark, ("disable", index), hint))
    found.policies = [p for p in found.policies if p.name not in set(names)]


def _check_names(found: PolicySet) -> None:
    first: dict[str, Policy] = {}
    kept = []
    for policy in found.policies:
        if policy.name in first:
            where = first[policy.name].mark
            message = f"policy name {policy.name!r} is used twice (first at {where.file}:{where.line}:{where.column})"
            found.problems.append(Diagnostic.error("policy-file", message, policy.name_mark, ("name",), "rename one"))
            continue
        first[policy.name] = policy
        kept.append(policy)
    found.policies = kept
    names = set(first)
    for waiver in found.waivers:
        if waiver.policy not in names:
            hint = did_you_mean(waiver.policy, sorted(names))
            message = f"the waiver names no policy in use: {waiver.policy!r}"
            found.problems.append(Diagnostic.warning("policy-file", message, waiver.mark, (), hint))
