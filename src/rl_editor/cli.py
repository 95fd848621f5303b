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
        "export -> train-reward -> train-policy --reward-model -> evaluate. "
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


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit()


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
    """Entry point: run the CLI, turning known errors into one line on stderr."""
    try:
        app(standalone_mode=False)
    except RlEditorError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except typer.Exit as exc:  # pragma: no cover - raised by --version
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise


if __name__ == "__main__":
    main()
