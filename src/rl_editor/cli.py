"""The ``rl-editor`` command: one thin command per stage of the flow.

Each stage keeps its commands in ``rl_editor/<stage>/commands.py`` with a
``register(app)`` function; this module only assembles them, so ``--help``
stays fast (heavy imports happen inside the commands).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

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
    "rl_editor.feedback.task_commands",
    "rl_editor.feedback.exchange_commands",
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
        importlib.import_module(name).register(app)


_register_stages()


def _is_flag(param: Any) -> bool:
    return getattr(param, "param_type_name", None) == "option" and bool(getattr(param, "is_flag", False))


def hide_flag_types(command: Any) -> Any:
    """Flags take no value, so their help shows no ``<bool>`` type (Typer shows one for every flag,
    ``--help`` included); applied to the command and all its subcommands. Returns ``command``."""
    params = list(getattr(command, "params", []))
    context_class = getattr(command, "context_class", None)
    if context_class is not None and hasattr(command, "get_help_option"):
        params.append(command.get_help_option(context_class(command)))
    for param in params:
        if _is_flag(param) and param.metavar is None:
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        hide_flag_types(sub)
    return command


def os_error_line(exc: OSError) -> str:
    """``<file>: <reason>`` for a failed file operation (both files of a failed rename or copy)."""
    reason = exc.strerror or str(exc)
    files = [str(name) for name in (exc.filename, exc.filename2) if name is not None]
    return f"{' -> '.join(files)}: {reason}" if files else reason


def one_line_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> str:
    """``warning: <message>``: how the command shows a warning (no source line, no category)."""
    return f"warning: {message}\n"


def main() -> None:
    """Entry point: run the CLI, turning rl-editor's own errors and failed file operations
    (missing file, permission denied, disk full) into one line on stderr (exit 2)."""
    import warnings

    warnings.formatwarning = one_line_warning
    command = hide_flag_types(typer.main.get_command(app))
    try:
        command()  # standalone mode: usage errors and exit codes are handled by click
    except RlEditorError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        typer.echo(f"error: {os_error_line(exc)}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
