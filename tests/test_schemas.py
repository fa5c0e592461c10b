"""The published JSON Schemas: current with the models, and in agreement with dpm on real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from dpm.schemas import render_schema, schemas
from tests.conftest import REPO, RunDpm

SCHEMAS = REPO / "schemas"
GOLDEN = REPO / "tests" / "golden"


@pytest.mark.parametrize("name", sorted(schemas()))
def test_committed_schemas_are_current(name: str) -> None:
    committed = (SCHEMAS / name).read_text()
    assert committed == render_schema(schemas()[name]), f"schemas/{name} is stale: run `dpm schema --out schemas`"


def test_schemas_are_valid_draft_2020_12() -> None:
    for name, schema in schemas().items():
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", name
        jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_command_writes_what_is_committed(tmp_path: Path, dpm: RunDpm) -> None:
    assert dpm("schema", "--out", str(tmp_path)).exit_code == 0
    for name in schemas():
        assert (tmp_path / name).read_text() == (SCHEMAS / name).read_text()
    assert json.loads(dpm("schema").out)["$id"].endswith("document.schema.json")


def test_example_files_point_editors_at_the_schema() -> None:
    for path in sorted((REPO / "providers.d").glob("*.yaml")):
        assert path.read_text().startswith("# yaml-language-server: $schema=../schemas/document.schema.json\n")


def test_check_jsonschema_accepts_the_example_config() -> None:
    files = sorted(str(p) for p in (REPO / "providers.d").glob("*.yaml"))
    command = [sys.executable, "-m", "check_jsonschema", "--schemafile", str(SCHEMAS / "document.schema.json"), *files]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# Golden cases whose problems are all schema-level: an independent validator must reject them too.
SCHEMA_LEVEL = ["unknown-keys", "wrong-types", "unknown-kind"]


@pytest.mark.parametrize("case", SCHEMA_LEVEL)
def test_an_independent_validator_rejects_what_dpm_rejects(case: str) -> None:
    validator = jsonschema.Draft202012Validator(schemas()["document.schema.json"])
    for path in sorted((GOLDEN / case / "providers.d").glob("*.yaml")):
        documents = list(yaml.safe_load_all(path.read_text()))
        assert any(not validator.is_valid(d) for d in documents)


def test_an_independent_validator_accepts_templated_values() -> None:
    validator = jsonschema.Draft202012Validator(schemas()["document.schema.json"])
    for path in sorted((GOLDEN / "vars-and-environments" / "providers.d").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            assert validator.is_valid(document), list(validator.iter_errors(document))
