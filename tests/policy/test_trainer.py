"""PPO trainer: learning, checkpoints, determinism and temperature sampling."""

from __future__ import annotations

import numpy as np
import pytest

from rl_editor.edit import CUT
from rl_editor.policy.dense_reward import edit_stats, score_edit
from rl_editor.policy.errors import PolicyError
from rl_editor.policy.length import target_share
from rl_editor.policy.songs import songs_fingerprint
from rl_editor.policy.trainer import PolicyConfig, PPOTrainer
from rl_editor.registry import load_model_file

SMALL = dict(n_envs=4, n_steps=64, batch_size=128, seed=0)


def _mean_pairwise_hamming(edits: list[np.ndarray]) -> float:
    return float(np.mean([np.mean(a != b) for i, a in enumerate(edits) for b in edits[i + 1 :]]))


@pytest.fixture(scope="module")
def trained(synthetic_analyses, tmp_path_factory) -> tuple[PPOTrainer, object]:
    """A policy trained briefly on four synthetic songs, with its log folder."""
    log_dir = tmp_path_factory.mktemp("policy-logs")
    trainer = PPOTrainer(PolicyConfig(**SMALL))
    trainer.train(150, analyses=synthetic_analyses[:4], progress=False, log_dir=log_dir)
    return trainer, log_dir


def test_training_writes_learning_curves_and_tensorboard_logs(trained):
    trainer, log_dir = trained
    lines = (log_dir / "learning_curve.csv").read_text().splitlines()
    header = lines[0].split(",")
    for column in (
        "episode_reward",
        "dense_total",
        "target",
        "duration_share",
        "splices_per_minute",
        "mean_splice_quality",
        "entropy",
        "approx_kl",
    ):
        assert column in header
    assert len(lines) - 1 == len(trainer.history) >= 150
    assert list((log_dir / "tensorboard").rglob("events.out.tfevents.*"))


def test_checkpoint_round_trip_keeps_actions_and_lineage(trained, synthetic_analyses, tmp_path):
    trainer, _ = trained
    path = trainer.save_checkpoint(tmp_path / "policy.pt")
    loaded = PPOTrainer.from_checkpoint(path)
    song = synthetic_analyses[5]
    for temperature, seed in ((0.0, 0), (0.7, 3)):
        np.testing.assert_array_equal(
            loaded.generate_edit(song, temperature=temperature, seed=seed),
            trainer.generate_edit(song, temperature=temperature, seed=seed),
        )
    meta = loaded.meta
    assert meta.kind == "policy" and meta.version.startswith("policy-") and meta.parent is None
    assert meta.trained_on["sha256"] == songs_fingerprint(synthetic_analyses[:4])
    assert meta.trained_on["count"] == 4 and meta.trained_on["reward_source"] == "dense"
    assert loaded.config == trainer.config


def test_fine_tuning_from_a_checkpoint_on_an_episode_reward(trained, synthetic_analyses, tmp_path):
    trainer, _ = trained
    parent = trainer.save_checkpoint(tmp_path / "parent.pt")
    tuner = PPOTrainer.from_checkpoint(parent)
    seen = []

    def fewer_cuts(episodes):
        seen.extend(episodes.actions)
        return np.array([-5.0 * float(np.mean(a == CUT)) for a in episodes.actions])

    tuner.train(
        20,
        analyses=synthetic_analyses[:4],
        progress=False,
        episode_reward_fn=fewer_cuts,
        env_overrides={"dense_reward_scale": 0.0},
        reward_source="reward-test",
    )
    child = tuner.save_checkpoint(tmp_path / "child.pt")
    _, meta = load_model_file(child, kind="policy")
    assert seen and meta.parent == trainer.meta.version
    assert meta.trained_on["reward_source"] == "reward-test"


def test_same_seed_and_songs_give_the_same_policy(synthetic_analyses):
    edits = []
    for _ in range(2):
        trainer = PPOTrainer(PolicyConfig(**SMALL))
        trainer.train(30, analyses=synthetic_analyses[:3], progress=False)
        edits.append(trainer.generate_edit(synthetic_analyses[4], temperature=0.8, seed=11))
        rewards = [row["episode_reward"] for row in trainer.history]
        edits.append(np.array(rewards))
    np.testing.assert_array_equal(edits[0], edits[2])
    np.testing.assert_array_equal(edits[1], edits[3])


