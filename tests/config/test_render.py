"""Rendering ${{ }} expressions: native types, contexts, DPM_-only environment, secrets, and the sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from dpm.config.render import Renderer, secret_reads
from dpm.config.yamlio import load_documents
from dpm.errors import RenderError
from dpm.values import Secret

CANARY = "sk-canary-render-0123456789"


@pytest.fixture
def renderer() -> Renderer:
    environ = {"DPM_REGION": "eu", "DPM_KEY": CANARY, "HOME": "/root", "AWS_SECRET_ACCESS_KEY": "aws"}
    return Renderer({"ctx": 8192, "name": "acme", "flags": {"beta": True}}, environ)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${{ vars.ctx }}", 8192),
        ("${{vars.ctx}}", 8192),
        ("${{ vars.ctx * 2 }}", 16384),
        ("${{ vars.flags.beta }}", True),
        ("${{ vars.name | upper }}", "ACME"),
        ("id-${{ vars.name }}", "id-acme"),
        ("${{ vars.ctx }}-${{ vars.name }}", "8192-acme"),
        ("${{ env.DPM_REGION }}", "eu"),
        ("${{ env.DPM_MISSING | default('us') }}", "us"),
        ("Bearer {{apiKey}}", "Bearer {{apiKey}}"),
        ("{{apiKey}} ${{ vars.name }}", "{{apiKey}} acme"),
        ("${# a comment #}plain", "plain"),
    ],
)
def test_expressions(renderer: Renderer, text: str, expected: Any) -> None:
    assert renderer.render_string(text) == expected


def test_secret_keeps_its_value_out_of_every_printed_form(renderer: Renderer) -> None:
    value = renderer.render_string("${{ secret.DPM_KEY }}")
    assert isinstance(value, Secret)
    assert value.reveal() == CANARY
    for shown in (str(value), repr(value), value.masked(), f"{value}"):
        assert CANARY not in shown
        assert "DPM_KEY" in shown


def test_anything_derived_from_a_secret_is_a_secret(renderer: Renderer) -> None:
    embedded = renderer.render_string("prefix-${{ secret.DPM_KEY }}")
    length = renderer.render_string("${{ secret.DPM_KEY | length }}")
    assert isinstance(embedded, Secret)
    assert embedded.reveal() == f"prefix-{CANARY}"
    assert isinstance(length, Secret)


def test_missing_secret_is_an_unknown_secret_not_an_error(renderer: Renderer) -> None:
    value = renderer.render_string("${{ secret.DPM_NOT_SET }}")
    assert isinstance(value, Secret)
    assert not value.known
    assert "not set" in value.masked()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${{ env.HOME }}", "env.HOME is not readable"),
        ("${{ env['HOME'] }}", "env.HOME is not readable"),
        ("${{ secret.AWS_SECRET_ACCESS_KEY }}", "secret.AWS_SECRET_ACCESS_KEY is not readable"),
        ("${{ env.DPM_MISSING }}", "environment variable DPM_MISSING is not set"),
        ("${{ vars.nmae }}", "'nmae' is undefined"),
        ("${{ nope }}", "'nope' is undefined"),
        ("${{ vars.ctx + }}", "expression syntax error"),
        ("${{ ''.__class__.__mro__ }}", "refused by the sandbox"),
        ("${{ vars.__class__ }}", "refused by the sandbox"),
        ("${{ 'x' * 1000000000 }}", "too large"),
        ("${{ [1] * 1000000000 }}", "too large"),
        ("${{ 9 ** 999999 }}", "too large"),
        ("${{ range(3) }}", "cannot hold"),
        ("${{ 1 / 0 }}", "ZeroDivisionError"),
        ("${{ 1e400 }}", "the expression gives a number that is not finite (inf or nan)"),
        ("${{ 'nan' | float }}", "the expression gives a number that is not finite (inf or nan)"),
        ("${% for x in range(9) %}x${% endfor %}", "statements"),
        ("${{ lipsum(1000000) }}", "'lipsum' is undefined"),
        ("${{ 'x' | center(1000000000) }}", "No filter named 'center'"),
    ],
)
def test_refusals_are_render_errors(renderer: Renderer, text: str, message: str) -> None:
    with pytest.raises(RenderError) as raised:
        renderer.render_string(text)
    assert message in raised.value.message


# Each would build a gigabyte or more; each is refused before it is built (peak memory: test_hostile_input.py).
@pytest.mark.parametrize(
    "source",
    [
        "'{:>1000000000}'.format('a')",
        "'{:.1000000000f}'.format(1.5)",
        "'{:099999999999}'.format(1)",
        "'{a:>99999}{a:>99999}'.format_map({'a': 'x'})",
        "'%1000000000s' % 'a'",
        "'%.1000000000f' % 1.5",
        "'%(a)s' * 99 % {'a': 'x' * 99999}",
        "'a'.center(1000000000)",
        "'a'.ljust(1000000000)",
        "'a'.rjust(1000000000, '-')",
        "'1'.zfill(1000000000)",
        "('\t' * 99).expandtabs(1000000000)",
        "('a' * 100000).replace('a', 'aaaaaaaaaa')",
        "('a' * 99999) | replace('a', 'bbbbb')",
        "range(100000) | join('x' * 1000)",
        "('x' * 10000).join(range(1000))",
        "('x' * 10000).join('y' * 10000)",
    ],
)
def test_expressions_that_would_build_huge_values_are_refused(renderer: Renderer, source: str) -> None:
    with pytest.raises(RenderError) as raised:
        renderer.render_string("${{ " + source + " }}")
    assert "would build a value larger than 100,000 characters" in raised.value.message


@pytest.mark.parametrize(
    "source", ["(9 ** 256) ** 256", "9 ** 256 * 9 ** 256 * 9 ** 256 * 9 ** 256 * 9 ** 256 * 9 ** 256"]
)
def test_integers_too_large_to_print_are_refused(renderer: Renderer, source: str) -> None:
    with pytest.raises(RenderError) as raised:
        renderer.render_string("${{ " + source + " }}")
    assert raised.value.message == "refused by the sandbox: the result would be an integer of more than 4,096 bits"


def test_integers_below_the_bound_are_computed(renderer: Renderer) -> None:
    assert renderer.render_string("${{ (2 ** 200) ** 20 }}") == 2**4000
    assert renderer.render_string("${{ -2 ** 3 * 4 }}") == -32


def test_star_widths_of_percent_formatting_are_refused(renderer: Renderer) -> None:
    with pytest.raises(RenderError) as raised:
        renderer.render_string("${{ '%*s' % (1000000000, 'a') }}")
    assert "'*' width or precision is not supported" in raised.value.message


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("'{:>5}|{:.2f}|{:,}'.format('a', 1.234, 1234567)", "    a|1.23|1,234,567"),
        ("'{x}-{y}'.format_map({'x': 1, 'y': 2})", "1-2"),
        ("'%05d%%' % 42", "00042%"),
        ("'%s-%s' % ('a', 'b')", "a-b"),
        ("'%(x)3s' % {'x': 'y'}", "  y"),
        ("10 % 3", 1),
        ("'a,b'.replace(',', ';')", "a;b"),
        ("'a,b' | replace(',', ';')", "a;b"),
        ("[1, 2] | join(',')", "1,2"),
        ("'-'.join(['a', 'b'])", "a-b"),
        ("'x'.center(5, '*')", "**x**"),
        ("'7'.zfill(3)", "007"),
    ],
)
def test_ordinary_formatting_still_works(renderer: Renderer, source: str, expected: Any) -> None:
    assert renderer.render_string("${{ " + source + " }}") == expected


def test_undefined_var_suggests_the_closest_name(renderer: Renderer) -> None:
    with pytest.raises(RenderError) as raised:
        renderer.render_string("${{ vars.nmae }}")
    assert raised.value.hint == "did you mean 'name'?"


def test_render_document_reports_each_failure_at_its_value(renderer: Renderer) -> None:
    (document,), _ = load_documents("f.yaml", "a: ${{ vars.ctx }}\nb:\n  - ${{ env.HOME }}\n  - ok\n")
    rendered, problems = renderer.render(document)
    assert rendered.data == {"a": 8192, "b": ["${{ env.HOME }}", "ok"]}
    (problem,) = problems
    assert (problem.line, problem.column, problem.path) == (3, 5, "b[0]")
    assert document.data["a"] == "${{ vars.ctx }}"  # the source document is left as it was


@pytest.mark.parametrize(
    "text",
    [
        "${{ env.DPM_PASSWORD }}",
        "${{ env['DPM_TOKEN'] }}",
        "${{ env.DPM_USERNAME }}",
        "${{ secret.DPM_PASSWORD }}",
        "prefix ${{ secret['DPM_TOKEN'] }}",
    ],
)
def test_dpm_own_credentials_are_readable_by_no_expression(text: str) -> None:
    password = "sk-canary-admin-password"
    renderer = Renderer({}, {"DPM_PASSWORD": password, "DPM_TOKEN": password, "DPM_USERNAME": "admin"})
    with pytest.raises(RenderError) as refused:
        renderer.render_string(text)
    assert "one of dpm's own credentials" in refused.value.message
    assert password not in refused.value.message + str(refused.value.hint)


def test_a_name_read_as_a_secret_anywhere_is_a_secret_when_read_through_env() -> None:
    renderer = Renderer({}, {"DPM_ORG_KEY": CANARY}, frozenset({"DPM_ORG_KEY"}))
    through_env = renderer.render_string("${{ env.DPM_ORG_KEY }}")
    assert isinstance(through_env, Secret)
    assert CANARY not in str(through_env)
    assert Renderer({}, {"DPM_REGION": "eu"}).render_string("${{ env.DPM_REGION }}") == "eu"


def test_secret_reads_finds_both_spellings() -> None:
    text = "a: ${{ secret.DPM_A }}\nb: \"${{ secret['DPM_B'] }}\"\nc: ${{ env.DPM_C }}\nd: secret.NOT_DPM\n"
    assert secret_reads(text) == {"DPM_A", "DPM_B"}
