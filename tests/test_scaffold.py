"""The package's copy of the example workflows is what examples/github/workflows publishes: an installed dpm has
no checkout to read them from, so dpm init --workflows writes this copy."""

from __future__ import annotations

from dpm import scaffold
from tests.conftest import REPO


def test_the_packaged_workflows_are_the_published_examples() -> None:
    published = {
        f".github/workflows/{path.name}": path.read_text(encoding="utf-8")
        for path in sorted((REPO / "examples" / "github" / "workflows").glob("*.yml"))
    }
    assert scaffold.workflow_files() == published, (
        "copy examples/github/workflows/*.yml into src/dpm/scaffold/workflows/ (the two must stay identical)"
    )
