"""Gold edits: broken copies of candidates, rendered on the manifest's beat grid without an analysis."""

from __future__ import annotations

import logging
import random

import numpy as np
import pytest

from rl_editor.audio.io import load_audio
from rl_editor.edit import CUT, Edit
from rl_editor.feedback.gold import render_gold_edits, song_beat_grid
from rl_editor.feedback.storage import FeedbackStore
from rl_editor.feedback.tasks import TaskConfig, beat_in_bar, broken_actions


def test_gold_edits_cut_a_candidate_off_the_beat_and_last_as_its_played_beats(manifest):
    made = render_gold_edits(manifest, gold_per_rater=2, rng=random.Random(1))
    assert [g.song_id for g in made] == ["song0", "song1"]
    replay = random.Random(1)
    for gold, song in zip(made, manifest.songs):
        intact = song.candidates[0]
        assert gold.intact_edit_id == intact.edit_id and gold.edit_id == f"{intact.edit_id}~gold"
        assert gold.actions == broken_actions(intact.actions, beat_in_bar(song.beats, song.downbeats), replay)
        newly_cut = [i for i, (a, b) in enumerate(zip(intact.actions, gold.actions)) if a != b]
        assert newly_cut and all(gold.actions[i] == CUT for i in newly_cut)
        source, audio = load_audio(manifest.resolve(song.song)), load_audio(manifest.root / gold.path)
        grid = song_beat_grid(song, source)
        assert (audio.sample_rate, audio.channels) == (source.sample_rate, source.channels) == (8000, 1)
        expected_s = Edit(song.song_id, np.asarray(gold.actions)).duration_seconds(grid.beat_durations_s)
        assert gold.duration_seconds == pytest.approx(expected_s, abs=1 / 8000)
        assert audio.duration_seconds == pytest.approx(gold.duration_seconds)


def test_no_gold_pairs_asked_renders_nothing(manifest):
    assert render_gold_edits(manifest, gold_per_rater=0, rng=random.Random(1)) == []
    assert not (manifest.root / "gold").exists()


def test_a_song_that_cannot_be_decoded_gets_no_gold_pair_and_the_others_do(manifest, caplog, tmp_path):
    manifest.resolve(manifest.songs[1].song).write_bytes(b"not audio at all" * 64)
    with caplog.at_level(logging.WARNING, logger="rl_editor.feedback"):
        made = render_gold_edits(manifest, gold_per_rater=4, rng=random.Random(1))
    assert [g.song_id for g in made] == ["song0", "song0"]
    assert [r.getMessage() for r in caplog.records if "song1" in r.getMessage()][0].endswith("it gets no gold pair")
    with FeedbackStore.open(f"sqlite:///{tmp_path / 'fb.sqlite'}", manifest.path) as store:
        store.create_tasks_from_manifest(manifest, TaskConfig(gold_per_rater=2))
        assert store.edit("song0-t0.0-0~gold") is not None and store.edit("song1-t0.1-1~gold") is None
