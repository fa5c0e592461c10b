"""dpm completion: the shell's completion script, as click's own shell completion generates it.

The script calls dpm back with ``_DPM_COMPLETE`` set whenever the user presses Tab, so completions always match the
installed dpm: its commands, options and choices.
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

COMPLETE_VAR = "_DPM_COMPLETE"  # click's name for it: _{PROG_NAME}_COMPLETE
SHELLS = ("bash", "zsh", "fish")
INSTALL = {
    "bash": 'eval "$(dpm completion bash)"      # in ~/.bashrc',
    "zsh": 'eval "$(dpm completion zsh)"       # in ~/.zshrc',
    "fish": "dpm completion fish > ~/.config/fish/completions/dpm.fish",
}


@click.command(epilog="Install it once:\n\n\b\n" + "\n".join(f"  {line}" for line in INSTALL.values()))
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(context: click.Context, shell: str) -> int:
    """Print the completion script for SHELL (bash 4.4 or later, zsh, fish)."""
    completer = get_completion_class(shell)
    assert completer is not None  # click ships all three
    script = completer(context.find_root().command, {}, "dpm", COMPLETE_VAR).source()
    click.echo(script, nl=not script.endswith("\n"))
    return 0
