"""The reward commands end to end on the demo songs: train, list lineage, fine-tune, rank pairs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rl_editor.cli import app
from rl_editor.generate.manifest import Candidate, Manifest, SongEntry

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_manifest(demo_songs_dir: Path, demo_analyses, tmp_path_factory) -> Path:
    """A manifest of the demo songs with sampled candidates (no rendered audio needed)."""
    from rl_editor.raters.tastes import sample_edits

    root = tmp_path_factory.mktemp("reward-manifest")
    songs = []
    rng = np.random.default_rng(0)
    for path, analysis in zip(sorted(demo_songs_dir.glob("*.wav")), demo_analyses):
        edits = sample_edits(analysis, 8, rng)
        candidates = [
            Candidate(
                f"{analysis.song_id}-{k}", 0.5, f"{analysis.song_id}/{k}.wav", 1.0, [int(x) for x in a], "sampled", k
            )
            for k, a in enumerate(edits)
        ]
        songs.append(
            SongEntry(
                os.path.relpath(path, root),
                analysis.song_id,
                analysis.duration_seconds,
                analysis.beat_times_s.tolist(),
                analysis.downbeat_times_s.tolist(),
                candidates,
            )
        )
    manifest = Manifest(root=root, songs=songs)
    manifest.save()
    return manifest.path


@pytest.fixture(scope="module")
def preferences_file(demo_manifest: Path) -> Path:
    from rl_editor.preferences import save_preferences
    from rl_editor.raters import load_rater
    from rl_editor.raters.synth import synthesize_preferences

    pairs = synthesize_preferences(
        Manifest.load(demo_manifest), load_rater("musician", seed=0), n_pairs=100, seed=0, progress=False
    )
    path = demo_manifest.parent / "prefs.json"
    save_preferences(path, pairs)
    return path


def test_train_reward_then_fine_tune_shows_lineage_and_select_pairs_ranks(preferences_file, demo_manifest, tmp_path):
    models = tmp_path / "models"
    first = runner.invoke(
        app,
        [
            "train-reward",
            "--preferences",
            str(preferences_file),
            "--out",
            str(models / "r1.pt"),
            "--epochs",
            "3",
            "--members",
            "2",
        ],
    )
    assert first.exit_code == 0, first.output
    assert "validation (used for early stopping): accuracy" in first.stdout
    # progress (song analysis, epochs) goes to stderr so stdout holds only the results
    assert "analysing songs" in first.stderr and "val acc" in first.stderr
    assert "analysing songs" not in first.stdout and "val acc" not in first.stdout
    weights = tmp_path / "weights.json"
    weights.write_text(json.dumps({"musician": 0.5}))
    second = runner.invoke(
        app,
        [
            "train-reward",
            "--preferences",
            str(preferences_file),
            "--out",
            str(models / "r2.pt"),
            "--init",
            str(models / "r1.pt"),
            "--epochs",
            "2",
            "--members",
            "2",
            "--rater-weights",
            str(weights),
            "--loss",
            "bt",
        ],
    )
    assert second.exit_code == 0, second.output
    listing = runner.invoke(app, ["models", str(models)])
    lines = listing.output.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("  reward-") and "prefs.json (100 items)" in lines[0]

    ranking = tmp_path / "ranking.json"
    chosen = runner.invoke(
        app,
        [
            "select-pairs",
            "--manifest",
            str(demo_manifest),
            "--reward-model",
            str(models / "r2.pt"),
            "--budget",
            "10",
            "--out",
            str(ranking),
        ],
    )
    assert chosen.exit_code == 0, chosen.output
    rows = json.loads(ranking.read_text())
    assert len(rows) == 10 and set(rows[0]) == {"song_id", "edit_a", "edit_b", "score"}


@pytest.mark.slow
def test_bad_inputs_exit_with_one_line_errors(preferences_file, tmp_path):
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "rl_editor.cli", *args], capture_output=True, text=True)

    missing = run("train-reward", "--preferences", str(tmp_path / "nope.json"), "--out", str(tmp_path / "r.pt"))
    assert missing.returncode == 2 and missing.stderr.startswith("error: ") and "nope.json" in missing.stderr
    weights = tmp_path / "w.json"
    weights.write_text('{"musician": -1}')
    bad_weights = run(
        "train-reward",
        "--preferences",
        str(preferences_file),
        "--out",
        str(tmp_path / "r.pt"),
        "--rater-weights",
        str(weights),
    )
    assert bad_weights.returncode == 2 and "musician" in bad_weights.stderr
    assert len(bad_weights.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r.pt").exists()


def test_rendered_edits_scored_from_audio_agree_with_scores_from_actions(demo_songs_dir, demo_analyses, tmp_path):
    """The audio route (recover the played beats from the edit's file) scores edits like the action route."""
    from scipy.stats import spearmanr

    from rl_editor.audio import render_edit, save_audio
    from rl_editor.raters.tastes import sample_edits
    from rl_editor.reward.train import RewardTrainConfig, train_reward_model

    song_path = sorted(demo_songs_dir.glob("*.wav"))[0]
    song = demo_analyses[0]
    rng = np.random.default_rng(3)
    # a model that knows something: trained on judged pairs of the other demo songs
    from rl_editor.raters import load_rater

    rater = load_rater("musician", seed=1)
    from rl_editor.edit import Edit
    from rl_editor.preferences import EditRef, PreferencePair

    pairs = []
    for other in demo_analyses[1:]:
        edits = sample_edits(other, 40, rng)
        for a, b in zip(edits[::2], edits[1::2]):
            j = rater.judge(other, Edit(other.song_id, a), Edit(other.song_id, b))
            pairs.append(
                PreferencePair(
                    other.song_id,
                    EditRef("a", a.tolist(), 1.0),
                    EditRef("b", b.tolist(), 1.0),
                    j.preference,
                    j.strength,
                    "musician",
                    "2026-01-01T00:00:00",
                )
            )
    ensemble, _ = train_reward_model(
        pairs, RewardTrainConfig(epochs=10, members=2, val_frac=0.0), analyses={a.song_id: a for a in demo_analyses[1:]}
    )
    edits = sample_edits(song, 5, rng)
    from_actions = ensemble.score(song, np.stack(edits))[0]
    from_audio = []
    for k, actions in enumerate(edits):
        path = tmp_path / f"edit{k}.wav"
        save_audio(path, render_edit(song_path, song, actions))
        from_audio.append(ensemble.score_audio_file(path, song=song)[0])
    assert spearmanr(from_actions, from_audio).statistic >= 0.99
    assert np.allclose(from_actions, from_audio, atol=1e-4)
    features_only = ensemble.score_audio_file(tmp_path / "edit0.wav")
    assert np.isfinite(features_only[0])


def test_audio_that_is_not_a_render_of_the_song_is_not_read_as_one(demo_analyses):
    from rl_editor.audio.align import align_rendered_edit

    song = demo_analyses[0]
    rng = np.random.default_rng(0)
    noise = rng.normal(size=int(10 * song.sample_rate)).astype(np.float32)
    source = rng.normal(size=int(song.duration_seconds * song.sample_rate)).astype(np.float32)
    assert align_rendered_edit(noise, source, song.sample_rate, song) is None
