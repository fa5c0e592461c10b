"""The published JSON Schemas (draft 2020-12): the config files, generated from the resource vocabulary, and the
JSON outputs (the plan, the diagnostics document, what an apply did and what a dump wrote), generated from their models.

The schemas describe files as written, before rendering, so every value that dpm lets an expression compute
also accepts a ``${{ … }}`` string there. Editors and check-jsonschema then agree with ``dpm validate`` on every
file that renders.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from dpm.engine.plan import Plan
from dpm.policy.model import PolicyDocument
from dpm.reports.diagnostics import DiagnosticsReport
from dpm.reports.dump import DumpReport
from dpm.reports.outcome import ApplyReport
from dpm.resources import models

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE = "https://dpm.dev/schemas/"
EXPRESSION = {"type": "string", "pattern": r"\$\{\{.*\}\}", "description": "A ${{ … }} expression."}
_SCALAR_KEYS = ("type", "enum", "const", "pattern", "minimum", "maximum", "minLength", "maxLength")
_NOT_TEMPLATED = frozenset({"kind"})

Document = Annotated[
    models.ProviderDocument | models.TemplatedProviderDocument | models.ProviderTemplateDocument,
    Field(description="A dpm config document: kind Provider (written out or fromTemplate) or ProviderTemplate."),
]


def _document_schema() -> dict[str, Any]:
    schema: dict[str, Any] = TypeAdapter(Document).json_schema()
    schema["oneOf"] = schema.pop("anyOf")
    result: dict[str, Any] = _allow_expressions(schema)
    return result


def _allow_expressions(node: Any, key: str | None = None) -> Any:
    if isinstance(node, list):
        return [_allow_expressions(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {k: _allow_expressions(v, k) if k != "properties" else _properties(v) for k, v in node.items()}
    if key not in ("$defs", "properties") and _is_scalar(result):
        return {"anyOf": [result, EXPRESSION]}
    return result


def _properties(properties: dict[str, Any]) -> dict[str, Any]:
    return {name: value if name in _NOT_TEMPLATED else _allow_expressions(value) for name, value in properties.items()}


def _is_scalar(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    if kind in ("object", "array", "null"):
        return False
    return any(k in node for k in _SCALAR_KEYS) and not (kind == "string" and set(node) <= {"type", "title"})


def schemas() -> dict[str, dict[str, Any]]:
    """File name → schema, for every file ``dpm schema --out`` writes."""
    generated = {
        "document.schema.json": _document_schema(),
        "dpm.schema.json": models.ProjectConfig.model_json_schema(),
        "environment.schema.json": models.EnvironmentConfig.model_json_schema(),
        "policy.schema.json": PolicyDocument.model_json_schema(),
        "diagnostics.schema.json": DiagnosticsReport.model_json_schema(),
        "plan.schema.json": Plan.model_json_schema(mode="serialization"),
        "apply.schema.json": ApplyReport.model_json_schema(mode="serialization"),
        "dump.schema.json": DumpReport.model_json_schema(mode="serialization"),
    }
    return {name: {"$schema": DIALECT, "$id": SCHEMA_BASE + name, **schema} for name, schema in generated.items()}


def render_schema(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = directory / name
        path.write_text(render_schema(schema), encoding="utf-8")
        written.append(path)
    return written
