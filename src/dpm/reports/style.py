"""What the text reports share: the plan's symbols and colours, values written inline or as indented blocks, and
the words for a plan with nothing to do.

Colour is plain ANSI: a reporter is given ``color=True`` only when the command colours its output (a terminal,
no NO_COLOR, no TERM=dumb, or --color always; see ``dpm.commands.console``).
"""

from __future__ import annotations

import json
import re
from typing import Any

from dpm.engine.plan import Plan

SYMBOLS = {"create": "+", "update": "~", "delete": "-"}
_COLORS = {"create": 32, "update": 33, "delete": 31}  # green, yellow, red


def styled(text: str, action: str, color: bool) -> str:
    return f"\x1b[{_COLORS[action]}m{text}\x1b[0m" if color else text


def inline(value: Any) -> str:
    """A value as one line of JSON, readable in a diff (``"a", "b"``, not ``"a","b"``)."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def targeted_note(plan: Plan) -> str:
    """What a targeted plan looked at: only its targets, so it says nothing of the rest of the registry."""
    needs = "it needs" if len(plan.targets) == 1 else "they need"
    return f"Targeted: {', '.join(plan.targets)}, with what {needs}; the rest of the registry was not compared."


def nested(value: Any) -> bool:
    """Whether ``value`` reads better as a block than on one line: a mapping with entries, or a list that holds a
    mapping or a list (a template's defaultModels). A list of plain values stays inline."""
    if isinstance(value, dict):
        return bool(value)
    return isinstance(value, list) and any(isinstance(item, dict | list) for item in value)


def block(value: Any, indent: int) -> list[str]:
    """A nested value as YAML-like lines indented by ``indent`` spaces: mapping keys bare, one entry per line, list
    items after ``- ``; plain values, empty ones and lists of plain values inline, so strings keep their quotes."""
    pad = " " * indent
    lines: list[str] = []
    entries = value.items() if isinstance(value, dict) else ((None, item) for item in value)
    for key, item in entries:
        label = "- " if key is None else f"{_key(key)}: "
        if not nested(item):
            lines.append(f"{pad}{label}{inline(item)}")
        elif key is None:  # a list item's first line shares the dash, as in YAML
            inner = block(item, indent + 2)
            lines += [f"{pad}- {inner[0].lstrip()}", *inner[1:]]
        else:
            lines += [f"{pad}{label.rstrip()}", *block(item, indent + 2)]
    return lines


def _key(key: Any) -> str:
    text = str(key)
    return text if re.fullmatch(r"[A-Za-z0-9_.-]+", text) else inline(text)


def nothing_to_do(plan: Plan) -> str:
    """Said only when true: "matches" needs no object in scope that the files lack and no value left uncompared,
    and a plan that compared everything (a targeted plan compared only its targets)."""
    if plan.targeted:
        return "No changes to the targeted objects" + (
            " (but some are in the registry and not in the files: kept, listed below)." if plan.kept else "."
        )
    if plan.kept:
        return "No changes to make, but the registry holds objects in scope that the files lack (kept, listed below)."
    if plan.warnings:  # on a plan without changes, each says what could not be compared
        return "No changes to make. The registry matches the configuration, except where a warning says it cannot tell."
    return "No changes. The registry matches the configuration."


_WHY = {
    "new": "new: written {held}, active once its test passes",
    "activated": "becomes active: written {held}, active once its test passes",
    "new-settings": "new connection settings: tested on canary copy {canary} first; the live provider keeps its "
    "current settings unless the test passes",
}
_ON_CANARY = "{what}, under new settings: tested as a copy under {canary}, written inactive, active once it passes"
_WHAT = {"new": "new", "activated": "becomes active", "new-settings": "new settings"}


def gate_heading(plan: Plan) -> str | None:
    """What a gated plan's tests are and cost, in one sentence; None for a plan made without the gate."""
    if plan.gate is None:
        return None
    tests = plan.gate.tests
    if not tests:
        return (
            "Gated rollout: nothing in this plan becomes routable or changes an active provider's connection, so "
            "there is nothing to test."
        )
    return (
        f"Gated rollout: {len(tests)} test(s) before what they test goes live, at most {plan.gate.requests} more "
        "request(s) (counted in the cost of applying):"
    )


def gate_lines(plan: Plan) -> list[str]:
    """One line per test of a gated plan, what it tests and why; then each provider whose models are left untested."""
    if plan.gate is None:
        return []
    found = []
    for test in plan.gate.tests:
        held = "testing" if test.kind == "provider" else "inactive"
        if test.kind == "model" and test.canary:
            why = _ON_CANARY.format(what=_WHAT[test.reason], canary=test.canary)
        else:
            why = _WHY[test.reason].format(held=held, canary=test.canary)
        found.append(f"{test.kind} {test.key}: {why}")
    for provider in plan.gate.untestedUnder:
        found.append(
            f"provider {provider.identifier}: not active, so its models that become active are not tested; "
            "apply refuses to write them if the provider changes first"
        )
    return found
