"""The second line of defence: known secret values are replaced in everything dpm prints, logs or writes."""

from __future__ import annotations

import io
import logging

import pytest

from dpm import redaction
from dpm.commands.console import configure_logging
from dpm.redaction import ScrubbedStream, remember, scrub

CANARY = "sk-canary-redaction-5e1d"


def test_a_remembered_value_is_replaced_by_its_label_everywhere_in_a_text() -> None:
    remember(CANARY, "DPM_OPENAI_API_KEY")

    assert scrub(f"key={CANARY}; again {CANARY}.") == (
        "key=[secret DPM_OPENAI_API_KEY]; again [secret DPM_OPENAI_API_KEY]."
    )
    assert redaction.found_in(f"x{CANARY}x") == ["DPM_OPENAI_API_KEY"]
    assert redaction.found_in("nothing here") == []


def test_the_longest_value_wins_when_one_secret_contains_another() -> None:
    remember("abcdefgh", "SHORT")
    remember("abcdefgh-and-more", "LONG")

    assert scrub("abcdefgh-and-more / abcdefgh") == "[secret LONG] / [secret SHORT]"


@pytest.mark.parametrize("value", ["", "ollama", "1234567", None])
def test_short_values_are_not_scrubbed_since_they_match_ordinary_words(value: str | None) -> None:
    remember(value, "DPM_OLLAMA_LOCAL_API_KEY")

    assert scrub("provider ollama-local, port 1234567") == "provider ollama-local, port 1234567"


def test_a_scrubbed_stream_replaces_what_is_written_and_refuses_bytes() -> None:
    remember(CANARY, "DPM_KEY")
    target = io.StringIO()
    stream = ScrubbedStream(target)

    written = stream.write(f"leaked {CANARY}\n")

    assert written == len(f"leaked {CANARY}\n")
    assert target.getvalue() == "leaked [secret DPM_KEY]\n"
    assert not stream.isatty()
    with pytest.raises(TypeError):
        stream.write(b"bytes")  # type: ignore[arg-type]
    assert not hasattr(stream, "buffer")


def test_the_log_handler_scrubs_messages_and_their_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("dpm")
    saved = logger.handlers[:]
    logger.handlers.clear()
    try:
        configure_logging(verbose=True)
        remember(CANARY, "DPM_PASSWORD")
        logging.getLogger("dpm.http").warning("login as admin with %s", CANARY)
        logging.getLogger("dpm.http").info(f"inline {CANARY}")
    finally:
        logger.handlers[:] = saved

    err = capsys.readouterr().err
    assert CANARY not in err
    assert "dpm: login as admin with [secret DPM_PASSWORD]" in err
    assert "dpm: inline [secret DPM_PASSWORD]" in err


@pytest.fixture(params=["one by one", "by the pattern"])
def search(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Beyond the search limit, both ways of searching: value by value while little text was searched, then the
    pattern."""
    if request.param == "by the pattern":
        monkeypatch.setattr(redaction, "PATTERN_AFTER", 0)
        monkeypatch.setattr(redaction, "_searched", 1)
    return str(request.param)


def test_beyond_the_search_limit_every_value_is_found_the_longest_first(search: str) -> None:
    # A key per provider: more values than are searched one by one, sharing prefixes, with regex characters.
    keys = [f"sk-bench-{i:04d}-0123456789abcdef" for i in range(redaction.SEARCH_LIMIT + 50)]
    for index, key in enumerate(keys):
        remember(key, f"DPM_KEY_{index}")
    remember("a+b*c?(d)[e]{f}|g\\h", "ODD")
    remember("sk-bench-0007", "PREFIX")  # a value that another one extends

    text = f"x{keys[7]} / sk-bench-0007 / {keys[-1]}. a+b*c?(d)[e]{{f}}|g\\h and sk-bench-0007-01234"
    last = f"DPM_KEY_{len(keys) - 1}"
    assert scrub(text) == (
        f"x[secret DPM_KEY_7] / [secret PREFIX] / [secret {last}]. [secret ODD] and [secret PREFIX]-01234"
    )
    assert redaction.found_in(text) == [last, "DPM_KEY_7", "ODD", "PREFIX"]
    assert redaction.found_in("sk-bench- and nothing else") == []


def test_beyond_the_search_limit_a_secret_overlapping_another_is_still_found(search: str) -> None:
    for index in range(redaction.SEARCH_LIMIT + 1):
        remember(f"sk-filler-{index:04d}-abcdef", f"FILLER_{index}")
    remember("abcdefgh12", "FIRST")
    remember("12345678xy", "SECOND")

    assert redaction.found_in("abcdefgh12345678xy") == ["FIRST", "SECOND"]


def test_the_pattern_is_built_only_once_searching_value_by_value_costs_more(monkeypatch: pytest.MonkeyPatch) -> None:
    for index in range(redaction.SEARCH_LIMIT + 1):
        remember(f"sk-filler-{index:04d}-abcdef", f"FILLER_{index}")
    monkeypatch.setattr(redaction, "PATTERN_AFTER", 100)
    monkeypatch.setattr(redaction, "_compiled", ((), None))

    assert redaction.found_in("a short text with sk-filler-0003-abcdef") == ["FILLER_3"]
    assert redaction._compiled == ((), None)  # a short output: no pattern built

    assert scrub("x" * 100 + "sk-filler-0004-abcdef") == "x" * 100 + "[secret FILLER_4]"
    assert redaction._compiled[1] is not None  # that text took the count past PATTERN_AFTER: the pattern
    assert redaction.found_in("then sk-filler-0005-abcdef") == ["FILLER_5"]
