"""Old-vs-new evaluation: paired seeds, order randomised and mapped back, identical edits are ties."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rl_editor.raters import Judgment
from rl_editor.rlhf.evaluate import (
    evaluate_policies,
    held_out_raters,
    judge_pairs,
    sample_policy_edits,
)
from rl_editor.rlhf.evaluation_result import EvaluationResult, outcomes_summary


class AlwaysA:
    """A rater who always prefers whatever is shown first."""

    name = "always-a"

    def judge(self, song, edit_a, edit_b) -> Judgment:
        return Judgment("a", 2)


def _independent_samples(policy_path, analyses, edits_per_song, temperature, seed):
    """The same policy's edits twice, with independent seeds (as two policies that edit alike would give)."""
    from rl_editor.policy.trainer import PPOTrainer

    policy = PPOTrainer.from_checkpoint(policy_path)
    return tuple(
        sample_policy_edits(policy, analyses, side, edits_per_song, temperature, seed) for side in ("old", "new")
    )


def test_a_policy_against_itself_makes_the_same_edits_and_every_pair_is_a_tie(rlhf_policy_path, demo_analyses):
    """Both policies sample with the same seeds (common random numbers), so a policy against itself gives
    identical edits: ties without asking anyone, a share of exactly one half, and a summary that says so."""
    result = evaluate_policies(
        rlhf_policy_path, rlhf_policy_path, demo_analyses, [AlwaysA()], temperature=1.5, seed=3, edits_per_song=5
    )
    assert result.win.n == len(demo_analyses) * 5 and result.win.ties == result.win.n
    assert result.win.preference_share == 0.5 and not result.win.target_met
    assert all(j.identical and j.outcome == "tie" for j in result.judgments)
    assert result.identical_share == 1.0
    assert (
        result.summary()
        .splitlines()[2]
        .endswith("; every pair identical: the new policy edits exactly as the old one (ties without asking)")
    )
    assert result.summary().splitlines()[3].startswith("  what changed: nothing that matters")


def test_independent_samples_of_one_policy_win_about_half_and_are_rarely_significant(rlhf_policy_path, demo_analyses):
    """Judgments cluster by song and edit pair, so one evaluation can lean either way by chance; over ten
    evaluation seeds the share centres on 50% and the by-song test keeps its error rate (the sign test
    that treats judgments as independent would call about a third of them significant)."""
    raters = held_out_raters("musician:mistake=0.1", 3, seed=7)
    wins = []
    for seed in range(10):
        old, new = _independent_samples(rlhf_policy_path, demo_analyses, 10, 1.5, seed)
        judgments = judge_pairs(demo_analyses, old, new, raters, np.random.default_rng(seed))
        assert len(judgments) == len(demo_analyses) * 10 * 3
        wins.append(outcomes_summary(judgments)[0])
    assert 0.45 < np.mean([w.preference_share for w in wins]) < 0.55
    assert sum(w.share_p_value < 0.025 for w in wins) <= 1
    assert sum(w.target_met for w in wins) <= 1


def test_the_shown_order_is_randomised_and_mapped_back(rlhf_policy_path, heldout_analyses):
    old, new = _independent_samples(rlhf_policy_path, heldout_analyses, 20, 1.0, 0)
    judgments = judge_pairs(heldout_analyses, old, new, [AlwaysA()], np.random.default_rng(0))
    asked = [j for j in judgments if not j.identical]
    assert len(asked) >= 15
    shown = [j.new_shown_as for j in asked]
    assert 0.25 * len(asked) < shown.count("a") < 0.75 * len(asked)
    assert all(j.outcome == ("new" if j.new_shown_as == "a" else "old") for j in asked)


def test_held_out_raters_are_independent_named_instances():
    raters = held_out_raters("musician:mistake=0.1", 3, seed=10)
    assert [r.name for r in raters] == ["musician-heldout-1", "musician-heldout-2", "musician-heldout-3"]
    assert len({r.seed for r in raters}) == 3


def test_a_result_survives_a_round_trip_through_json(tmp_path, rlhf_policy_path, heldout_analyses):
    raters = held_out_raters("musician", 2, seed=1)
    result = evaluate_policies(rlhf_policy_path, rlhf_policy_path, heldout_analyses, raters, edits_per_song=3)
    path = result.save(tmp_path / "eval.json")
    again = EvaluationResult.load(path)
    # as JSON text: every pair is a tie here, so the decisive rate is NaN, which equals nothing
    assert json.dumps(again.to_json(), sort_keys=True) == json.dumps(result.to_json(), sort_keys=True)
    assert len(again.judgments) == len(result.judgments) and again.identical_share == 1.0
    assert set(json.loads(path.read_text())["edits"][heldout_analyses[0].song_id]) == {"old", "new"}


