import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rl_editor.audio import analyze_song
from rl_editor.generate.manifest import Candidate, Manifest, SongEntry
from rl_editor.preferences import load_preferences, save_preferences
from rl_editor.raters import RaterError, load_rater, sample_edits, synthesize_preferences


def build_manifest(root: Path, analyses, n_candidates: int = 4, audio_root: Path | None = None) -> Manifest:
    """A manifest of each song with candidates sampled by ``sample_edits`` (no audio needed)."""
    entries = []
    for k, song in enumerate(analyses):
        rng = np.random.default_rng(k)
        song_path = (
            Path(song.path).resolve().relative_to(audio_root) if audio_root else Path(f"songs/{song.song_id}.wav")
        )
        candidates = [
            Candidate(
                edit_id=f"{song.song_id}-c{c}",
                temperature=0.1 * (c + 1),
                path=f"{song.song_id}/c{c}.wav",
                duration=float(song.beat_durations_s[actions != 1].sum()),
                actions=actions.tolist(),
                policy="policy-test",
                seed=c,
            )
            for c, actions in enumerate(sample_edits(song, n_candidates, rng))
        ]
        entries.append(
            SongEntry(
                song=str(song_path),
                song_id=song.song_id,
                duration_seconds=song.duration_seconds,
                beats=song.beat_times_s.tolist(),
                downbeats=song.downbeat_times_s.tolist(),
                candidates=candidates,
            )
        )
    manifest = Manifest(root=root, songs=entries)
    manifest.save()
    return manifest


@pytest.fixture
def manifest(tmp_path, songs):
    return build_manifest(tmp_path, songs)


def by_id(songs):
    return {s.song_id: s for s in songs}


def test_preferences_round_trip_through_the_preference_format(tmp_path, manifest, songs):
    pairs = synthesize_preferences(manifest, load_rater("musician"), n_pairs=None, seed=0, analyses=by_id(songs))
    assert len(pairs) == 3 * 6  # every pair of 4 candidates, 3 songs
    out = tmp_path / "prefs.json"
    save_preferences(out, pairs)
    loaded = load_preferences(out)
    assert [p.to_json() for p in loaded] == [p.to_json() for p in pairs]
    first = json.loads(out.read_text())[0]
    assert first["rater"] == "musician" and first["song_path"] == f"songs/{first['song_id']}.wav"
    assert first["edit_a"]["edit_id"].startswith(first["song_id"] + "-c")
    assert first["edit_a"]["path"] == f"{first['song_id']}/{first['edit_a']['edit_id'].split('-')[-1]}.wav"
    assert first["timestamp"].endswith("+00:00")


def test_each_side_carries_its_candidates_actions_and_duration(manifest, songs):
    pairs = synthesize_preferences(manifest, load_rater("radio"), n_pairs=8, seed=1, analyses=by_id(songs))
    for pair in pairs:
        for side in (pair.edit_a, pair.edit_b):
            entry, cand = manifest.candidate(side.extra["edit_id"])
            assert entry.song_id == pair.song_id
            assert side.actions == cand.actions and side.duration_seconds == pytest.approx(cand.duration)
        assert pair.edit_a.extra["edit_id"] != pair.edit_b.extra["edit_id"]
        assert (pair.preference == "tie") == ("tie_kind" in pair.extra)


def test_a_limited_number_of_pairs_is_spread_across_songs(manifest, songs):
    pairs = synthesize_preferences(manifest, load_rater("musician"), n_pairs=7, seed=2, analyses=by_id(songs))
    per_song = Counter(p.song_id for p in pairs)
    assert len(pairs) == 7 and max(per_song.values()) - min(per_song.values()) <= 1
    assert len({(p.edit_a.extra["edit_id"], p.edit_b.extra["edit_id"]) for p in pairs}) == 7


