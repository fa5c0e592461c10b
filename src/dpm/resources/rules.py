"""Business rules that a schema cannot express, shared by ``dpm validate`` and the server's 422 answers.

Every rule takes plain, schema-valid data (dicts as the API sends them) and returns every violation it finds, so
a user sees all problems in one run. Paths are tuples relative to the object checked.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from dpm.resources.secrets import REDACTED, is_sensitive_field

Path = tuple[str | int, ...]

REQUIRED_AUTH_FIELDS: Mapping[str, tuple[str, ...]] = {
    "api_key": ("apiKey",),
    "oauth2": ("clientId", "clientSecret", "tokenUrl"),
    "aws_iam": ("accessKeyId", "secretAccessKey", "region"),
    "custom": (),
}
_AUTH_FIELD_LABELS = {"apiKey": "API key"}
PLACEHOLDER = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization"})


@dataclass(frozen=True)
class Violation:
    path: Path
    message: str
    value: Any = None
    suggestion: str | None = None


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A "did you mean 'x'?" hint for a misspelt name, or None when nothing is close. Never ``word`` itself: a
    hint about a field never names that same field."""
    matches = difflib.get_close_matches(word, [c for c in candidates if c != word], n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None


def _mapping(value: object) -> Mapping[str, Any]:
    # Rules also run on data that failed its schema, so that one run reports every problem.
    return value if isinstance(value, Mapping) else {}


def provider_violations(provider: Mapping[str, Any]) -> list[Violation]:
    """Rules for one provider: endpoint URLs, auth config consistency and header placeholders."""
    found = _url_violations(("apiEndpoint",), provider.get("apiEndpoint"))
    auth = _mapping(provider.get("authConfig"))
    found += _url_violations(("authConfig", "testEndpoint"), auth.get("testEndpoint"))
    method = provider.get("authMethod")
    method = method if isinstance(method, str) else None  # rules also see data that failed its schema
    if "authConfig" in provider and method in REQUIRED_AUTH_FIELDS and auth.get("type") != method:
        found.append(
            Violation(
                ("authConfig", "type"),
                f"authConfig.type must equal authMethod ('{method}')",
                auth.get("type"),
                f"set authConfig.type to '{method}'",
            )
        )
    fields = _mapping(auth.get("fields"))
    if "authConfig" in provider:
        found += _auth_field_violations(str(method), fields)
    headers = _mapping(auth.get("headers"))
    found += _placeholder_violations(fields, headers)
    found += _credential_header_violations(headers)
    return found


def _credential_header_violations(headers: Mapping[str, Any]) -> list[Violation]:
    # The registry encrypts authConfig.fields only: a credential written straight into a header would be stored
    # and returned in plain text.
    return [
        Violation(
            ("authConfig", "headers", name),
            "a credential header must use a {{field}} placeholder, not a literal secret",
            REDACTED,
            "put the secret in authConfig.fields (e.g. apiKey) and send the header as 'Bearer {{apiKey}}'",
        )
        for name, value in headers.items()
        if (name.lower() in CREDENTIAL_HEADERS or is_sensitive_field(name))
        and not PLACEHOLDER.search(value if isinstance(value, str) else "")
    ]


def _url_violations(path: Path, url: object) -> list[Violation]:
    if url is None or not isinstance(url, str):
        return []
    try:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.hostname:
            return []
    except ValueError:  # e.g. an unclosed IPv6 bracket
        pass
    return [Violation(path, f"'{url}' is not an http(s) URL", url, "use a full URL such as https://api.example.com/v1")]


def is_blank(value: object) -> bool:
    """A credential value that counts as missing: absent, not a string, empty or only whitespace."""
    return not isinstance(value, str) or not value.strip()


def _auth_field_violations(method: str, fields: Mapping[str, Any]) -> list[Violation]:
    required = REQUIRED_AUTH_FIELDS.get(method, ())
    found = [
        Violation(
            ("authConfig", "fields", name),
            f"{_AUTH_FIELD_LABELS.get(name, name)} is required for {method} authentication",
            None,
            _missing_field_hint(name, fields, required),
        )
        for name in required
        if is_blank(fields.get(name))
    ]
    if method == "custom" and not fields:
        found.append(Violation(("authConfig", "fields"), "custom authentication needs at least one field", {}, None))
    return found


def _missing_field_hint(name: str, fields: Mapping[str, Any], required: Sequence[str]) -> str | None:
    if name in fields:
        return f"give {name} a non-empty string value"
    # A misspelling of this field, but never another field that is itself required.
    hint = did_you_mean(name, [field for field in fields if field not in required])
    return hint and f"{hint} (field names are case-sensitive)"


def _placeholder_violations(fields: Mapping[str, Any], headers: Mapping[str, str]) -> list[Violation]:
    found = []
    for header, value in headers.items():
        for name in PLACEHOLDER.findall(value if isinstance(value, str) else ""):
            if name not in fields:
                hint = did_you_mean(name, fields)
                found.append(
                    Violation(
                        ("authConfig", "headers", header),
                        f"placeholder {{{{{name}}}}} names no field in authConfig.fields",
                        value,
                        hint or f"add '{name}' to authConfig.fields",
                    )
                )
    return found


def model_violations(model: Mapping[str, Any], provider_max_context: int | None) -> list[Violation]:
    """Rules for one model against its provider."""
    length = model.get("contextLength")
    if isinstance(provider_max_context, int) and isinstance(length, int) and length > provider_max_context:
        return [
            Violation(
                ("contextLength",),
                f"contextLength {length} exceeds the provider's maxContextLength {provider_max_context}",
                length,
                "lower contextLength or raise the provider's capabilities.maxContextLength",
            )
        ]
    return []


def model_list_violations(models: Sequence[Mapping[str, Any]]) -> list[Violation]:
    """Rules across a provider's models: unique identifiers and at most one default."""
    found = []
    models = [_mapping(m) for m in models]
    counts = Counter(str(m.get("identifier")) for m in models)
    seen: set[object] = set()
    for index, model in enumerate(models):
        identifier = str(model.get("identifier"))
        if counts[identifier] > 1 and identifier in seen:
            found.append(
                Violation(
                    (index, "identifier"),
                    f"model '{identifier}' is defined more than once in this provider",
                    identifier,
                )
            )
        seen.add(identifier)
    defaults = [i for i, m in enumerate(models) if m.get("isDefault") is True]
    for index in defaults[1:]:
        first = models[defaults[0]].get("identifier")
        found.append(
            Violation(
                (index, "isDefault"),
                f"only one model per provider may be the default; '{first}' already is",
                True,
                "set isDefault: true on one model only",
            )
        )
    return found


def provider_tree_violations(provider: Mapping[str, Any], models_key: str = "models") -> list[Violation]:
    """Every rule for a provider and the models it lists under ``models_key``."""
    found = provider_violations(provider)
    models = provider.get(models_key)
    if not isinstance(models, list):
        return found
    maximum = _mapping(provider.get("capabilities")).get("maxContextLength")
    found += [replace(v, path=(models_key, *v.path)) for v in model_list_violations(models)]
    for index, model in enumerate(models):
        found += [replace(v, path=(models_key, index, *v.path)) for v in model_violations(_mapping(model), maximum)]
    return found