def test_the_evaluate_command_prints_the_headline_and_how_the_edits_changed(tmp_path, rlhf_policy_path, demo_songs_dir):
    from typer.testing import CliRunner

    from rl_editor.cli import app

    out = tmp_path / "eval.json"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--old",
            str(rlhf_policy_path),
            "--new",
            str(rlhf_policy_path),
            "--songs",
            str(demo_songs_dir),
            "--rater",
            "musician:mistake=0.1",
            "--raters-per-spec",
            "2",
            "--judgments-per-song",
            "2",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    saved = json.loads(out.read_text())
    win = saved["win"]
    assert win["n"] == 4 * 2 * 2 and win["n_songs"] == 4
    assert win["share_ci_low"] <= win["preference_share"] <= win["share_ci_high"]
    assert win["preference_share"] == pytest.approx((win["wins"] + win["ties"] / 2) / win["n"])
    lines = result.stdout.splitlines()
    assert lines[0].endswith(
        f"new preferred {win['preference_share']:.1%} of 16 judgments (ties count half), "
        f"95% CI by rater and song {win['share_ci_low']:.1%}-{win['share_ci_high']:.1%} over "
        f"4 songs and 2 raters, p = {win['share_p_value']:.2g} by rater and song; "
        f"target > 60%: {'met' if win['target_met'] else 'not met'}"
    )
    assert lines[1].strip().startswith("decisive: new wins") and f"ties {win['tie_share']:.1%}" in lines[1]
    old, new = saved["edit_stats"]["old"], saved["edit_stats"]["new"]
    assert lines[2].strip() == (
        f"edits old -> new: length (share of the song) {old['duration_share']:.0%} -> {new['duration_share']:.0%}, "
        f"splices per minute {old['splices_per_minute']:.1f} -> {new['splices_per_minute']:.1f}, "
        f"splices on bar lines {old['bar_line_share']:.0%} -> {new['bar_line_share']:.0%}, "
        f"splice quality {old['mean_splice_quality']:.2f} -> {new['mean_splice_quality']:.2f}"
        "; every pair identical: the new policy edits exactly as the old one (ties without asking)"
    )
    assert "evaluating" not in result.stdout  # the progress bar is on stderr


def test_a_result_saved_before_song_intervals_still_loads():
    saved = {
        "win": {
            "wins": 3,
            "losses": 1,
            "ties": 0,
            "win_rate": 0.75,
            "ci_low": 0.3,
            "ci_high": 0.95,
            "p_value": 0.31,
            "confidence": 0.95,
            "n": 4,
        },
        "old_version": "policy-a",
        "new_version": "policy-b",
    }
    result = EvaluationResult.from_json(saved)
    assert result.win.cluster_ci_low is None and result.win.preference_share == 0.75
    assert "CI by song n/a (songs not recorded)" in result.summary()
    assert "edits old -> new: n/a" in result.summary()


def test_a_result_saved_before_the_headline_gets_it_from_its_judgments():
    judgments = [
        {"song_id": song, "k": 0, "rater": "r", "new_shown_as": "a", "preference": p, "strength": 1, "outcome": o}
        for song in ("s1", "s2", "s3")
        for p, o in (("a", "new"), ("tie", "tie"), ("tie", "tie"), ("tie", "tie"))
    ]
    saved = {
        "win": {
            "wins": 3,
            "losses": 0,
            "ties": 9,
            "win_rate": 1.0,
            "ci_low": 0.44,
            "ci_high": 1.0,
            "p_value": 0.125,
            "confidence": 0.95,
            "cluster_ci_low": 1.0,
            "cluster_ci_high": 1.0,
            "n_clusters": 3,
            "n": 12,
        },
        "old_version": "a",
        "new_version": "b",
        "judgments": judgments,
    }
    result = EvaluationResult.from_json(saved)
    assert result.win.preference_share == pytest.approx(7.5 / 12) and result.win.n_songs == 3
    assert result.win.cluster_ci_low < 1.0  # not the point interval the old file held
    assert result.win.share_ci_low < 0.5 and not result.win.target_met


def test_splices_per_minute_count_jumps_per_minute_of_the_edit(demo_analyses):
    from rl_editor.edit import CUT, splice_pairs
    from rl_editor.rlhf.evaluate import edit_behaviour

    song = demo_analyses[0]
    actions = np.zeros(song.n_beats, dtype=np.int8)
    actions[8:16] = CUT
    actions[40:48] = CUT
    played_s = song.beat_durations_s[actions != CUT].sum()
    stats = edit_behaviour(song, actions)
    assert len(splice_pairs(actions)) == 2
    assert stats["splices_per_minute"] == pytest.approx(2 / (played_s / 60))
    assert stats["duration_share"] == pytest.approx(played_s / song.duration_seconds, rel=1e-3)


def test_evaluation_without_raters_is_refused(rlhf_policy_path, heldout_analyses):
    from rl_editor.errors import RlEditorError

    with pytest.raises(RlEditorError, match="at least one rater"):
        evaluate_policies(rlhf_policy_path, rlhf_policy_path, heldout_analyses, [])


