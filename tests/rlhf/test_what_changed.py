"""The evaluation says in words what changed between two policies: length, material, both or nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def test_a_policy_asked_for_shorter_edits_changed_length_and_the_same_policy_changed_nothing(
    rlhf_policy_path: Path, heldout_analyses: list
):
    from rl_editor.policy.trainer import PPOTrainer
    from rl_editor.rlhf.evaluate import evaluate_policies, held_out_raters

    old = PPOTrainer.from_checkpoint(rlhf_policy_path)
    shorter = PPOTrainer.from_checkpoint(rlhf_policy_path)
    shorter.config.preferred_target = 0.45
    raters = held_out_raters("musician", 1)
    same = evaluate_policies(old, old, heldout_analyses, raters, edits_per_song=4)
    assert same.material_change() == (0.0, 0.0)
    assert same.what_changed().startswith("what changed: nothing")
    moved = evaluate_policies(old, shorter, heldout_analyses, raters, edits_per_song=4)
    length, _ = moved.material_change()
    assert length > 0.15
    assert "what changed: length" in moved.summary()


def test_material_swapped_counts_beats_exchanged_beyond_the_length_change(
    rlhf_policy_path: Path, heldout_analyses: list
):
    from rl_editor.policy.trainer import PPOTrainer
    from rl_editor.rlhf.evaluate import evaluate_policies, held_out_raters

    old = PPOTrainer.from_checkpoint(rlhf_policy_path)
    result = evaluate_policies(old, old, heldout_analyses, held_out_raters("musician", 1), edits_per_song=1)
    song_id = next(iter(result.edits))
    n = len(result.edits[song_id]["old"][0])
    first_quarter_cut = [1] * (n // 4) + [0] * (n - n // 4)
    last_quarter_cut = [0] * (n - n // 4) + [1] * (n // 4)
    result.edits = {song_id: {"old": [first_quarter_cut], "new": [last_quarter_cut]}}
    length, swapped = result.material_change()
    assert length == 0.0
    assert np.isclose(swapped, (n // 4) / n)
    assert result.what_changed().startswith("what changed: material only")
