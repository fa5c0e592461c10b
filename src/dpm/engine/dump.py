"""Dump: the live registry as config files, so an existing registry can be brought under git.

One file per provider (with its models) and one per custom template, deterministic and sorted. A secret, which
the registry never returns, becomes a reference ``${{ secret.DPM_<PROVIDER>_<FIELD> }}`` that the user sets. A
provider that is exactly what applying a template builds (a system template, or a custom one in the registry) is
written as a person would write it: ``fromTemplate`` and the ``customizations`` that differ from the template.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from dpm.config.yamlio import dump_yaml
from dpm.engine.live import LiveState
from dpm.engine.normalize import (
    AUTH_FIELDS,
    MODEL_FIELDS,
    PROVIDER_FIELDS,
    TEMPLATE_FIELDS,
    model_view,
    provider_view,
)
from dpm.errors import UsageError
from dpm.resources.rules import did_you_mean
from dpm.resources.secrets import REDACTED
from dpm.resources.templates import TOP_LEVEL_CUSTOMIZATIONS, apply_template, system_templates
from dpm.values import Ownership

MODELINE = "# yaml-language-server: $schema=../schemas/document.schema.json"


@dataclass(frozen=True)
class DumpedObject:
    kind: Literal["provider", "template"]
    identifier: str  # provider identifier or template name
    models: int = 0


@dataclass
class Dumped:
    files: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    objects: dict[str, list[DumpedObject]] = field(default_factory=dict)  # file name → what it holds


def project_settings(scope: Sequence[str], source: str, *, complete: bool = True) -> str:
    """The ``dpm.yaml`` for a repository that a dump starts. A ``complete`` dump holds everything in ``scope``, so
    it prunes; a selective one (``--select``) holds only what was chosen, so it must not."""
    patterns = ", ".join(f'"{pattern}"' for pattern in scope)
    if complete:
        ownership = (
            "# The files beside it hold everything the registry had in scope, so dpm owns all of it: a provider in "
            "scope\n# that the files lack is deleted on apply (prune), models first, at most maxDeletes at a time.\n"
        )
    else:
        ownership = (
            "# The files beside it hold only what dpm dump --select chose, not everything the registry has in scope,\n"
            "# so prune stays off: a provider in scope that the files lack is kept, never deleted.\n"
        )
    return (
        f"# Written by dpm dump from the {source}.\n{ownership}"
        f"scope: [{patterns}]\n"
        f"prune: {'true' if complete else 'false'}\n"
        "maxDeletes: 5\n"
    )


def selection(live: LiveState, owner: Ownership, patterns: Sequence[str]) -> tuple[set[str], set[str]]:
    """The providers in scope and the custom templates that ``patterns`` (globs, as in ``scope``) match. A
    pattern that matches nothing is a usage error naming what exists."""
    providers = {i for i, p in live.providers.items() if owner.owns(p)}
    if not patterns:
        return providers, set(live.templates)
    names = providers | set(live.templates)
    matched = {p: {n for n in names if fnmatch.fnmatchcase(n, p)} for p in patterns}
    unmatched = [p for p in patterns if not matched[p]]
    if unmatched:
        close = [hint for p in unmatched if (hint := did_you_mean(p, names))]
        listed = sorted(names)
        existing = ", ".join(listed[:20]) + (f" and {len(listed) - 20} more" if len(listed) > 20 else "")
        raise UsageError(
            f"--select {', '.join(unmatched)}: matches no provider in scope and no custom template",
            "; ".join(close) or (f"the registry holds: {existing}" if listed else "the registry holds nothing to dump"),
        )
    chosen = set().union(*matched.values())
    return providers & chosen, set(live.templates) & chosen


def secret_name(owner: str, field_name: str) -> str:
    """``DPM_<OWNER>_<FIELD>``: ``openai`` and ``apiKey`` give ``DPM_OPENAI_API_KEY``."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", field_name)
    return "DPM_" + re.sub(r"[^A-Za-z0-9]+", "_", f"{owner}_{words}").strip("_").upper()


