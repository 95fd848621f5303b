"""Pure planning functions: which pairs, how many raters, broken gold edits, splice times."""

import random

import numpy as np

from rl_editor.audio.song import segment_bounds
from rl_editor.edit import CUT
from rl_editor.feedback.tasks import (
    beat_in_bar,
    broken_actions,
    gold_due,
    hamming,
    overlap_targets,
    pair_key,
    plan_pairs,
    splice_times,
)
from rl_editor.generate.manifest import Candidate


def _cand(edit_id, actions):
    return Candidate(
        edit_id=edit_id, temperature=0.0, path=f"{edit_id}.wav", duration=1.0, actions=actions, policy="p", seed=0
    )


def test_plan_pairs_keeps_the_most_different_pairs_first():
    cands = [_cand("a", [0, 0, 0, 0]), _cand("b", [0, 1, 0, 0]), _cand("c", [0, 1, 1, 2]), _cand("d", [0, 0, 0, 0])]
    pairs = plan_pairs(cands, pairs_per_song=2)
    distances = [hamming(x.actions, y.actions) for x, y in pairs]
    assert distances == [3, 3]
    assert len(plan_pairs(cands)) == 5  # a/d are identical and never paired


def test_overlap_targets_give_the_requested_share_two_raters():
    targets = overlap_targets(10, 1, 0.3, random.Random(0))
    assert sorted(targets) == [1] * 7 + [2] * 3
    assert overlap_targets(4, 3, 0.5, random.Random(0)) == [3, 3, 3, 3]


def test_broken_actions_cut_runs_that_start_mid_bar():
    beats = [0.5 * i for i in range(32)]
    positions = beat_in_bar(beats, beats[::4])
    assert positions.tolist()[:8] == [0, 1, 2, 3, 0, 1, 2, 3]
    actions = [0] * 32
    broken = broken_actions(actions, positions, random.Random(0))
    cut = np.flatnonzero(np.asarray(broken) == CUT)
    assert cut.size >= 3
    run_starts = [i for i in cut if i - 1 not in cut]
    assert all(positions[i] in (1, 2) for i in run_starts)
    assert broken[0] == 0 and broken[-1] == 0


def test_splice_times_are_output_times_of_the_jumps():
    bounds = segment_bounds([0.1, 1.0, 2.0, 3.0], 4.0)
    assert bounds.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    sequence, times = splice_times([0, 1, 2, 0], bounds)
    assert sequence == [0, 2, 2, 3]
    assert times == [1.0, 2.0]  # after beat 0 (cut of beat 1), and at the repeat of beat 2


def test_pair_key_ignores_order_and_gold_spacing():
    assert pair_key("pair", "x", "y") == pair_key("pair", "y", "x")
    assert not gold_due(0, 0, 2) and gold_due(2, 0, 2) and not gold_due(3, 1, 2) and gold_due(7, 1, 2)
    assert not gold_due(50, 2, 2)


def test_new_task_keys_pairs_ratings_and_gold_pairs_of_the_same_edits_apart():
    from rl_editor.feedback.tasks import new_task

    pair = new_task("collect", "s", "y", "x", target_raters=2)
    rating = new_task("collect", "s", "y")
    gold = new_task("collect", "s", "y", "x", gold=True, target_raters=0)
    assert (pair.kind, rating.kind, gold.kind) == ("pair", "rating", "pair")
    assert pair.pair_key == new_task("collect", "s", "x", "y").pair_key
    assert len({pair.pair_key, rating.pair_key, gold.pair_key}) == 3
    assert rating.edit_b is None and gold.is_gold and not pair.is_gold and pair.edit_a == "y"
    assert (pair.target_raters, gold.target_raters, pair.n_assigned, pair.n_judged) == (2, 0, 0, 0)
    assert pair.id != new_task("collect", "s", "y", "x").id
