"""The whole flow on real recordings: analyse, train a policy, generate, judge, learn a reward.

Marked ``real_music``: it needs the short real songs (three ogg/vorbis cues,
48 kHz stereo, 43-105 s) that the music fetch script provides.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytestmark = pytest.mark.real_music


def test_real_songs_go_through_the_whole_flow(real_music_short_dir: Path, tmp_path: Path):
    from rl_editor.audio import analyze_many
    from rl_editor.edit import CUT, beat_sequence
    from rl_editor.generate import GenerateConfig, generate_candidates
    from rl_editor.policy.trainer import PolicyConfig, PPOTrainer
    from rl_editor.raters import load_rater, synthesize_preferences
    from rl_editor.reward.train import RewardTrainConfig, train_reward_model

    songs = sorted(real_music_short_dir.glob("*.ogg"))
    batch = analyze_many(songs, workers=1, progress=False)
    assert not batch.skipped and len(batch.analyses) == len(songs)
    for analysis in batch.analyses:
        assert analysis.source_sample_rate == 48000 and analysis.channels == 2
        assert 60 <= analysis.tempo_bpm <= 200 and analysis.n_beats >= 32

    trainer = PPOTrainer(PolicyConfig(seed=0, n_envs=3))
    trainer.train(6, analyses=batch.analyses, progress=False)
    policy_path = trainer.save_checkpoint(tmp_path / "policy.pt")

    manifest = generate_candidates(
        GenerateConfig(
            policy_path,
            real_music_short_dir,
            tmp_path / "candidates",
            temperatures=(0.5, 0.9),
            per_temperature=2,
            workers=1,
            progress=False,
        )
    )
    assert {entry.song_id for entry in manifest.songs} == {a.song_id for a in batch.analyses}
    by_id = {a.song_id: a for a in batch.analyses}
    for entry in manifest.songs:
        analysis = by_id[entry.song_id]
        for cand in entry.candidates:
            info = sf.info(manifest.resolve(cand.path))
            # rendering keeps the source's rate and channels, and the length follows from the actions
            assert info.samplerate == 48000 and info.channels == 2
            expected_s = analysis.beat_durations_s[beat_sequence(np.array(cand.actions))].sum()
            assert info.duration == pytest.approx(expected_s, abs=0.02)
            assert cand.actions[0] != CUT and cand.actions[-1] != CUT

    _judge_generated_candidates_through_the_server(manifest, tmp_path)

    rater = load_rater("musician:mistake=0.1", seed=3)
    pairs = synthesize_preferences(manifest, rater, n_pairs=24, seed=0, analyses=by_id, progress=False)
    assert len(pairs) >= 6 and {p.song_id for p in pairs} <= set(by_id)
    ensemble, report = train_reward_model(pairs, RewardTrainConfig(epochs=3, members=2, val_frac=0.0), analyses=by_id)
    analysis = batch.analyses[0]
    actions = np.array([c.actions for c in manifest.song(analysis.song_id).candidates])
    mean, std = ensemble.score(analysis, actions)
    assert mean.shape == std.shape == (len(actions),)
    assert np.all(np.isfinite(mean)) and np.all(std >= 0)
    assert report.n_train == len(pairs)


def _judge_generated_candidates_through_the_server(manifest, tmp_path: Path) -> None:
    """``generate`` leaves the songs where they are (``../``): the rater page must still play them."""
    from fastapi.testclient import TestClient

    from rl_editor.feedback.app import create_app
    from rl_editor.feedback.tasks import TaskConfig
    from rl_editor.raters import load_rater
    from rl_editor.raters.bot import run_rater_bot

    assert manifest.songs[0].song.startswith("..")
    app = create_app(manifest.path, f"sqlite:///{tmp_path / 'feedback.sqlite'}", TaskConfig(gold_per_rater=1))
    with TestClient(app) as client:
        token = app.state.store.add_rater("bot")
        assert run_rater_bot("http://testserver", token, load_rater("musician"), max_tasks=4, client=client) == 4
        exported = app.state.store.export_pairs(include_gold=True)
    assert exported and all(Path(p.extra["song_path"]).is_file() for p in exported)