def dump(live: LiveState, owner: Ownership, source: str, select: Sequence[str] = ()) -> Dumped:
    """Every provider in scope and every custom template, or only those that the ``select`` patterns match."""
    result = Dumped()
    # The modeline points editors at the schemas a new repository gets beside its providers.d/ (as dpm init lays out).
    header = f"{MODELINE}\n# Written by dpm dump from the {source}.\n"
    providers, templates = selection(live, owner, select)
    # Templates a provider may have been built from: the system ones, then the registry's own, in a fixed order.
    candidates = [(t["id"], t) for t in system_templates()] + sorted(live.templates.items())
    for identifier in sorted(providers):
        provider = live.providers[identifier]
        models = live.models.get(identifier, {})
        document = _templated(provider, list(models.values()), candidates, result)
        if document is None:
            document = {"kind": "Provider", **_provider(provider, result)}
            document["models"] = [_pick(models[m], ("identifier", *MODEL_FIELDS)) for m in sorted(models)]
        result.files[f"{identifier}.yaml"] = header + dump_yaml(document)
        result.objects[f"{identifier}.yaml"] = [DumpedObject("provider", identifier, len(models))]
    for name in sorted(templates):
        template = live.templates[name]
        document = {"kind": "ProviderTemplate", "name": name, **_pick(template, TEMPLATE_FIELDS)}
        config = document.get("providerConfig")
        if isinstance(config, dict) and isinstance(config.get("authConfig"), dict):
            config["authConfig"] = _auth(config["authConfig"], f"template_{name}", result)
        result.files[f"template-{_slug(name)}.yaml"] = header + dump_yaml(document)
        result.objects[f"template-{_slug(name)}.yaml"] = [DumpedObject("template", name)]
    return result


def _provider(provider: Mapping[str, Any], result: Dumped) -> dict[str, Any]:
    document = _pick(provider, ("identifier", *PROVIDER_FIELDS))
    document["authConfig"] = _auth(provider.get("authConfig") or {}, str(provider["identifier"]), result)
    return document


def _templated(
    provider: Mapping[str, Any],
    models: list[Mapping[str, Any]],
    candidates: Sequence[tuple[str, Mapping[str, Any]]],
    result: Dumped,
) -> dict[str, Any] | None:
    """``provider`` as ``fromTemplate`` + ``customizations``, when applying one of the ``candidates`` (reference,
    template) with them builds exactly it (its models included); None when none does."""
    wanted = provider_view(provider)
    wanted_models = _models_view(models)
    for ref, template in candidates:
        customizations = _customizations(provider, template)
        built = apply_template(template, str(provider["identifier"]), str(provider.get("name")), customizations)
        if provider_view(built) == wanted and _models_view(built["models"]) == wanted_models:
            owner = str(provider["identifier"])
            for name, value in customizations.items():
                if value == REDACTED:
                    customizations[name] = f"${{{{ secret.{secret_name(owner, name)} }}}}"
                    result.secrets.append(secret_name(owner, name))
            document = {"kind": "Provider", "identifier": owner, "name": provider.get("name"), "fromTemplate": ref}
            return document | ({"customizations": customizations} if customizations else {})
    return None


def _customizations(provider: Mapping[str, Any], template: Mapping[str, Any]) -> dict[str, Any]:
    """What ``provider`` sets differently from ``template``: top-level fields and authConfig.fields."""
    config = template.get("providerConfig") or {}
    found = {k: provider[k] for k in TOP_LEVEL_CUSTOMIZATIONS if provider.get(k) not in (None, config.get(k))}
    if found.get("status") == "active" and "status" not in config:
        del found["status"]  # template apply makes a provider active unless told otherwise
    defaults = (config.get("authConfig") or {}).get("fields") or {}
    fields = (provider.get("authConfig") or {}).get("fields") or {}
    found |= {k: v for k, v in fields.items() if v == REDACTED or defaults.get(k) != v}
    return _without_none(found)  # type: ignore[no-any-return]


def _models_view(models: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        (model_view(m) | {"identifier": m.get("identifier")} for m in models), key=lambda m: str(m["identifier"])
    )


def _auth(auth: Mapping[str, Any], owner: str, result: Dumped) -> dict[str, Any]:
    picked = _pick(auth, AUTH_FIELDS)
    fields = dict(picked.get("fields") or {})
    for name, value in fields.items():
        if value == REDACTED:
            variable = secret_name(owner, name)
            fields[name] = f"${{{{ secret.{variable} }}}}"
            result.secrets.append(variable)
    picked["fields"] = fields
    return picked


def _pick(value: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: _without_none(value[k]) for k in keys if value.get(k) is not None}


def _without_none(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "template"
