"""The files of a new config repository (``dpm init``): plain text keyed by the path it takes in the repository.

Every file is written for people to read and edit: 2-space YAML, each setting with a comment that says what it
does, and a ``$schema`` modeline so that editors complete and check it. The example provider is a real document, so
the new repository passes ``dpm validate`` as it stands and ``dpm plan`` shows what it would create.

The CI workflows are the ones in ``examples/github/workflows`` (a test keeps this package's copy identical): the
copy here is what an installed dpm can write.
"""

from __future__ import annotations

from importlib import resources

from dpm.schemas import render_schema, schemas

SETTINGS = "dpm.yaml"
EXAMPLE = "providers.d/example.yaml"
GITIGNORE = ".gitignore"
IGNORED = ".dpm/"  # the embedded registry's database and keys


def settings(registry: str | None) -> str:
    target = f"registry: {registry}\n" if registry else "# registry: https://registry.example.com/api\n"
    return (
        "# yaml-language-server: $schema=schemas/dpm.schema.json\n"
        "# Project settings for the config in providers.d/. See dpm --help, and the schema above for every key.\n"
        "\n"
        "# The registry's API base URL. --registry and DPM_REGISTRY_URL override it; without any of them dpm uses\n"
        "# its embedded registry in .dpm/, for trying things out (refused under CI=true unless --registry embedded).\n"
        f"{target}"
        "\n"
        "# Glob patterns of the provider identifiers dpm owns. Providers outside them, and the registry's system\n"
        "# providers and templates, are never changed.\n"
        'scope: ["*"]\n'
        "\n"
        "# Delete providers in scope that the files lack (models first). Off: plans list them as kept instead.\n"
        "# --prune and --no-prune override it for one run.\n"
        "prune: false\n"
        "\n"
        "# A plan that deletes more objects than this is refused unless apply is given --allow-deletes N.\n"
        "maxDeletes: 5\n"
        "\n"
        "# gated: apply tests what it makes routable (and an active provider's new connection settings, on a\n"
        "# canary copy) before it goes live; direct: it writes the config as it is. --gate/--no-gate override it.\n"
        "rollout: direct\n"
    )


EXAMPLE_PROVIDER = """\
# yaml-language-server: $schema=../schemas/document.schema.json
# An example provider: edit it into your first one, or replace it. Every *.yaml file in providers.d/ is read,
# in sorted order; a file may hold several documents separated by ---.
kind: Provider
identifier: openai
name: OpenAI
# Built from the registry's system template, exactly as the API's template apply would build it. A provider can
# also be written out in full: apiEndpoint, authMethod, authConfig, capabilities and models.
fromTemplate: openai-template
customizations:
  # Read from the environment when dpm plans or applies; shown by name only, never its value.
  apiKey: ${{ secret.DPM_OPENAI_API_KEY }}
  status: active
"""


def gitignore() -> str:
    return f"# The embedded registry's database and keys (dpm plan and apply without a registry URL).\n{IGNORED}\n"


def schema_files() -> dict[str, str]:
    """Every schema dpm publishes, as ``dpm schema --out schemas`` writes them."""
    return {f"schemas/{name}": render_schema(schema) for name, schema in schemas().items()}


def workflow_files() -> dict[str, str]:
    """The example GitHub workflows, at the path GitHub reads them from."""
    folder = resources.files(__name__) / "workflows"
    return {
        f".github/workflows/{entry.name}": entry.read_text(encoding="utf-8")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".yml")
    }


def repository(registry: str | None = None, workflows: bool = False) -> dict[str, str]:
    """Every file of a new config repository, by its path in the repository."""
    files = {
        SETTINGS: settings(registry),
        EXAMPLE: EXAMPLE_PROVIDER,
        GITIGNORE: gitignore(),
        **schema_files(),
    }
    return files | workflow_files() if workflows else files
