"""How much of a taste's headroom a policy captured, under the taste's own noise-free score, on held-out songs.

Shared by the RLHF benchmarks. Per held-out song, with the taste's per-song
normalised score (:mod:`rl_editor.raters.tastes`):

- ``old`` / ``new``: mean score of 8 samples of each policy at the evaluation's temperature (0.5), own length;
- ``best64``: the best of 64 samples of the old policy at temperature 1, own length: what a ranker that
  knew the listener could pick from the old policy's own reach;
- ``rm_best8``: the old policy's best of 8 samples (temperature 1) as ranked by the reward model;
- ``captured`` = (new - old) / (best64 - old) and ``rm_captured`` likewise, over the songs' means;
- the taste's signature criterion old -> new, its quality terms (the weighted criteria but length) old -> new,
  and distinct edits of 8 samples (new policy).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

EVAL_TEMPERATURE = 0.5


def heldout_analyses(run: Path) -> list:
    from rl_editor.audio.io import find_songs
    from rl_editor.audio.load import load_songs

    split = json.loads((run / "split.json").read_text())
    names = set(split["heldout"])
    songs_dir = Path(split["config"]["songs_dir"])
    paths = [song for song in find_songs(songs_dir) if song.song_id in names]
    return load_songs(paths, progress=False)


def headroom(
    old_policy: Path, new_policy: Path, reward_model: Path | None, taste_name: str, run: Path, seed: int = 0
) -> dict:
    """The figures of the module docstring, averaged over the run's held-out songs."""
    from rl_editor.policy.trainer import PPOTrainer
    from rl_editor.raters.tastes import TASTES, edit_criteria
    from rl_editor.reward import load_reward_model

    taste = TASTES[taste_name]
    signature = getattr(taste, "signature", None)
    old, new = PPOTrainer.from_checkpoint(old_policy), PPOTrainer.from_checkpoint(new_policy)
    ensemble = load_reward_model(reward_model) if reward_model else None
    rows = []
    for k, a in enumerate(heldout_analyses(run)):
        seeds = [seed * 10_000 + 100 * k + j for j in range(64)]
        old8 = old.generate_edits(a, [EVAL_TEMPERATURE] * 8, seeds[:8])
        new8 = new.generate_edits(a, [EVAL_TEMPERATURE] * 8, seeds[:8])
        wide = old.generate_edits(a, [1.0] * 64, seeds)
        row = {
            "old": float(np.mean(taste.score_batch(a, old8))),
            "new": float(np.mean(taste.score_batch(a, new8))),
            "best64": float(np.max(taste.score_batch(a, wide))),
            "distinct_new": len({e.tobytes() for e in new8}),
            "distinct_old": len({e.tobytes() for e in old8}),
        }
        if ensemble is not None:
            ranked = ensemble.score(a, np.stack(wide[:8]))[0]
            row["rm_best8"] = float(taste.score_batch(a, [wide[int(np.argmax(ranked))]])[0])
        if hasattr(taste, "explain"):
            row["quality_old"] = float(np.mean([_quality(taste, a, e) for e in old8]))
            row["quality_new"] = float(np.mean([_quality(taste, a, e) for e in new8]))
        if signature:
            row["signature_old"] = float(np.mean([edit_criteria(a, e)[signature] for e in old8]))
            row["signature_new"] = float(np.mean([edit_criteria(a, e)[signature] for e in new8]))
        rows.append(row)
    mean = {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}
    room = mean["best64"] - mean["old"]
    mean["captured"] = (mean["new"] - mean["old"]) / room if room > 1e-9 else float("nan")
    if "rm_best8" in mean:
        mean["rm_captured"] = (mean["rm_best8"] - mean["old"]) / room if room > 1e-9 else float("nan")
    mean["signature"] = signature
    return mean


def _quality(taste, analysis, actions) -> float:
    """The taste's raw weighted criteria but length: what the edit keeps and how it sounds, whatever its length."""
    return float(sum(v for k, v in taste.explain(analysis, actions).items() if k != "length"))


def headroom_text(h: dict) -> str:
    sig = (
        "" if not h.get("signature") else (f" | {h['signature']} {h['signature_old']:.3f} -> {h['signature_new']:.3f}")
    )
    if "quality_old" in h:
        sig += f" | quality but length {h['quality_old']:.2f} -> {h['quality_new']:.2f}"
    rm = "" if "rm_captured" not in h else f" | RM best-of-8 captures {h['rm_captured']:.0%}"
    return (
        f"taste score old {h['old']:+.2f} new {h['new']:+.2f} best-of-64 {h['best64']:+.2f}: captured "
        f"{h['captured']:.0%} of the headroom{rm}{sig} | distinct of 8: {h['distinct_old']:.1f} -> "
        f"{h['distinct_new']:.1f}"
    )
