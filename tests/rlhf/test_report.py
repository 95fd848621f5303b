"""``rl-editor report``: a folder that is not a loop run is a one-line error (exit 2),
not a traceback or an empty report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def a_started_run(folder: Path) -> Path:
    """A run folder as `rl-editor loop` leaves it right after splitting the songs."""
    folder.mkdir(parents=True)
    split = {"train": ["a", "b"], "heldout": ["c"], "config": {"rater": "musician"}}
    (folder / "split.json").write_text(json.dumps(split))
    return folder


def test_a_missing_folder_is_named_in_one_line(rl_editor_main, tmp_path):
    code, out, err = rl_editor_main("report", tmp_path / "nonexistent")
    assert code == 2 and out == ""
    assert err == f"error: {tmp_path / 'nonexistent'}: no such run folder\n"
    assert not (tmp_path / "nonexistent").exists()


def test_a_folder_that_is_not_a_run_is_refused_without_writing(rl_editor_main, tmp_path):
    (tmp_path / "notes.txt").write_text("not a run")
    code, _, err = rl_editor_main("report", tmp_path)
    assert code == 2 and err.startswith(f"error: {tmp_path}: not a run folder of `rl-editor loop`")
    assert len(err.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_a_file_instead_of_a_folder_is_refused(rl_editor_main, tmp_path):
    (tmp_path / "report.md").write_text("# old")
    code, _, err = rl_editor_main("report", tmp_path / "report.md")
    assert code == 2
    assert err == f"error: {tmp_path / 'report.md'}: not a folder; give the run folder of `rl-editor loop`\n"


def test_a_damaged_run_file_is_named(rl_editor_main, tmp_path):
    run = a_started_run(tmp_path / "run")
    (run / "iter-01").mkdir()
    (run / "iter-01" / "eval.json").write_text('{"win": ')
    code, _, err = rl_editor_main("report", run)
    assert code == 2 and err.startswith(f"error: {run / 'iter-01' / 'eval.json'}: not valid JSON")
    assert len(err.splitlines()) == 1


def test_a_started_run_gets_a_report_with_its_split(rl_editor_main, tmp_path):
    run = a_started_run(tmp_path / "run")
    (run / "iter-01").mkdir()
    code, out, err = rl_editor_main("report", run)
    assert code == 0, err
    report = (run / "report.md").read_text()
    assert "Held-out songs (evaluation only): c" in report and "| iter-01 | (not evaluated yet) |" in report


def test_write_report_raises_report_error_for_python_callers(tmp_path):
    from rl_editor.errors import RlEditorError
    from rl_editor.rlhf.report import ReportError, write_report

    with pytest.raises(ReportError, match="no such run folder"):
        write_report(tmp_path / "missing")
    assert issubclass(ReportError, RlEditorError)