def test_temperature_zero_is_greedy_and_higher_temperature_diversifies(trained, synthetic_analyses):
    trainer, _ = trained
    song = synthetic_analyses[4]
    seeds = list(range(8))
    greedy = trainer.generate_edits(song, [0.0] * 8, seeds)
    assert all(np.array_equal(greedy[0], g) for g in greedy)
    cold = _mean_pairwise_hamming(trainer.generate_edits(song, [0.05] * 8, seeds))
    hot = _mean_pairwise_hamming(trainer.generate_edits(song, [1.5] * 8, seeds))
    assert hot > cold
    trainer.set_temperature(0.0)
    np.testing.assert_array_equal(trainer.generate_edit(song, seed=123), greedy[0])
    with pytest.raises(PolicyError):
        trainer.set_temperature(-1.0)


def test_generate_edit_accepts_a_beat_features_array(trained, synthetic_analyses):
    trainer, _ = trained
    song = synthetic_analyses[5]
    from_features = trainer.generate_edit(song.features, temperature=0.0)
    np.testing.assert_array_equal(from_features, trainer.generate_edit(song, temperature=0.0))
    with pytest.raises(PolicyError, match="shape"):
        trainer.generate_edit(np.zeros((10, 7)))


def test_short_training_beats_the_untrained_policy_on_held_out_demo_songs(demo_analyses):
    train, held_out = demo_analyses[:3], demo_analyses[3:]
    untrained = PPOTrainer(PolicyConfig(**SMALL))
    untrained.reset_model(train)
    trainer = PPOTrainer(PolicyConfig(**SMALL))
    trainer.train(1000, analyses=train, progress=False)
    for song in held_out:
        before = np.mean([score_edit(song, e)["total"] for e in untrained.generate_edits(song, [1.0] * 4, range(4))])
        after = score_edit(song, trainer.generate_edit(song, temperature=0.0))["total"]
        assert after > before + 5.0, (after, before, edit_stats(song, trainer.generate_edit(song, temperature=0.0)))


def test_requested_lengths_are_met_and_bad_targets_refused(trained, synthetic_analyses):
    trainer, _ = trained
    song = synthetic_analyses[5]
    targets = [0.4, 0.55, 0.7, 0.85]
    edits = trainer.generate_edits(song, [0.5] * 4, [1, 2, 3, 4], targets)
    shares = [edit_stats(song, e)["duration_share"] for e in edits]
    for share, target in zip(shares, targets):
        assert abs(share - target) <= 0.05 * target + 1e-9
    assert shares == sorted(shares)
    for bad in (0.0, -0.2, 1.3, float("nan")):
        with pytest.raises(PolicyError, match="target"):
            trainer.generate_edit(song, target=bad)


def test_an_edit_trimmed_to_a_length_is_slid_to_its_smoothest_seams_again(trained, long_analyses, monkeypatch):
    """Trimming moves cut ends; generate_edits then slides every whole-bar cut again to its smoothest seam."""
    import rl_editor.policy.trainer as trainer_module
    from rl_editor.policy.length import slide_cuts_to_smooth_seams

    trainer, _ = trained
    trimmed: list[np.ndarray] = []
    fit = trainer_module.fit_to_target
    monkeypatch.setattr(trainer_module, "fit_to_target", lambda *args: trimmed.append(fit(*args)) or trimmed[-1])
    moved = 0
    for song in long_analyses:  # long enough to be cut in 4-bar phrases, so cuts slide
        edits = trainer.generate_edits(song, [0.5] * 4, [1, 2, 3, 4], [0.4, 0.55, 0.7, 0.85])
        for edit, cut in zip(edits, trimmed[-4:]):
            slid = slide_cuts_to_smooth_seams(song, cut)
            np.testing.assert_array_equal(edit, slid)
            moved += not np.array_equal(slid, cut)
    assert moved >= 1  # trimming left some seam that a slide makes smoother


def test_a_target_the_song_cannot_meet_gives_the_closest_edit_and_a_warning(trained, song_factory):
    trainer, _ = trained
    tiny = song_factory(21, n_bars=5)  # five one-bar phrases; the first and last are always kept
    with pytest.warns(UserWarning, match="closest edit"):
        actions = trainer.generate_edit(tiny, temperature=0.0, target=0.1)
    assert edit_stats(tiny, actions)["duration_share"] < 0.7


@pytest.mark.parametrize("text, share", [("0.55", 0.55), (0.4, 0.4), ("3:30", 0.7), ("210s", 0.7), ("150s", 0.5)])
def test_target_share_reads_shares_seconds_and_times(text, share):
    assert target_share(text, 300.0) == pytest.approx(share)


@pytest.mark.parametrize(
    "text, message",
    [
        ("0", "more than 0"),
        ("-1", "more than 0"),
        ("6:00", "longer than the song"),
        ("abc", "not a length"),
        ("210", "a share of the song is at most 1; for a time write 210s"),
    ],
)
def test_target_share_refuses_what_is_not_a_length(text, message):
    with pytest.raises(PolicyError, match=message):
        target_share(text, 300.0)
