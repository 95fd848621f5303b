"""The ``rl-editor`` command: one thin command per stage of the flow.

Each stage keeps its commands in ``rl_editor/<stage>/commands.py`` with a
``register(app)`` function; this module only assembles them, so ``--help``
stays fast (heavy imports happen inside the commands).
"""

from __future__ import annotations

import importlib
import sys

import typer

from rl_editor import __version__
from rl_editor.errors import RlEditorError

app = typer.Typer(
    name="rl-editor",
    help=(
        "Learn to edit songs the way people like them.\n\n"
        "Flow: analyze -> train-policy -> generate -> serve (raters judge pairs) -> "
        "export -> train-reward -> train-policy --init --reward-model -> evaluate. "
        "`rl-editor demo` runs all of it on songs it makes itself."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

STAGE_COMMAND_MODULES = (
    "rl_editor.audio.commands",
    "rl_editor.policy.commands",
    "rl_editor.audio.demo_commands",
    "rl_editor.generate.commands",
    "rl_editor.feedback.commands",
    "rl_editor.raters.commands",
    "rl_editor.reward.commands",
    "rl_editor.rlhf.commands",
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
    ),
) -> None:
    """Learn to edit songs the way people like them."""


def _register_stages() -> None:
    for name in STAGE_COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(app)


_register_stages()


def main() -> None:
    """Entry point: run the CLI, turning rl-editor's own errors into one line on stderr (exit 2)."""
    try:
        app()  # standalone mode: usage errors and exit codes are handled by click
    except RlEditorError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
