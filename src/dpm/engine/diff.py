"""Diff: the desired state against the live state, as ordered changes with field-level detail.

Both sides go through ``normalize`` first. A provider that the files list owns all of its models: a live model
the files lack is deleted. A live provider the files lack is deleted only with prune on, and only when it is in
scope and not a system provider.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dpm.config.compile import DesiredState
from dpm.engine.fielddiff import field_changes
from dpm.engine.fields import leaves
from dpm.engine.live import LiveState
from dpm.engine.normalize import model_view, pair_secrets, provider_view, template_view
from dpm.engine.payload import live_version
from dpm.engine.plan import Change, FieldChange, Kept, Kind, SecretNote
from dpm.values import Ownership, Secret, format_path


@dataclass
class _Differ:
    desired: DesiredState
    live: LiveState
    ownership: Ownership
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def run(self) -> None:
        for name, template in self.desired.templates.items():
            live = self.live.templates.get(name)
            desired_view, live_view = template_view(template), template_view(live) if live else None
            notes = pair_secrets(
                _fields(desired_view.get("providerConfig")),
                _fields(live_view.get("providerConfig")) if live_view else {},
                _fingerprints((live or {}).get("providerConfig")),
            )
            self.add("template", None, name, desired=desired_view, live_view=live_view, live=live, notes=notes)
        for identifier, provider in self.desired.providers.items():
            self.compare_provider(identifier, provider)
        if self.ownership.prune:
            self.prune()

    def compare_provider(self, identifier: str, provider: Mapping[str, Any]) -> None:
        live = self.live.providers.get(identifier)
        desired_view = provider_view(provider)
        live_view = provider_view(live) if live else None
        fingerprints = _fingerprints(live)
        live_fields = live_view["authConfig"]["fields"] if live_view else {}
        notes = pair_secrets(desired_view["authConfig"]["fields"], live_fields, fingerprints)
        for note in notes:
            if note.status == "unknown":
                self.warnings.append(_unknown_secret(identifier, note.field, provider, fingerprints))
        if live is None:
            self.warnings += _unset_secrets(identifier, provider)
        self.add("provider", None, identifier, desired=desired_view, live_view=live_view, live=live, notes=notes)
        live_models = self.live.models.get(identifier, {})
        for model in provider.get("models", []):
            found = live_models.get(model["identifier"])
            self.add(
                "model", identifier, model["identifier"], desired=model_view(model), live_view=_view(found), live=found
            )
        for model_identifier, model in live_models.items():
            if model_identifier not in {m["identifier"] for m in provider.get("models", [])}:
                self.delete("model", identifier, model_identifier, model_view(model), model)

    def add(
        self,
        kind: Kind,
        provider: str | None,
        identifier: str,
        *,
        desired: dict[str, Any],
        live_view: dict[str, Any] | None,
        live: Mapping[str, Any] | None,
        notes: Sequence[Any] = (),
    ) -> None:
        secrets = [SecretNote(field=n.field, status=n.status) for n in notes]
        if live_view is None:  # a create's fields are read from its body when shown (engine.fields)
            self.changes.append(
                Change(action="create", kind=kind, provider=provider, identifier=identifier, secrets=secrets)
            )
            return
        differences = field_changes(live_view, desired)
        if differences:
            fields = [FieldChange(path=format_path(p), before=b, after=a) for p, b, a in differences]
            self.changes.append(
                Change(
                    action="update",
                    kind=kind,
                    provider=provider,
                    identifier=identifier,
                    fields=fields,
                    secrets=secrets,
                    **_identity(live),
                )
            )

    def delete(
        self, kind: Kind, provider: str | None, identifier: str, view: dict[str, Any], live: Mapping[str, Any]
    ) -> None:
        fields = [FieldChange(path=format_path(p), before=v) for p, v in leaves(view)]
        self.changes.append(
            Change(
                action="delete", kind=kind, provider=provider, identifier=identifier, fields=fields, **_identity(live)
            )
        )

    def prune(self) -> None:
        providers, templates = _not_in_files(self.desired, self.live, self.ownership)
        for identifier in providers:
            provider = self.live.providers[identifier]
            for model_identifier, model in self.live.models.get(identifier, {}).items():
                self.delete("model", identifier, model_identifier, model_view(model), model)
            view = provider_view(provider)
            pair_secrets({}, view["authConfig"]["fields"], {})
            self.delete("provider", None, identifier, view, provider)
        for name in templates:
            self.delete("template", None, name, template_view(self.live.templates[name]), self.live.templates[name])


def _not_in_files(desired: DesiredState, live: LiveState, ownership: Ownership) -> tuple[list[str], list[str]]:
    """The providers in scope and the custom templates that the registry holds and the files lack."""
    providers = [i for i, p in live.providers.items() if i not in desired.providers and ownership.owns(p)]
    return providers, [name for name in live.templates if name not in desired.templates]


def kept(desired: DesiredState, live: LiveState, ownership: Ownership) -> list[Kept]:
    """What prune would delete and, with prune off, is kept: a plan lists these, so that deleting a file never
    passes for "no changes"."""
    if ownership.prune:
        return []
    providers, templates = _not_in_files(desired, live, ownership)
    found = [Kept(kind="template", identifier=name) for name in sorted(templates)]
    return found + [Kept(kind="provider", identifier=i, models=len(live.models.get(i, {}))) for i in sorted(providers)]


def holds(change: Change, sent: Mapping[str, Any], live: LiveState) -> bool:
    """Whether the registry holds exactly what ``change`` writes: ``sent``, its body with secrets resolved."""
    found = live.find(change.kind, change.identifier, change.provider)
    if found is None:
        return False
    if change.kind == "model":
        return not field_changes(model_view(found), model_view(sent))
    if change.kind == "template":
        desired, current = template_view(sent), template_view(found)
        desired_fields, live_fields = _fields(desired["providerConfig"]), _fields(current["providerConfig"])
        notes = pair_secrets(desired_fields, live_fields, _fingerprints(found.get("providerConfig")))
    else:
        desired, current = provider_view(sent), provider_view(found)
        notes = pair_secrets(desired["authConfig"]["fields"], current["authConfig"]["fields"], _fingerprints(found))
    return all(note.status == "same" for note in notes) and not field_changes(current, desired)


def _fields(config: Any) -> dict[str, Any]:
    """The ``authConfig.fields`` dict inside a provider-like view (created if absent, so it can be paired)."""
    if not isinstance(config, dict):
        return {}
    auth = config.get("authConfig")
    fields = auth.get("fields") if isinstance(auth, dict) else None
    return fields if isinstance(fields, dict) else {}


def _fingerprints(provider: Any) -> Mapping[str, str]:
    auth = provider.get("authConfig") if isinstance(provider, Mapping) else None
    found = auth.get("fieldFingerprints") if isinstance(auth, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def _view(model: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return model_view(model) if model is not None else None


def _identity(live: Mapping[str, Any] | None) -> dict[str, Any]:
    version = live_version(live)
    live = live or {}
    return {
        "liveId": None if live.get("id") is None else str(live["id"]),
        "etag": live.get("etag"),
        "liveVersion": version,
    }


def _unknown_secret(identifier: str, name: str, provider: Mapping[str, Any], fingerprints: Mapping[str, str]) -> str:
    value = provider.get("authConfig", {}).get("fields", {}).get(name)
    names = ", ".join(getattr(value, "names", ()))
    if names and not getattr(value, "known", True):
        reason = f"{names} is not set in the environment"
    elif name not in fingerprints:
        reason = "the registry sends no fingerprint for it"
    else:
        reason = "its fingerprint uses an unknown scheme"
    return f"{identifier}: cannot tell whether secret authConfig.fields.{name} changed ({reason}); it is left as it is"


def _unset_secrets(identifier: str, provider: Mapping[str, Any]) -> list[str]:
    fields = provider.get("authConfig", {}).get("fields", {})
    return [
        f"{identifier}: secret {', '.join(value.names)} is not set in the environment, so apply cannot create it"
        for value in fields.values()
        if isinstance(value, Secret) and not value.known
    ]


def diff(desired: DesiredState, live: LiveState, ownership: Ownership) -> tuple[list[Change], list[str]]:
    """The changes that turn ``live`` into ``desired``, in apply order, and warnings about what cannot be known."""
    differ = _Differ(desired, live, ownership)
    differ.run()
    return sorted(differ.changes, key=Change.order), differ.warnings
