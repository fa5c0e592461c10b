"""Compiling: checked documents become the desired state that ``plan`` diffs against the live registry.

This is where the documents meet each other: identifiers must be unique across files, ``fromTemplate`` must name
a template, templated providers are expanded exactly as the API's template apply would build them, and the
business rules of the resource vocabulary run over every provider as it will be sent.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from dpm.config.validate import Checked, check_schema, rule_diagnostics, without_secrets
from dpm.config.yamlio import Document
from dpm.resources import models, rules, templates
from dpm.resources.secrets import REDACTED, SENSITIVE_FIELDS, is_sensitive_field
from dpm.values import Diagnostic, Mark, Path, Secret, Severity, leaves


@dataclass
class DesiredState:
    """What the files say the registry should hold, in API field names.

    Providers carry their ``models`` (sorted by identifier). Secret values are ``Secret`` objects, never strings.
    """

    providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    built_from: dict[str, str] = field(default_factory=dict)
    origins: dict[str, Mark] = field(default_factory=dict)
    # Where each model is written, by (provider, model), for the models a provider document lists itself; a
    # templated provider's models come from its template, so its origin stands for them.
    model_origins: dict[tuple[str, str], Mark] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        """The state as plain, deterministic data with every secret masked: safe to print."""
        return {
            "templates": [masked(self.templates[name]) for name in sorted(self.templates)],
            "providers": [masked(self.providers[key]) for key in sorted(self.providers)],
        }


def masked(value: Any) -> Any:
    """``value`` with secrets replaced by a fingerprint, by field: a rendered ``Secret``, or any sensitive field
    of an ``authConfig`` (a provider's, or a template's ``providerConfig``'s)."""
    if isinstance(value, Secret):
        return value.masked()
    if isinstance(value, list):
        return [masked(v) for v in value]
    if not isinstance(value, dict):
        return value
    result = {k: masked(v) for k, v in value.items() if k != "authConfig"}
    auth = value.get("authConfig")
    if isinstance(auth, dict):
        result["authConfig"] = {k: _masked_fields(v) if k == "fields" else masked(v) for k, v in auth.items()}
    elif "authConfig" in value:
        result["authConfig"] = masked(auth)
    return {k: result[k] for k in value}  # the input's key order


def _masked_fields(fields: Any) -> Any:
    if not isinstance(fields, dict):
        return masked(fields)
    return {
        name: REDACTED if is_sensitive_field(name) and isinstance(v, str) else masked(v) for name, v in fields.items()
    }


@dataclass
class _Compiler:
    require_secrets: bool
    state: DesiredState = field(default_factory=DesiredState)
    problems: list[Diagnostic] = field(default_factory=list)
    template_marks: dict[str, Mark] = field(default_factory=dict)

    def compile(self, checked: Sequence[Checked]) -> None:
        for item in checked:
            if item.kind is models.ProviderTemplateDocument:
                self.add_template(item)
        for item in checked:
            if item.kind is models.ProviderDocument:
                self.check_secrets(item.document, allowed=lambda path: path[:2] == ("authConfig", "fields"))
                self.add_provider(item.document, _put(item.data, item.document.secrets))
            elif item.kind is models.TemplatedProviderDocument:
                self.add_templated(item)

    def add_template(self, item: Checked) -> None:
        document = item.document
        data = _put(item.data, {})
        name = data["name"]
        # The registry seals a template's credential fields just as a provider's.
        self.check_secrets(
            document, allowed=lambda path: path[:3] == ("providerConfig", "authConfig", "fields") and len(path) == 4
        )
        if name in self.state.templates:
            self.duplicate(document, ("name",), f"template '{name}'", self.template_marks[name])
            return
        self.template_marks[name] = document.mark(())
        self.state.templates[name] = data

    def add_provider(self, document: Document, provider: dict[str, Any]) -> None:
        identifier = provider["identifier"]
        if identifier in self.state.providers:
            self.duplicate(document, ("identifier",), f"provider '{identifier}'", self.state.origins[identifier])
            return
        written = document.data.get("models") if isinstance(document.data, dict) else None
        for index, model in enumerate(written if isinstance(written, list) else []):
            if isinstance(model, dict) and isinstance(model.get("identifier"), str):
                where = document.mark(("models", index, "identifier"))
                self.state.model_origins.setdefault((identifier, model["identifier"]), where)
        provider["models"] = sorted(provider.get("models", []), key=lambda m: str(m["identifier"]))
        self.state.providers[identifier] = provider
        self.state.origins[identifier] = document.mark(())

    def add_templated(self, item: Checked) -> None:
        document = item.document.complete()  # its problems point into customizations: every position is needed
        value = item.data
        self.check_secrets(
            document,
            allowed=lambda path: (
                path[0] == "customizations" and len(path) == 2 and path[1] not in templates.TOP_LEVEL_CUSTOMIZATIONS
            ),
        )
        template = self.resolve_template(document, value["fromTemplate"])
        if template is None:
            return
        customizations = _put(value["customizations"], _under(("customizations",), document.secrets))
        built = templates.apply_template(template, value["identifier"], value["name"], customizations)
        view = _templated_view(document, built)
        checked, problems = check_schema(models.ProviderDocument, view, {"kind": "Provider", **built})
        prefix = f"built from template '{value['fromTemplate']}': "
        self.problems += [_prefixed(p, prefix) for p in problems]
        if checked is None:
            return
        violations = [_customization_hint(v) for v in rules.provider_tree_violations(without_secrets(built))]
        self.problems += [_prefixed(p, prefix) for p in rule_diagnostics(view, (), violations)]
        if violations:
            return
        self.state.built_from[value["identifier"]] = value["fromTemplate"]
        self.add_provider(document, _put(_dump(checked), dict(_secrets_in(built))))

    def resolve_template(self, document: Document, ref: str) -> dict[str, Any] | None:
        if ref in self.state.templates:
            return self.state.templates[ref]
        system = templates.find_system_template(ref)
        if system is not None:
            return system
        known = [*self.state.templates, *templates.system_template_refs()]
        hint = rules.did_you_mean(ref, known) or f"templates: {', '.join(known)}"
        where = document.mark(("fromTemplate",))
        message = f"fromTemplate '{ref}' names no template in the config and no system template"
        self.problems.append(Diagnostic.error("unknown-template", message, where, ("fromTemplate",), hint))
        return None

    def check_secrets(self, document: Document, allowed: Any) -> None:
        for path, secret in document.secrets.items():
            where = document.mark(path)
            names = ", ".join(secret.names)
            if not allowed(path):
                message = f"secret {names} is used here, but secrets may only fill authConfig.fields values"
                hint = "put the secret in an authConfig.fields entry and use it in a header as {{fieldName}}"
                self.problems.append(Diagnostic.error("secret-placement", message, where, path, hint))
            elif not is_sensitive_field(str(path[-1])):
                message = (
                    f"secret {names} fills the field {path[-1]}, which the registry stores in clear and returns to "
                    f"every reader: it encrypts only the sensitive fields ({SENSITIVE_FIELDS})"
                )
                hint = f"if {path[-1]} is not a secret, write its value in clear; if it is, give it a sensitive name"
                self.problems.append(Diagnostic.error("secret-placement", message, where, path, hint))
            elif not secret.known:
                severity: Severity = "error" if self.require_secrets else "warning"
                message = f"secret {names} is not set in the environment"
                hint = f"export {secret.names[0]}=… before plan or apply"
                self.problems.append(Diagnostic.at(severity, "secret-missing", message, where, path, hint))

    def duplicate(self, document: Document, path: Path, what: str, first: Mark) -> None:
        message = f"{what} is defined more than once (first at {first.file}:{first.line})"
        self.problems.append(Diagnostic.error("duplicate", message, document.mark(path), path, "remove one of them"))


def compile_state(
    checked: Sequence[Checked], *, require_secrets: bool = False
) -> tuple[DesiredState, list[Diagnostic]]:
    compiler = _Compiler(require_secrets)
    compiler.compile(checked)
    return compiler.state, compiler.problems


def _dump(value: Any) -> dict[str, Any]:
    data: dict[str, Any] = value.model_dump(mode="python", exclude_none=True)
    data.pop("kind", None)
    return data


def _secrets_in(value: Any) -> Iterator[tuple[Path, Secret]]:
    return ((path, leaf) for path, leaf in leaves(value) if isinstance(leaf, Secret))


def _put(checked: Any, secrets: dict[Path, Secret]) -> Any:
    """``checked`` (validated with secrets hidden) with each ``Secret`` put back at its path. The containers on the
    way to a secret, and the top one, are copies: ``checked`` itself stays as the validator (or the cache) left it."""
    copies: dict[Path, Any] = {(): _shallow(checked)}
    for path, secret in secrets.items():
        for end in range(1, len(path)):
            if path[:end] not in copies:
                parent = copies[path[: end - 1]]
                copies[path[:end]] = parent[path[end - 1]] = _shallow(parent[path[end - 1]])
        copies[path[:-1]][path[-1]] = secret
    return copies[()]


def _shallow(value: Any) -> Any:
    return value.copy() if isinstance(value, dict | list) else value


def _under(prefix: Path, secrets: dict[Path, Secret]) -> dict[Path, Secret]:
    return {path[len(prefix) :]: s for path, s in secrets.items() if path[: len(prefix)] == prefix}


def _templated_view(document: Document, built: dict[str, Any]) -> Document:
    """``document`` with positions re-keyed so that a built provider's fields point at their customization."""
    marks = dict(document.marks)
    key_marks = dict(document.key_marks)
    for path, mark in document.marks.items():
        if path[:1] != ("customizations",) or len(path) < 2:
            continue
        rest = path[1:]
        target = rest if rest[0] in templates.TOP_LEVEL_CUSTOMIZATIONS else ("authConfig", "fields", *rest)
        marks[target] = mark
        if path in document.key_marks:
            key_marks[target] = document.key_marks[path]
    return Document(document.file, document.index, built, marks, key_marks)


def _customization_hint(violation: rules.Violation) -> rules.Violation:
    if violation.suggestion or violation.path[:2] != ("authConfig", "fields") or len(violation.path) != 3:
        return violation
    return replace(violation, suggestion=f"set {violation.path[2]} under customizations")


def _prefixed(problem: Diagnostic, prefix: str) -> Diagnostic:
    return replace(problem, message=prefix + problem.message)
