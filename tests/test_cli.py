"""The ``rl-editor`` entry point: failed file operations are one line on stderr (exit 2); help shows no flag types."""

from __future__ import annotations

import errno

import pytest
import typer

from rl_editor.cli import app, hide_flag_types, os_error_line
from rl_editor.feedback.storage import FeedbackStore

FEEDBACK_COMMANDS = ("serve", "raters", "admin-token", "tasks", "export", "import", "agreement")


@pytest.fixture
def empty_db(tmp_path):
    path = tmp_path / "fb.sqlite"
    FeedbackStore.open(str(path)).close()
    return path


@pytest.mark.parametrize("csv", [False, True])
def test_output_under_a_file_is_one_line_naming_the_path(rl_editor_main, tmp_path, empty_db, csv):
    (tmp_path / "blocker").write_text("a file, not a folder")
    out = tmp_path / "blocker" / "sub" / "prefs.json"
    code, stdout, err = rl_editor_main("export", "--db", empty_db, "--out", out, *(["--csv"] if csv else []))
    assert code == 2 and stdout == ""
    assert err == f"error: {tmp_path / 'blocker' / 'sub'}: Not a directory\n"


def test_reading_a_folder_as_a_file_is_one_line(rl_editor_main, tmp_path, empty_db):
    (tmp_path / "prefs").mkdir()
    code, _, err = rl_editor_main("import", tmp_path / "prefs", "--db", empty_db)
    assert code == 2 and err == f"error: {tmp_path / 'prefs'}: Is a directory\n"


def test_os_error_lines_name_every_file_or_only_the_reason():
    assert os_error_line(OSError(errno.ENOSPC, "No space left on device")) == "No space left on device"
    assert (
        os_error_line(PermissionError(errno.EACCES, "Permission denied", "/data/out.json"))
        == "/data/out.json: Permission denied"
    )
    assert (
        os_error_line(OSError(errno.EXDEV, "Invalid cross-device link", "/a/.x.tmp", None, "/b/x"))
        == "/a/.x.tmp -> /b/x: Invalid cross-device link"
    )
    assert os_error_line(OSError("no errno at all")) == "no errno at all"


def test_rl_editor_errors_still_take_precedence_over_os_errors(rl_editor_main, tmp_path):
    code, _, err = rl_editor_main("agreement", "--db", tmp_path / "missing.sqlite")
    assert code == 2 and err == f"error: no feedback database at {tmp_path / 'missing.sqlite'} (check --db)\n"


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["export", "--help"],
        ["raters", "add", "--help"],
        ["tasks", "campaign", "--help"],
        ["tasks", "prioritize", "--help"],
    ],
)
def test_help_shows_flags_without_a_bool_type(rl_editor_main, args):
    code, out, _ = rl_editor_main(*args)
    assert code == 0 and "--help" in out and "Show this message and exit." in out
    assert "<bool>" not in out


def test_value_options_keep_their_types_in_help(rl_editor_main):
    code, out, _ = rl_editor_main("export", "--help")
    assert code == 0 and "<path>" in out and "<str>" in out


def _options(command, path=()):
    for param in command.params:
        if getattr(param, "param_type_name", None) == "option":
            yield " ".join(path), param
    for name, sub in getattr(command, "commands", {}).items():
        yield from _options(sub, (*path, name))


def test_every_feedback_option_has_a_help_text():
    command = hide_flag_types(typer.main.get_command(app))
    checked = [
        (where, param) for where, param in _options(command) if where == "" or where.split(" ")[0] in FEEDBACK_COMMANDS
    ]
    assert len(checked) > 40
    missing = [f"{where} {param.opts[0]}" for where, param in checked if not (param.help or "").strip()]
    assert missing == []
