"""Dump: the live registry as config files, so an existing registry can be brought under git.

One file per provider (with its models) and one per custom template, deterministic and sorted. A secret, which
the registry never returns, becomes a reference ``${{ secret.DPM_<PROVIDER>_<FIELD> }}`` that the user sets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dpm.config.yamlio import dump_yaml
from dpm.engine.live import LiveState
from dpm.engine.normalize import AUTH_FIELDS, MODEL_FIELDS, PROVIDER_FIELDS, TEMPLATE_FIELDS
from dpm.resources.secrets import REDACTED
from dpm.values import Ownership


@dataclass
class Dumped:
    files: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)


def project_settings(scope: Sequence[str], source: str) -> str:
    """The ``dpm.yaml`` for a repository that a dump starts: it holds everything in ``scope``, so it prunes."""
    patterns = ", ".join(f'"{pattern}"' for pattern in scope)
    return (
        f"# Written by dpm dump from the {source}.\n"
        "# The files beside it hold everything the registry had in scope, so dpm owns all of it: a provider in scope\n"
        "# that the files lack is deleted on apply (prune), models first, at most maxDeletes at a time.\n"
        f"scope: [{patterns}]\n"
        "prune: true\n"
        "maxDeletes: 5\n"
    )


def secret_name(owner: str, field_name: str) -> str:
    """``DPM_<OWNER>_<FIELD>``: ``openai`` and ``apiKey`` give ``DPM_OPENAI_API_KEY``."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", field_name)
    return "DPM_" + re.sub(r"[^A-Za-z0-9]+", "_", f"{owner}_{words}").strip("_").upper()


def dump(live: LiveState, owner: Ownership, source: str) -> Dumped:
    result = Dumped()
    header = f"# Written by dpm dump from the {source}.\n"
    for identifier in sorted(live.providers):
        provider = live.providers[identifier]
        if not owner.owns(provider):
            continue
        document = {"kind": "Provider", **_provider(provider, result)}
        models = live.models.get(identifier, {})
        document["models"] = [_pick(models[m], ("identifier", *MODEL_FIELDS)) for m in sorted(models)]
        result.files[f"{identifier}.yaml"] = header + dump_yaml(document)
    for name in sorted(live.templates):
        template = live.templates[name]
        document = {"kind": "ProviderTemplate", "name": name, **_pick(template, TEMPLATE_FIELDS)}
        config = document.get("providerConfig")
        if isinstance(config, dict) and isinstance(config.get("authConfig"), dict):
            config["authConfig"] = _auth(config["authConfig"], f"template_{name}", result)
        result.files[f"template-{_slug(name)}.yaml"] = header + dump_yaml(document)
    return result


def _provider(provider: Mapping[str, Any], result: Dumped) -> dict[str, Any]:
    document = _pick(provider, ("identifier", *PROVIDER_FIELDS))
    document["authConfig"] = _auth(provider.get("authConfig") or {}, str(provider["identifier"]), result)
    return document


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
