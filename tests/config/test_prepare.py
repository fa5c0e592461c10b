"""Each file on its own: documents leave with the few positions compiling needs, and find the others again."""

from __future__ import annotations

from pathlib import Path

from dpm.config import prepare
from dpm.config.cache import CompileCache
from dpm.config.load import documents_of, read_sources
from dpm.config.render import Renderer
from dpm.pipeline import compile_config

PROVIDER = """\
kind: Provider
identifier: acme
name: Acme
description: for ${{ vars.team }}
apiEndpoint: https://api.acme.example/v1
authMethod: api_key
authConfig:
  type: api_key
  fields:
    apiKey: ${{ secret.DPM_ACME_KEY }}
capabilities:
  supportsSystemMessages: true
  maxContextLength: 8192
  supportedRoles: [user]
  supportsStreaming: true
  supportsTools: true
models:
"""
MODEL = """\
  - identifier: m{index}
    name: M{index}
    contextLength: 4096
    capabilities:
      supportsSystemMessages: true
      maxContextLength: 4096
      supportedRoles: [user]
      supportsStreaming: true
      supportsTools: true
      supportsFunctionCalling: true
"""


def test_a_compiled_document_keeps_only_the_positions_compiling_needs(tmp_path: Path) -> None:
    text = PROVIDER + "".join(MODEL.format(index=i) for i in range(3))
    (tmp_path / "acme.yaml").write_text(text)
    sources, problems = read_sources([str(tmp_path)], None)
    decoded, names = prepare.secret_names(sources)
    renderer = Renderer({"team": "platform"}, {"DPM_ACME_KEY": "k"}, names)
    prepared = prepare.prepare(decoded, renderer, CompileCache.off(), variables={"team": "platform"}, environment=None)
    assert not problems
    assert not prepared.diagnostics
    [checked] = prepared.checked
    document = checked.document
    assert set(document.marks) == {
        (),
        ("description",),
        ("authConfig", "fields", "apiKey"),
        *(("models", i, "identifier") for i in range(3)),
    }
    assert document.key_marks == {}
    # Any other position is read again from the file, exactly as a full read finds it.
    [full], _ = documents_of("acme.yaml", text)
    path = ("models", 2, "capabilities", "supportsTools")
    assert (document.mark(path).line, document.mark(path).column) == full.marks[path]
    assert document.marks == full.marks
    assert document.key_marks == full.key_marks
    config = compile_config([str(tmp_path)], variables=["team=platform"], environ={"DPM_ACME_KEY": "k"})
    assert config.valid, config.diagnostics
    assert config.state.model_origins[("acme", "m1")].line == text.splitlines().index("  - identifier: m1") + 1
