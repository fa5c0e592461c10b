"""Schema checks with secrets hidden: checks see a placeholder, and the document itself is left as it was."""

from __future__ import annotations

from dpm.config.render import Renderer
from dpm.config.validate import check_documents, hidden
from dpm.config.yamlio import load_documents
from dpm.values import Secret


def test_hidden_copies_only_the_way_to_each_secret() -> None:
    text = "a:\n  b: ${{ secret.DPM_X }}\n  c: [1, 2]\nd: {e: f}\n"
    (document,), _ = load_documents("f.yaml", text)
    rendered, _ = Renderer({}, {"DPM_X": "canary"}).render(document)
    view = hidden(rendered)
    assert view["a"]["b"] == "********"
    assert isinstance(rendered.data["a"]["b"], Secret)
    assert view["d"] is rendered.data["d"]
    assert view["a"]["c"] is rendered.data["a"]["c"]


def test_a_document_without_secrets_is_checked_as_it_is() -> None:
    (document,), _ = load_documents("f.yaml", "a: 1\n")
    assert hidden(document) is document.data


def test_schema_errors_never_echo_a_secret() -> None:
    text = "kind: Provider\nidentifier: acme\nname: A\napiEndpoint: ${{ secret.DPM_X }}\n"
    (document,), _ = load_documents("f.yaml", text)
    rendered, _ = Renderer({}, {"DPM_X": "canary-value"}).render(document)
    _, problems = check_documents([rendered])
    assert problems
    assert all("canary-value" not in p.message for p in problems)