def test_a_result_file_with_an_unknown_key_or_a_bad_judgment_names_the_field(tmp_path):
    from rl_editor.rlhf.errors import RLHFError

    judgment = {
        "song_id": "s1",
        "k": 0,
        "rater": "r",
        "new_shown_as": "a",
        "preference": "a",
        "strength": 1,
        "outcome": "new",
    }
    saved = {
        "win": {
            "wins": 1,
            "losses": 0,
            "ties": 0,
            "win_rate": 1.0,
            "ci_low": 0.2,
            "ci_high": 1.0,
            "p_value": 0.5,
            "preference_share": 1.0,
        },
        "old_version": "a",
        "new_version": "b",
        "judgments": [judgment],
    }
    path = tmp_path / "eval.json"
    path.write_text(json.dumps({**saved, "colour": "red"}))
    with pytest.raises(RLHFError, match=r"eval.json: evaluation result: unknown field 'colour'$"):
        EvaluationResult.load(path)
    path.write_text(json.dumps({**saved, "judgments": [{**judgment, "preference": "maybe"}]}))
    with pytest.raises(RLHFError, match=r"evaluation result.judgments\[0\].preference: must be 'a', 'b' or 'tie'"):
        EvaluationResult.load(path)
    path.write_text(json.dumps(saved))
    assert EvaluationResult.load(path).judgments[0].preference == "a"


def test_the_best_of_n_arm_shows_the_reward_models_favourite_of_n_old_edits(
    tmp_path, rlhf_policy_path, rlhf_reward_path, heldout_analyses
):
    from rl_editor.reward import load_reward_model
    from rl_editor.rlhf.evaluate import sample_policy_edits

    raters = held_out_raters("musician:mistake=0.1", 2, seed=3)
    result = evaluate_policies(
        rlhf_policy_path,
        rlhf_policy_path,
        heldout_analyses,
        raters,
        temperature=1.5,
        seed=4,
        edits_per_song=5,
        reward_model=rlhf_reward_path,
        best_of=4,
    )
    arm = result.best_of
    assert arm is not None and arm.n == 4
    assert arm.win.n == len(heldout_analyses) * 5 * 2 == result.win.n
    ensemble = load_reward_model(rlhf_reward_path)
    samples = sample_policy_edits(_trainer(rlhf_policy_path), heldout_analyses, "best-of-4", 5 * 4, 1.5, 4)
    for song in heldout_analyses:
        chosen = np.asarray(arm.edits[song.song_id])
        assert all(
            any(np.array_equal(c, s) for s in samples[song.song_id][4 * k : 4 * k + 4]) for k, c in enumerate(chosen)
        )
        sample_scores = ensemble.score(song, np.stack(samples[song.song_id]))[0].reshape(5, 4)
        np.testing.assert_allclose(ensemble.score(song, chosen)[0], sample_scores.max(axis=1), rtol=1e-5)
        old_scores = ensemble.score(song, np.asarray(result.edits[song.song_id]["old"]))[0]
        assert ensemble.score(song, chosen)[0].mean() > old_scores.mean()
    # the old edits it is judged against are the same ones the new policy met
    assert {(j.song_id, j.k) for j in arm.judgments} == {(j.song_id, j.k) for j in result.judgments}
    summary = result.summary().splitlines()
    assert summary[3].startswith("  what changed: ")
    assert summary[4].startswith(
        f"  old + best-of-4 (ranked by {ensemble.version}) as new vs {result.old_version}: {arm.win.headline()}"
    )
    assert summary[5].strip() == arm.win.details()
    assert summary[6].strip().startswith("edits old -> best-of-4: length (share of the song) ")
    again = EvaluationResult.load(result.save(tmp_path / "eval.json"))
    assert again.best_of == arm


def test_without_a_reward_model_there_is_no_best_of_arm(rlhf_policy_path, heldout_analyses):
    result = evaluate_policies(
        rlhf_policy_path, rlhf_policy_path, heldout_analyses, held_out_raters("musician", 1, seed=2), edits_per_song=2
    )
    assert result.best_of is None and len(result.summary().splitlines()) == 4
    assert EvaluationResult.from_json(result.to_json()).best_of is None


def _trainer(path):
    from rl_editor.policy.trainer import PPOTrainer

    return PPOTrainer.from_checkpoint(path)


def test_the_evaluate_command_judges_the_best_of_n_arm_with_a_reward_model(
    tmp_path, rlhf_policy_path, rlhf_reward_path, demo_songs_dir
):
    from typer.testing import CliRunner

    from rl_editor.cli import app

    out = tmp_path / "eval.json"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--old",
            str(rlhf_policy_path),
            "--new",
            str(rlhf_policy_path),
            "--songs",
            str(demo_songs_dir),
            "--rater",
            "musician:mistake=0.1",
            "--raters-per-spec",
            "1",
            "--judgments-per-song",
            "2",
            "--reward-model",
            str(rlhf_reward_path),
            "--best-of",
            "3",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    arm = json.loads(out.read_text())["best_of"]
    assert arm["n"] == 3 and arm["win"]["n"] == 4 * 2
    lines = result.stdout.splitlines()
    assert lines[3].startswith("  what changed: ")
    assert lines[4].startswith("  old + best-of-3 (ranked by ") and "new preferred " in lines[4]
    assert lines[6].strip().startswith("edits old -> best-of-3: ")