def test_the_rater_decides_and_the_seed_reproduces(manifest, songs):
    rater_spec = "musician:mistake=0.2"

    def run():
        return synthesize_preferences(
            manifest, load_rater(rater_spec, seed=5), n_pairs=10, seed=5, analyses=by_id(songs)
        )

    first, second = run(), run()
    assert [(p.edit_a.extra["edit_id"], p.preference) for p in first] == [
        (p.edit_a.extra["edit_id"], p.preference) for p in second
    ]
    # with a noiseless taste, the preferred side always has the higher taste score
    song_of = by_id(songs)
    from rl_editor.raters import TASTES

    for pair in synthesize_preferences(manifest, load_rater("purist:tie=0"), analyses=song_of, seed=0):
        taste = TASTES["purist"]
        gap = taste.score(song_of[pair.song_id], np.array(pair.edit_a.actions)) - taste.score(
            song_of[pair.song_id], np.array(pair.edit_b.actions)
        )
        assert pair.preference == ("a" if gap > 0 else "b")


def test_external_raters_work_and_are_named_by_their_spec(manifest, songs):
    pairs = synthesize_preferences(
        manifest, load_rater("example_rater_plugins:prefer_longer"), n_pairs=4, analyses=by_id(songs)
    )
    assert {p.rater for p in pairs} == {"example_rater_plugins:prefer_longer"}


def test_candidates_that_do_not_fit_the_song_are_reported(manifest, songs):
    manifest.songs[0].candidates[1].actions = manifest.songs[0].candidates[1].actions[:-3]
    with pytest.raises(RaterError, match="regenerate the candidates"):
        synthesize_preferences(manifest, load_rater("musician"), analyses=by_id(songs))


def test_synth_prefs_command_writes_a_preference_file(tmp_path, request):
    demo_songs_dir = request.getfixturevalue("demo_songs_dir")
    from typer.testing import CliRunner

    from rl_editor.cli import app

    analyses = [analyze_song(p) for p in sorted(demo_songs_dir.glob("*.wav"))[:2]]
    manifest = build_manifest(demo_songs_dir, analyses, n_candidates=3, audio_root=demo_songs_dir.resolve())
    out = tmp_path / "synthetic.json"
    result = CliRunner().invoke(
        app,
        [
            "synth-prefs",
            "--manifest",
            str(manifest.path),
            "--out",
            str(out),
            "--rater",
            "radio:mistake=0.1",
            "--pairs",
            "5",
            "--seed",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    pairs = load_preferences(out)
    assert len(pairs) == 5 and {p.rater for p in pairs} == {"radio"}
    assert "wrote 5 pairs" in result.output


def test_synth_prefs_command_rejects_a_bad_rater_spec(tmp_path, manifest):
    from typer.testing import CliRunner

    from rl_editor.cli import app

    out = tmp_path / "never.json"
    result = CliRunner().invoke(
        app, ["synth-prefs", "--manifest", str(manifest.path), "--out", str(out), "--rater", "loud"]
    )
    assert isinstance(result.exception, RaterError) and "unknown rater 'loud'" in str(result.exception)
    assert not out.exists()


def test_synth_prefs_written_elsewhere_trains_a_reward_model_from_there(tmp_path, request):
    demo_songs_dir = request.getfixturevalue("demo_songs_dir")
    from typer.testing import CliRunner

    from rl_editor.cli import app

    analyses = [analyze_song(p) for p in sorted(demo_songs_dir.glob("*.wav"))[:2]]
    run = tmp_path / "runs" / "cands"
    run.mkdir(parents=True)
    entries = build_manifest(run, analyses, n_candidates=3, audio_root=demo_songs_dir.resolve())
    for entry in entries.songs:  # songs named relative to the manifest's folder, as `generate` writes them
        entry.song = os.path.relpath(demo_songs_dir / entry.song, run)
    entries.save()
    assert entries.songs[0].song.startswith("..")
    out = tmp_path / "elsewhere" / "deeper" / "prefs.json"
    out.parent.mkdir(parents=True)
    result = CliRunner().invoke(app, ["synth-prefs", "--manifest", str(run), "--out", str(out), "--pairs", "6"])
    assert result.exit_code == 0, result.output
    for pair in load_preferences(out):
        assert Path(pair.song_path).is_file()
    trained = CliRunner().invoke(
        app,
        [
            "train-reward",
            "--preferences",
            str(out),
            "--out",
            str(tmp_path / "r.pt"),
            "--epochs",
            "2",
            "--members",
            "1",
            "--val-frac",
            "0",
        ],
    )
    assert trained.exit_code == 0, trained.output
    assert (tmp_path / "r.pt").is_file()
