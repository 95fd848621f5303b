"""Both call styles score an edit the same; the ensemble gives spread; model files round-trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from reward_helpers import make_analysis, random_edits

from rl_editor.edit import beat_sequence
from rl_editor.registry import ModelFileError, ModelMeta, lineage_lines, list_models, save_model_file
from rl_editor.reward.features import edit_context
from rl_editor.reward.model import LearnedRewardModel, RewardEnsemble, RewardModelError, load_reward_model


@pytest.fixture(scope="module")
def ensemble() -> RewardEnsemble:
    members = []
    for seed in range(3):
        torch.manual_seed(seed)
        members.append(LearnedRewardModel(input_dim=125).eval())
    return RewardEnsemble(members)


def test_played_sequence_call_agrees_with_batched_action_scoring(ensemble):
    song = make_analysis("s", n_bars=10)
    edits = random_edits(song, 6, seed=1)
    scores = ensemble.member_scores(song, edits)
    member = ensemble.members[0]
    contexts = torch.from_numpy(edit_context(song, edits))
    with torch.no_grad():
        for k, actions in enumerate(edits):
            played = torch.from_numpy(song.features[beat_sequence(actions)])
            assert np.isclose(float(member(played, contexts[k])), scores[0, k], atol=1e-4)


def test_batched_sequences_with_padding_mask_match_single_calls(ensemble):
    song = make_analysis("s", n_bars=10)
    edits = random_edits(song, 3, seed=2)
    sequences = [song.features[beat_sequence(a)] for a in edits]
    length = max(len(s) for s in sequences)
    batch = torch.zeros(len(sequences), length, 125)
    mask = torch.zeros(len(sequences), length)
    for k, seq in enumerate(sequences):
        batch[k, : len(seq)] = torch.from_numpy(seq)
        mask[k, : len(seq)] = 1
    member = ensemble.members[1]
    with torch.no_grad():
        batched = member(batch, mask=mask)
        singles = torch.stack([member(torch.from_numpy(seq)) for seq in sequences])
    assert batched.shape == (3,)
    assert torch.allclose(batched, singles, atol=1e-5)


def test_ensemble_score_returns_mean_and_spread_per_edit(ensemble):
    song = make_analysis("s", n_bars=10)
    edits = random_edits(song, 50, seed=3)
    mean, std = ensemble.score(song, edits)
    assert mean.shape == std.shape == (50,)
    assert np.all(std > 0)
    assert np.allclose(mean, ensemble.member_scores(song, edits).mean(axis=0))


def test_scoring_edits_of_another_length_names_the_song(ensemble):
    song = make_analysis("s", n_bars=10)
    with pytest.raises(RewardModelError, match="'s'"):
        ensemble.score(song, np.zeros((2, song.n_beats + 1), dtype=np.int8))


def test_reward_model_file_round_trip_keeps_scores_and_lineage(ensemble, tmp_path):
    song = make_analysis("s", n_bars=10)
    edits = random_edits(song, 8, seed=4)
    parent = ModelMeta(kind="reward", version="reward-parent", trained_on={"source": "a.json", "count": 10})
    ensemble.save(tmp_path / "v1.pt", parent)
    child = ModelMeta(
        kind="reward", version="reward-child", parent="reward-parent", trained_on={"source": "b.json", "count": 20}
    )
    ensemble.save(tmp_path / "v2.pt", child)
    loaded = load_reward_model(tmp_path / "v2.pt")
    assert loaded.version == "reward-child" and loaded.meta.parent == "reward-parent"
    assert np.allclose(loaded.score(song, edits)[0], ensemble.score(song, edits)[0], atol=1e-6)
    lines = lineage_lines(list_models(tmp_path))
    assert lines[0].startswith("reward-parent") and lines[1].startswith("  reward-child")


def test_loading_a_policy_file_as_reward_model_is_a_clear_error(tmp_path):
    save_model_file(tmp_path / "policy.pt", {}, ModelMeta(kind="policy", version="policy-1"))
    with pytest.raises(ModelFileError, match="expected a reward model"):
        load_reward_model(tmp_path / "policy.pt")


def test_scoring_throughput_is_in_the_thousands_per_second(ensemble):
    import time

    song = make_analysis("s", n_bars=64)
    edits = random_edits(song, 400, seed=5)
    edits = np.tile(edits, (10, 1))
    ensemble.score(song, edits[:10])
    start = time.process_time()  # CPU time: the machine may be shared
    ensemble.score(song, edits)
    rate = len(edits) / max(time.process_time() - start, 1e-6)
    assert rate > 5000  # benchmark target is 10,000/s; keep slack for slower machines


def test_a_model_file_from_another_feature_layout_asks_for_retraining(tmp_path):
    torch.manual_seed(0)
    old = RewardEnsemble([LearnedRewardModel(context_dim=7)])
    old.save(tmp_path / "old.pt", ModelMeta(kind="reward", version="reward-old"))
    with pytest.raises(RewardModelError, match="retrain"):
        load_reward_model(tmp_path / "old.pt")


def test_numpy_features_are_accepted_like_the_system_description_calls_it():
    torch.manual_seed(0)
    model = LearnedRewardModel(input_dim=125).eval()
    song = make_analysis("s", n_bars=4)
    with torch.no_grad():
        assert model(song.features).shape == ()
        assert model(torch.from_numpy(song.features)[None]).shape == (1,)
