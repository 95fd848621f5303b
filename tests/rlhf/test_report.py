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


def _old_format_eval(song_outcomes: dict[str, list[str]]) -> dict:
    """An eval.json as the loop wrote it before the tie-inclusive headline (its point 'interval' included)."""
    judgments = [
        {
            "song_id": song,
            "k": k,
            "rater": "r1",
            "new_shown_as": "a",
            "preference": {"new": "a", "old": "b", "tie": "tie"}[o],
            "strength": 1,
            "outcome": o,
        }
        for song, outcomes in song_outcomes.items()
        for k, o in enumerate(outcomes)
    ]
    return {
        "win": {
            "wins": 11,
            "losses": 9,
            "ties": 0,
            "win_rate": 0.55,
            "ci_low": 0.34,
            "ci_high": 0.74,
            "p_value": 0.41,
            "confidence": 0.95,
            "cluster_ci_low": 0.55,
            "cluster_ci_high": 0.55,
            "n_clusters": 1,
            "n": 20,
        },
        "old_version": "policy-a",
        "new_version": "policy-b",
        "judgments": judgments,
        "edit_stats": {
            "old": {"keep_share": 0.77, "duration_share": 0.77, "bar_line_share": 1.0, "mean_splice_quality": 0.93},
            "new": {"keep_share": 0.76, "duration_share": 0.76, "bar_line_share": 0.98, "mean_splice_quality": 0.92},
        },
    }


def test_a_report_of_an_older_run_shows_the_headline_and_no_point_interval(rl_editor_main, tmp_path):
    run = a_started_run(tmp_path / "run")
    (run / "iter-01").mkdir()
    evaluation = _old_format_eval({"c": ["new"] * 11 + ["old"] * 9})
    (run / "iter-01" / "eval.json").write_text(json.dumps(evaluation))
    code, _, err = rl_editor_main("report", run)
    assert code == 0, err
    report = (run / "report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| iter-01 |"))
    assert row.startswith("| iter-01 | **55.0%** | n/a (1 song) | not met | 55.0% | n/a (1 song) | 0.0% | 11 / 9 / 0 |")
    assert "55.0%-55.0%" not in report
    assert "| iter-01 | 77% -> 76% | n/a -> n/a | 100% -> 98% | 0.93 -> 0.92 |" in report
    assert "tie-inclusive preference share" in report and (run / "win_rates.png").stat().st_size > 1000


def test_the_report_headline_counts_ties_half(rl_editor_main, tmp_path):
    run = a_started_run(tmp_path / "run")
    (run / "iter-01").mkdir()
    evaluation = _old_format_eval({"a": ["new"] * 3 + ["tie"] * 17, "b": ["new"] * 3 + ["old"] + ["tie"] * 16})
    (run / "iter-01" / "eval.json").write_text(json.dumps(evaluation))
    code, _, err = rl_editor_main("report", run)
    assert code == 0, err
    row = next(line for line in (run / "report.md").read_text().splitlines() if line.startswith("| iter-01 |"))
    assert row.startswith("| iter-01 | **56.2%** |")  # (6 + 33 / 2) / 40
    assert "| 85.7% |" in row and "| 82.5% | 6 / 1 / 33 |" in row


def test_the_report_shows_agreement_of_an_iterations_training_judgments_by_several_raters(rl_editor_main, tmp_path):
    from rl_editor.preferences import EditRef, PreferencePair, save_preferences

    run = a_started_run(tmp_path / "run")
    (run / "iter-01").mkdir()
    (run / "iter-02").mkdir()

    def pair(k: int, rater: str, preference: str) -> PreferencePair:
        return PreferencePair(
            "a",
            EditRef("x.wav", [0], 1.0, {"edit_id": f"x{k}"}),
            EditRef("y.wav", [1], 1.0, {"edit_id": f"y{k}"}),
            preference,
            2,
            rater,
            "",
        )

    # iter-01: two raters agree on 3 pairs and split on 1; iter-02: one rater, no agreement to report
    answers = {0: ("a", "a"), 1: ("b", "b"), 2: ("a", "a"), 3: ("a", "b")}
    save_preferences(
        run / "iter-01" / "preferences.json",
        [pair(k, rater, answer) for k, both in answers.items() for rater, answer in zip("pq", both)],
    )
    save_preferences(run / "iter-02" / "preferences.json", [pair(k, "p", "a") for k in range(4)])
    code, _, err = rl_editor_main("report", run)
    assert code == 0, err
    report = (run / "report.md").read_text()
    section = report[report.index("## Rater agreement") :]
    assert "**iter-01** (training judgments):" in section and "iter-02" not in section
    assert "- raw agreement (same direction): 0.750" in section
    assert "- Krippendorff's alpha (ordinal, -3..3): " in section


def test_names_from_files_and_people_are_shown_not_run_when_the_report_is_rendered(rl_editor_main, tmp_path):
    import markdown

    hostile = "<img src=x onerror=alert(1)>"
    run = tmp_path / "run"
    run.mkdir()
    split = {
        "train": [f"{hostile}.wav", "a|b"],
        "heldout": ["[click](javascript:alert(1))"],
        "config": {"rater": "musician`<script>alert(1)</script>"},
    }
    (run / "split.json").write_text(json.dumps(split))
    (run / "iter-01").mkdir()
    campaign = {
        "campaign": f"<script>alert(2)</script>\n# heading {hostile}",
        "n_judgments": 3,
        "screening_line": f"rater {hostile} flagged",
        "krippendorff_alpha": None,
    }
    (run / "iter-01" / "campaign.json").write_text(json.dumps(campaign))
    code, _, err = rl_editor_main("report", run)
    assert code == 0, err
    page = markdown.markdown((run / "report.md").read_text(), extensions=["tables"])
    assert "<img" not in page and "<script" not in page and "<a " not in page and "<h1>heading" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;.wav" in page and "a|b" in page
