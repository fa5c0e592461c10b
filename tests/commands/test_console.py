"""The console: an apply's progress as plain lines when standard error is not a terminal."""

from __future__ import annotations

import pytest

from dpm.commands.console import apply_progress
from dpm.engine.apply import StepProgress


def test_piped_progress_is_one_plain_line_per_finished_step(capsys: pytest.CaptureFixture[str]) -> None:
    sending = StepProgress("import", 2, 5, "1,200 change(s)", "sending")
    apply_progress(sending)
    apply_progress(StepProgress("import", 2, 5, "1,200 change(s)", "done"))
    apply_progress(StepProgress("delete", 1, 1, "model acme/small", "failed"))
    assert capsys.readouterr().err.splitlines() == [
        "import 2/5: 1,200 change(s): done",
        "delete 1/1: model acme/small: failed",
    ]
    assert str(sending) == "import 2/5: 1,200 change(s): …"
