"""What a rule sees, and where it was written.

A subject is one provider, model or template of the rendered desired state (secrets masked, as ``dpm render``
shows them), or one change of a plan. Each knows how to map a path inside it back to the file:line:col of the
config that wrote it: the written document's own path for a provider written out, its ``customizations`` entry
or ``fromTemplate`` line for a templated one, the provider's ``models`` entry for a model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from dpm.config.compile import DesiredState, masked
from dpm.config.validate import Checked
from dpm.config.yamlio import Document
from dpm.engine.fields import fields_of
from dpm.engine.gate import removes_canary
from dpm.engine.plan import Change, Plan
from dpm.resources import models
from dpm.values import Mark, Path

KINDS = {"provider": "Provider", "model": "Model", "template": "ProviderTemplate"}
_RATIO_DIGITS = 6  # 0.0012 / 0.001 is 1.2, not 1.2000000000000002, so "maximum: 1.2" means what it says

Locate = Callable[[Path], tuple[Mark | None, Path]]


@dataclass(frozen=True)
class Subject:
    target: str  # Provider | Model | ProviderTemplate | Change
    identifier: str  # what match.identifiers and a waiver's identifier name
    label: str  # how a finding names it: "model acme/m1", "delete of provider old"
    data: Any
    locate: Locate  # a path inside ``data`` → its position in the config (None: not in the files) and path there


@dataclass
class Sources:
    """The document each provider and template was written in, to find positions again."""

    providers: dict[str, Document] = field(default_factory=dict)
    templates: dict[str, Document] = field(default_factory=dict)
    _models: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def of(cls, checked: Sequence[Checked]) -> Sources:
        sources = cls()
        for item in checked:
            if item.kind is models.ProviderTemplateDocument:
                sources.templates.setdefault(item.data["name"], item.document)
            elif item.kind in (models.ProviderDocument, models.TemplatedProviderDocument):
                sources.providers.setdefault(item.data["identifier"], item.document)
        return sources

    def provider(self, identifier: str, path: Path, data: Any = None) -> tuple[Mark | None, Path]:
        document = self.providers.get(identifier)
        if document is None:
            return None, path
        if len(path) > 1 and path[0] == "models" and isinstance(path[1], int) and isinstance(data, dict):
            return self.model(identifier, str(data["models"][path[1]]["identifier"]), path[2:])
        if "fromTemplate" in document.data:
            written = document.complete().marks
            key: Path = ("customizations", path[0]) if path and ("customizations", path[0]) in written else ()
            return document.mark(key or ("fromTemplate",)), path
        return document.mark(path), path

    def model(self, provider: str, identifier: str, path: Path) -> tuple[Mark | None, Path]:
        document = self.providers.get(provider)
        if document is None:
            return None, path
        if "fromTemplate" in document.data:  # the template's default models
            return document.mark(("fromTemplate",)), path
        index = self._model_index(provider, document).get(identifier)
        if index is None:  # a model the files no longer hold: its provider's list of models
            return document.mark(("models",), key=True), ("models",)
        full: Path = ("models", index, *path)
        return document.mark(full), full

    def template(self, name: str, path: Path) -> tuple[Mark | None, Path]:
        document = self.templates.get(name)
        return (None, path) if document is None else (document.mark(path), path)

    def _model_index(self, provider: str, document: Document) -> dict[str, int]:
        if provider not in self._models:
            written = document.data.get("models") if isinstance(document.data, dict) else None
            self._models[provider] = {
                str(m.get("identifier")): i for i, m in enumerate(written or []) if isinstance(m, dict)
            }
        return self._models[provider]


def config_subjects(state: DesiredState, sources: Sources, targets: set[str]) -> Iterator[Subject]:
    """The desired state's objects of the ``targets`` kinds, masked; templates, then providers and their models."""
    if "ProviderTemplate" in targets:
        for name in sorted(state.templates):
            yield Subject(
                "ProviderTemplate", name, f"template {name}", masked(state.templates[name]), _at_template(sources, name)
            )
    if not targets & {"Provider", "Model"}:
        return
    for identifier in sorted(state.providers):
        provider = _masked_provider(state.providers[identifier])
        if "Provider" in targets:
            yield Subject(
                "Provider", identifier, f"provider {identifier}", provider, _at_provider(sources, identifier, provider)
            )
        if "Model" in targets:
            for model in provider.get("models", []):
                key = f"{identifier}/{model['identifier']}"
                yield Subject(
                    "Model", key, f"model {key}", model, _at_model(sources, identifier, str(model["identifier"]))
                )


