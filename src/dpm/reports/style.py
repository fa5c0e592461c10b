"""What the text reports share: the plan's symbols and colours, JSON values written inline, and the words for a
plan with nothing to do.

Colour is plain ANSI: a reporter is given ``color=True`` only when the command colours its output (a terminal,
no NO_COLOR, no TERM=dumb, or --color always; see ``dpm.commands.console``).
"""

from __future__ import annotations

import json
from typing import Any

from dpm.engine.plan import Plan

SYMBOLS = {"create": "+", "update": "~", "delete": "-"}
_COLORS = {"create": 32, "update": 33, "delete": 31}  # green, yellow, red


def styled(text: str, action: str, color: bool) -> str:
    return f"\x1b[{_COLORS[action]}m{text}\x1b[0m" if color else text


def inline(value: Any) -> str:
    """A value as one line of JSON, readable in a diff (``"a", "b"``, not ``"a","b"``)."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def nothing_to_do(plan: Plan) -> str:
    """Said only when true: "matches" needs no object in scope that the files lack and no value left uncompared."""
    if plan.kept:
        return "No changes to make, but the registry holds objects in scope that the files lack (kept, listed below)."
    if plan.warnings:  # on a plan without changes, each says what could not be compared
        return "No changes to make. The registry matches the configuration, except where a warning says it cannot tell."
    return "No changes. The registry matches the configuration."
