"""Pairs are ranked by how much the ensemble members disagree about them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from reward_helpers import make_analysis, random_edits

from rl_editor.generate.manifest import Candidate, Manifest, SongEntry
from rl_editor.reward.model import LearnedRewardModel, RewardEnsemble
from rl_editor.reward.select import PairSelectionError, pair_uncertainty, select_pairs


def synthetic_manifest(tmp_path, analyses, n_candidates: int = 5) -> Manifest:
    songs = []
    for s, analysis in enumerate(analyses):
        edits = random_edits(analysis, n_candidates, seed=s)
        candidates = [
            Candidate(
                f"{analysis.song_id}-{k}", 0.5, f"{analysis.song_id}/{k}.wav", 1.0, edits[k].tolist(), "policy-x", k
            )
            for k in range(n_candidates)
        ]
        songs.append(
            SongEntry(
                f"{analysis.song_id}.wav",
                analysis.song_id,
                analysis.duration_seconds,
                analysis.beat_times_s.tolist(),
                analysis.downbeat_times_s.tolist(),
                candidates,
            )
        )
    return Manifest(root=tmp_path, songs=songs)


@pytest.fixture(scope="module")
def ensemble() -> RewardEnsemble:
    members = []
    for seed in range(4):
        torch.manual_seed(seed)
        members.append(LearnedRewardModel().eval())
    return RewardEnsemble(members)


def test_select_pairs_ranks_within_song_pairs_by_descending_disagreement(tmp_path, ensemble):
    analyses = [make_analysis(f"s{k}", n_bars=10, seed=k) for k in range(3)]
    manifest = synthetic_manifest(tmp_path, analyses)
    ranked = select_pairs(manifest, ensemble, budget=12, analyses={a.song_id: a for a in analyses})
    assert len(ranked) == 12
    scores = [p.score for p in ranked]
    assert scores == sorted(scores, reverse=True)
    for pair in ranked:
        entry_a, _ = manifest.candidate(pair.edit_a)
        entry_b, _ = manifest.candidate(pair.edit_b)
        assert entry_a.song_id == entry_b.song_id == pair.song_id
    everything = select_pairs(manifest, ensemble, budget=None, analyses={a.song_id: a for a in analyses})
    assert len(everything) == 3 * 10


def test_already_judged_pairs_are_left_out(tmp_path, ensemble):
    analyses = [make_analysis("s0", n_bars=10)]
    manifest = synthetic_manifest(tmp_path, analyses)
    judged = [("s0-1", "s0-0"), ("s0-2", "s0-3")]
    ranked = select_pairs(manifest, ensemble, None, analyses={"s0": analyses[0]}, exclude=judged)
    assert len(ranked) == 8
    assert not {frozenset((p.edit_a, p.edit_b)) for p in ranked} & {frozenset(j) for j in judged}


def test_members_that_agree_give_zero_disagreement_and_information_gain(ensemble):
    same = np.tile(np.array([[0.0, 1.0, 3.0]]), (4, 1))
    a, b = np.array([0, 0, 1]), np.array([1, 2, 2])
    assert np.allclose(pair_uncertainty(same, a, b, ensemble, "disagreement"), 0.0)
    assert np.allclose(pair_uncertainty(same, a, b, ensemble, "bald"), 0.0, atol=1e-9)
    split = np.array([[0.0, 3.0, 0.0], [0.0, -3.0, 0.0], [0.0, 3.0, 0.0], [0.0, -3.0, 0.0]])
    gain = pair_uncertainty(split, a, b, ensemble, "bald")
    assert gain[0] > 0.1 and gain[1] < 1e-9


def test_unknown_method_and_mismatched_candidates_are_clear_errors(tmp_path, ensemble):
    analysis = make_analysis("s0", n_bars=10)
    manifest = synthetic_manifest(tmp_path, [analysis])
    with pytest.raises(PairSelectionError, match="disagreement, bald"):
        select_pairs(manifest, ensemble, 3, analyses={"s0": analysis}, method="entropy")
    manifest.songs[0].candidates[0].actions = [0, 0, 0]
    with pytest.raises(PairSelectionError, match="regenerate"):
        select_pairs(manifest, ensemble, 3, analyses={"s0": analysis})


def test_a_cap_per_edit_spreads_the_top_pairs_over_more_candidates(tmp_path, ensemble):
    analyses = [make_analysis("s0", n_bars=10)]
    manifest = synthetic_manifest(tmp_path, analyses, n_candidates=6)
    ranked = select_pairs(manifest, ensemble, 3, analyses={"s0": analyses[0]}, max_per_edit=1)
    used = [e for p in ranked for e in (p.edit_a, p.edit_b)]
    assert len(used) == len(set(used)) == 6