def _masked_provider(provider: dict[str, Any]) -> dict[str, Any]:
    """``masked(provider)``, copying only its ``authConfig``: compile admits secrets nowhere else, and copying ten
    thousand models that hold none would cost a policy run a third of its time. The rest is shared, read-only."""
    if "authConfig" not in provider:
        return provider
    return {**provider, "authConfig": masked({"authConfig": provider["authConfig"]})["authConfig"]}


def _at_template(sources: Sources, name: str) -> Locate:
    return lambda path: sources.template(name, path)


def _at_provider(sources: Sources, identifier: str, data: Any) -> Locate:
    return lambda path: sources.provider(identifier, path, data)


def _at_model(sources: Sources, provider: str, identifier: str) -> Locate:
    return lambda path: sources.model(provider, identifier, path)


def change_subjects(plan: Plan, sources: Sources) -> Iterator[Subject]:
    for change in plan.changes:
        if removes_canary(change):
            continue  # the removal of a leftover canary copy is dpm's own housekeeping
        data = change_object(change)
        kind = KINDS[change.kind]
        yield Subject(
            "Change",
            change.key,
            f"{change.action} of {kind.lower()} {change.key}",
            data,
            _at_change(sources, change, data),
        )


def change_object(change: Change) -> dict[str, Any]:
    """A plan change as a rule sees it (the shape ``model.CHANGE_SHAPE`` documents)."""
    fields = fields_of(change)
    before = None if change.action == "create" else _nest((f.path, f.before) for f in fields)
    after = None if change.action == "delete" else _nest((f.path, f.after) for f in fields)
    ratios = {
        f.path: round(f.after / f.before, _RATIO_DIGITS)
        for f in fields
        if _number(f.before) and _number(f.after) and f.before not in (0, f.after)
    }
    return {
        "action": change.action,
        "kind": KINDS[change.kind],
        "identifier": change.key,
        "provider": change.provider,
        "before": before,
        "after": after,
        "changed": [f.path for f in fields],
        "ratios": ratios,
    }


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _nest(pairs: Iterator[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for dotted, value in pairs:
        *parents, last = dotted.split(".")
        node = result
        for part in parents:
            child = node.setdefault(part, {})
            node = child if isinstance(child, dict) else {}
        node[last] = value
    return result


def _at_change(sources: Sources, change: Change, data: dict[str, Any]) -> Locate:
    def locate(path: Path) -> tuple[Mark | None, Path]:
        fieldpath = _field_of(path, data)
        if change.kind == "model":
            mark, _ = sources.model(str(change.provider), change.identifier, fieldpath)
        elif change.kind == "template":
            mark, _ = sources.template(change.identifier, fieldpath)
        else:
            mark, _ = sources.provider(change.identifier, fieldpath)
        return mark, path

    return locate


def _field_of(path: Path, data: dict[str, Any]) -> Path:
    """The object's field that a path inside a change object is about, or () for the object as a whole."""
    if len(path) < 2:
        return ()
    head, second = path[0], path[1]
    if head in ("before", "after"):
        return path[1:]
    if head == "ratios":
        return tuple(str(second).split("."))
    if head == "changed" and isinstance(second, int):
        return tuple(str(data["changed"][second]).split("."))
    return ()
