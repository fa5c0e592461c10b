"""What the text reports share: the plan's symbols and colours, and JSON values written inline.

Colour is plain ANSI: a reporter is given ``color=True`` only when its output goes to a terminal.
"""

from __future__ import annotations

import json
from typing import Any

SYMBOLS = {"create": "+", "update": "~", "delete": "-"}
_COLORS = {"create": 32, "update": 33, "delete": 31}  # green, yellow, red


def styled(text: str, action: str, color: bool) -> str:
    return f"\x1b[{_COLORS[action]}m{text}\x1b[0m" if color else text


def inline(value: Any) -> str:
    """A value as one line of JSON, readable in a diff (``"a", "b"``, not ``"a","b"``)."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
