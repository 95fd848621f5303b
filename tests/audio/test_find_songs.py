"""One ``find_songs`` for every command: recursive, every supported format, stable ids for duplicate stems."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rl_editor.audio.io import AnalysisError, find_songs
from rl_editor.audio.load import load_songs


def touch(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")


def ids_and_paths(songs: list, root: Path) -> list[tuple[str, str]]:
    return [(song.song_id, song.path.relative_to(root).as_posix()) for song in songs]


def test_find_songs_recurses_into_every_format_and_disambiguates_duplicate_stems(tmp_path):
    touch(
        tmp_path,
        "intro.opus",
        "a/song.m4a",
        "b/song.wav",
        "b/deep/track.aac",
        "c/track.mp3",
        "same.flac",
        "same.ogg",
        "notes.txt",
        "cover.jpg",
        ".hidden/x.wav",
        "a/._song.m4a",
    )

    songs = find_songs(tmp_path)

    assert ids_and_paths(songs, tmp_path) == [
        ("a__song", "a/song.m4a"),
        ("b__deep__track", "b/deep/track.aac"),
        ("b__song", "b/song.wav"),
        ("c__track", "c/track.mp3"),
        ("intro", "intro.opus"),
        ("same-flac", "same.flac"),
        ("same-ogg", "same.ogg"),
    ]
    assert len({song.song_id for song in songs}) == len(songs)
    assert find_songs(tmp_path) == songs  # stable from run to run


def test_find_songs_skips_the_output_folder_and_honours_a_limit(tmp_path):
    touch(tmp_path, "x.wav", "y.wav", "out/x/x-t0.1-0.wav")
    assert ids_and_paths(find_songs(tmp_path, exclude=tmp_path / "out"), tmp_path) == [("x", "x.wav"), ("y", "y.wav")]
    assert [s.song_id for s in find_songs(tmp_path, exclude=tmp_path / "out", limit=1)] == ["x"]


def test_find_songs_names_a_missing_or_empty_folder(tmp_path):
    with pytest.raises(AnalysisError, match=r"nope: no such folder of songs"):
        find_songs(tmp_path / "nope")
    touch(tmp_path, "readme.md")
    with pytest.raises(AnalysisError, match=rf"{tmp_path.name}: no audio files found \(wav, .*opus, m4a, aac"):
        find_songs(tmp_path)


def test_load_songs_keeps_find_songs_ids_for_a_folder_and_given_ids_or_stems_for_files(
    tmp_path, demo_analyses, demo_songs_dir
):
    first, second = sorted(demo_songs_dir.glob("*.wav"))[:2]
    (tmp_path / "live").mkdir()
    shutil.copy(first, tmp_path / "live" / "take.wav")
    shutil.copy(second, tmp_path / second.name)

    from_folder = load_songs(tmp_path)

    assert [a.song_id for a in from_folder] == [song.song_id for song in find_songs(tmp_path)]
    assert {a.content_sha256 for a in from_folder} == {demo_analyses[0].content_sha256, demo_analyses[1].content_sha256}
    assert [a.song_id for a in load_songs([second, ("mine", first)])] == [second.stem, "mine"]
    with pytest.raises(AnalysisError, match="no such folder of songs"):
        load_songs(tmp_path / "nope")


@pytest.mark.slow
def test_every_command_finds_the_same_songs_under_the_same_ids(tmp_path, demo_songs_dir):
    """train-policy records the ids generate, evaluate and loop use (``song_id`` joins every stage)."""
    from rl_editor import generate
    from rl_editor.policy.trainer import PolicyConfig, PPOTrainer
    from rl_editor.rlhf import loop

    first, second = sorted(demo_songs_dir.glob("*.wav"))[:2]
    for folder, source in (("live", first), ("studio", first), ("studio/extra", second)):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(source, tmp_path / folder / ("take.wav" if source == first else second.name))
    expected = [song.song_id for song in find_songs(tmp_path)]
    assert expected == ["live__take", second.stem, "studio__take"]

    trainer = PPOTrainer(PolicyConfig(seed=0, n_envs=2, n_steps=16, batch_size=32))
    trainer.train(1, songs_dir=tmp_path, progress=False)
    trained_on = trainer.save_checkpoint(tmp_path / "policy.pt") and trainer.meta.trained_on
    split = loop.split_songs(tmp_path, heldout_songs=1, progress=False)

    assert trained_on["song_ids"] == expected
    assert [a.song_id for a in split.train + split.heldout] == expected
    assert generate.find_songs is find_songs
