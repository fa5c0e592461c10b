"""The errors dpm reports to a user. ``cli.main`` is the one boundary that turns them into messages and exit codes.

    DpmError            anything dpm can explain; exit code 1 unless a subclass says otherwise
    ├── UsageError      the command line names something that does not exist or does not fit
    ├── RenderError     an expression in a config file cannot be evaluated (caught per value by render)
    └── Cancelled       the person at the terminal said no; said plainly, as Terraform does ("Apply cancelled.")

Problems in config files are not exceptions: they are ``Diagnostic`` values, so one run reports all of them.
"""

from __future__ import annotations


class DpmError(Exception):
    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(DpmError):
    pass


class RenderError(DpmError):
    pass


class Cancelled(DpmError):
    pass
