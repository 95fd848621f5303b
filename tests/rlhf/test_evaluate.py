"""Old-vs-new evaluation: order randomised and mapped back, a policy against itself is a coin flip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rl_editor.raters import Judgment
from rl_editor.rlhf.evaluate import EvaluationResult, evaluate_policies, held_out_raters


class AlwaysA:
    """A rater who always prefers whatever is shown first."""

    name = "always-a"

    def judge(self, song, edit_a, edit_b) -> Judgment:
        return Judgment("a", 2)


def test_a_policy_against_itself_wins_about_half_and_is_not_significant(rlhf_policy_path, demo_analyses):
    raters = held_out_raters("musician:mistake=0.1", 3, seed=7)
    result = evaluate_policies(rlhf_policy_path, rlhf_policy_path, demo_analyses, raters, temperature=1.5,
                               seed=3, edits_per_song=10)
    assert result.win.n == len(demo_analyses) * 10 * 3
    assert result.win.wins + result.win.losses > 40
    assert 0.3 < result.win.win_rate < 0.7
    assert result.win.p_value > 0.01
    assert result.old_version == result.new_version


def test_the_shown_order_is_randomised_and_mapped_back(rlhf_policy_path, heldout_analyses):
    result = evaluate_policies(rlhf_policy_path, rlhf_policy_path, heldout_analyses, [AlwaysA()],
                               temperature=1.0, edits_per_song=20)
    shown = [j.new_shown_as for j in result.judgments]
    assert 5 < shown.count("a") < 15
    assert all(j.outcome == ("new" if j.new_shown_as == "a" else "old") for j in result.judgments)


def test_held_out_raters_are_independent_named_instances():
    raters = held_out_raters("musician:mistake=0.1", 3, seed=10)
    assert [r.name for r in raters] == ["musician-heldout-1", "musician-heldout-2", "musician-heldout-3"]
    assert len({r.seed for r in raters}) == 3


def test_a_result_survives_a_round_trip_through_json(tmp_path, rlhf_policy_path, heldout_analyses):
    raters = held_out_raters("musician", 2, seed=1)
    result = evaluate_policies(rlhf_policy_path, rlhf_policy_path, heldout_analyses, raters, edits_per_song=3)
    path = result.save(tmp_path / "eval.json")
    again = EvaluationResult.load(path)
    assert again.win == result.win
    assert again.judgments == result.judgments
    assert set(json.loads(path.read_text())["edits"][heldout_analyses[0].song_id]) == {"old", "new"}


def test_the_evaluate_command_prints_the_win_rate(tmp_path, rlhf_policy_path, demo_songs_dir):
    from typer.testing import CliRunner

    from rl_editor.cli import app

    out = tmp_path / "eval.json"
    result = CliRunner().invoke(app, [
        "evaluate", "--old", str(rlhf_policy_path), "--new", str(rlhf_policy_path), "--songs", str(demo_songs_dir),
        "--rater", "musician:mistake=0.1", "--raters-per-spec", "2", "--judgments-per-song", "2", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    assert "new policy wins" in result.stdout and "song-bootstrap 95% CI" in result.stdout
    assert "evaluating" not in result.stdout  # the progress bar is on stderr
    win = json.loads(out.read_text())["win"]
    assert win["n"] == 4 * 2 * 2 and win["n_clusters"] == 4
    assert win["cluster_ci_low"] <= win["win_rate"] <= win["cluster_ci_high"]


def test_a_result_saved_before_song_intervals_still_loads():
    saved = {"win": {"wins": 3, "losses": 1, "ties": 0, "win_rate": 0.75, "ci_low": 0.3, "ci_high": 0.95,
                     "p_value": 0.31, "confidence": 0.95, "n": 4},
             "old_version": "policy-a", "new_version": "policy-b"}
    result = EvaluationResult.from_json(saved)
    assert result.win.cluster_ci_low is None and "no song-bootstrap CI (songs not given)" in result.summary()


def test_evaluation_without_raters_is_refused(rlhf_policy_path, heldout_analyses):
    from rl_editor.errors import RlEditorError

    with pytest.raises(RlEditorError, match="at least one rater"):
        evaluate_policies(rlhf_policy_path, rlhf_policy_path, heldout_analyses, [])
