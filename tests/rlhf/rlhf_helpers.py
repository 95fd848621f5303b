"""Judged pairs of a policy's edits, without rendering audio (shared by the RLHF tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def judged_pairs(
    policy_path: Path, analyses: list, rater_spec: str = "musician:mistake=0.1", n_edits: int = 16, seed: int = 0
) -> list:
    """A rater's judgments of random pairs of the policy's edits at several temperatures."""
    from rl_editor.edit import Edit
    from rl_editor.policy.trainer import PPOTrainer
    from rl_editor.preferences import EditRef, PreferencePair
    from rl_editor.raters import load_rater

    policy = PPOTrainer.from_checkpoint(policy_path)
    rater = load_rater(rater_spec, seed=seed)
    rng = np.random.default_rng(seed)
    pairs = []
    for a in analyses:
        temps = [0.5, 1.0, 1.5, 2.0] * (n_edits // 4)
        edits = policy.generate_edits(a, temps, [seed * 1000 + k for k in range(n_edits)])
        for _ in range(3 * n_edits):
            i, j = rng.choice(n_edits, size=2, replace=False)
            if np.array_equal(edits[i], edits[j]):
                continue
            judgment = rater.judge(a, Edit(a.song_id, edits[i]), Edit(a.song_id, edits[j]))
            pairs.append(
                PreferencePair(
                    song_id=a.song_id,
                    edit_a=EditRef("", [int(x) for x in edits[i]], 0.0, {"edit_id": f"{a.song_id}-{i}"}),
                    edit_b=EditRef("", [int(x) for x in edits[j]], 0.0, {"edit_id": f"{a.song_id}-{j}"}),
                    preference=judgment.preference,
                    strength=judgment.strength,
                    rater=rater.name,
                    timestamp="2026-01-01T00:00:00",
                    notes="",
                )
            )
    return pairs
