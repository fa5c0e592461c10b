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


def test_an_object_with_very_many_unknown_keys_lists_a_hundred_and_counts_the_rest() -> None:
    provider = (
        "kind: Provider\nidentifier: acme\nname: A\napiEndpoint: https://a.example/v1\nauthMethod: api_key\n"
        "authConfig: {type: api_key, fields: {apiKey: k}}\ncapabilities: {supportsSystemMessages: true, "
        "maxContextLength: 1000, supportedRoles: [user], supportsStreaming: true, supportsTools: true}\n"
    )
    extra = "".join(f"extra{i}: {i}\n" for i in range(150))
    (document,), _ = load_documents("f.yaml", provider + extra)
    _, problems = check_documents([document])
    unknown = [p for p in problems if p.code == "unknown-key"]
    assert len(unknown) == 101
    assert unknown[-1].message == "50 more unknown keys are not listed"
    assert unknown[-1].line == 1


def test_the_canary_prefix_is_reserved_for_plain_and_templated_providers() -> None:
    plain = "kind: Provider\nidentifier: dpm-canary-acme\nname: A\n"
    templated = "kind: Provider\nidentifier: dpm-canary-team\nname: T\nfromTemplate: openai-template\n"
    for text in (plain, templated):
        (document,), _ = load_documents("f.yaml", text)
        _, problems = check_documents([document])
        reserved = [p for p in problems if "reserved for the canary copies of a gated apply" in p.message]
        assert [(p.path, p.line) for p in reserved] == [("identifier", 2)]
