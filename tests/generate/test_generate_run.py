"""Generation runs with a real (briefly trained) policy over the demo songs."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
import soundfile as sf
from generate_helpers import TEMPERATURES, candidate_table, copy_output
from typer.testing import CliRunner

from rl_editor.audio import analyze_song, load_audio
from rl_editor.edit import Edit
from rl_editor.generate import (
    GenerateConfig,
    GenerateError,
    Manifest,
    candidate_seed,
    new_song_entry,
    run_generation,
    write_candidate,
)


def test_manifest_has_the_documented_format(reference_run, demo_songs_dir):
    data = json.loads(reference_run.manifest.path.read_text())
    assert [e["song_id"] for e in data] == sorted(p.stem for p in demo_songs_dir.glob("*.wav"))
    for entry in data:
        assert {"song", "song_id", "duration_seconds", "beats", "downbeats", "candidates"} <= entry.keys()
        assert not os.path.isabs(entry["song"]) and entry["song"].endswith(f"{entry['song_id']}.wav")
        assert set(entry["downbeats"]) <= set(entry["beats"])
        assert 1 <= len(entry["candidates"]) <= len(TEMPERATURES)
        for cand in entry["candidates"]:
            assert {"edit_id", "temperature", "path", "duration", "actions", "policy", "seed"} <= cand.keys()
            assert cand["path"] == f"{entry['song_id']}/{cand['edit_id']}.wav"
            assert cand["temperature"] in TEMPERATURES and cand["seed"] == candidate_seed(
                0, entry["song_id"], cand["temperature"], cand["k"]
            )
            assert len(cand["actions"]) == len(entry["beats"])
    assert reference_run.generated == [e["song_id"] for e in data] and not reference_run.skipped


def test_moving_the_output_folder_keeps_the_manifest_valid(reference_run, tmp_path):
    moved = copy_output(reference_run, tmp_path / "out")
    manifest = Manifest.load(moved)
    for entry in manifest.songs:
        assert manifest.resolve(entry.song).is_file()
        for cand in entry.candidates:
            assert manifest.resolve(cand.path).is_file()
            assert manifest.resolve(cand.path).is_relative_to(moved.resolve())


def test_candidate_durations_match_their_actions_and_audio(reference_run, demo_analyses):
    analyses = {a.song_id: a for a in demo_analyses}
    manifest = reference_run.manifest
    for entry in manifest.songs:
        analysis = analyses[entry.song_id]
        source_rate = sf.info(manifest.resolve(entry.song)).samplerate
        for cand in entry.candidates:
            predicted = Edit(entry.song_id, np.array(cand.actions)).duration_seconds(analysis.beat_durations_s)
            info = sf.info(manifest.resolve(cand.path))
            assert info.samplerate == source_rate
            assert cand.duration == pytest.approx(info.frames / info.samplerate, abs=1e-3)
            assert cand.duration == pytest.approx(predicted, abs=0.02)  # within a crossfade


def test_temperatures_give_different_edits_and_identical_ones_are_stored_once(
    policy_path, demo_songs_dir, tmp_path, capsys
):
    # Greedy decoding (temperature 0) gives the same edit for every k: one candidate per song.
    config = GenerateConfig(
        policy_path, demo_songs_dir, tmp_path / "out", temperatures=[0.0], per_temperature=3, limit=2, workers=1
    )
    report = run_generation(config)
    for entry in report.manifest.songs:
        (cand,) = entry.candidates
        assert [(o["temperature"], o["k"]) for o in cand.extra["also_from"]] == [(0.0, 1), (0.0, 2)]
        assert entry.extra["identical_candidates"] is True
        assert sorted(p.name for p in (tmp_path / "out" / entry.song_id).iterdir()) == [f"{cand.edit_id}.wav"]
    assert report.identical == [e.song_id for e in report.manifest.songs]
    err = capsys.readouterr().err
    assert err.count("all 3 candidates are identical") == 2
    assert any("all candidates identical for 2 songs" in line for line in report.summary_lines())


def test_rerun_does_only_missing_work(reference_run, tmp_path, policy_path, demo_songs_dir):
    out = copy_output(reference_run, tmp_path / "out")
    manifest = Manifest.load(out)
    first, second, *rest = manifest.songs
    lost = manifest.resolve(first.candidates[0].path)
    lost.unlink()  # an audio file deleted after the run
    dropped_dir = out / second.song_id
    shutil.rmtree(dropped_dir)
    manifest.songs.remove(second)  # a run stopped before finishing this song
    manifest.save()
    untouched = {p: p.stat().st_mtime_ns for e in rest for p in (manifest.resolve(c.path) for c in e.candidates)}
    kept = {p: p.stat().st_mtime_ns for p in (manifest.resolve(c.path) for c in first.candidates[1:])}

    report = run_generation(
        GenerateConfig(policy_path, demo_songs_dir, out, temperatures=TEMPERATURES, workers=1, progress=False)
    )
    assert report.repaired == [first.song_id] and report.generated == [second.song_id]
    assert report.already_complete == [e.song_id for e in rest]
    assert report.n_rendered == 1 + len(reference_run.manifest.song(second.song_id).candidates)
    assert lost.is_file()
    assert all(p.stat().st_mtime_ns == t for p, t in {**untouched, **kept}.items())
    assert candidate_table(Manifest.load(out)) == candidate_table(
        Manifest.load(copy_output(reference_run, tmp_path / "ref"))
    )


def test_interrupted_run_leaves_a_valid_manifest_and_rerun_completes_it(policy_path, demo_songs_dir, tmp_path):
    from rl_editor.generate.pool import load_policy

    class StopsAfterTwoSongs:
        """The real policy, with a Ctrl-C arriving while the third song is generated."""

        def __init__(self, path):
            self.policy, self.calls = load_policy(path), 0
            self.meta = self.policy.meta

        def generate_edits(self, analysis, temperatures, seeds):
            self.calls += 1
            if self.calls == 3:
                raise KeyboardInterrupt
            return self.policy.generate_edits(analysis, temperatures, seeds)

    config = GenerateConfig(
        policy_path, demo_songs_dir, tmp_path / "out", temperatures=(0.3, 0.7), workers=1, progress=False
    )
    with pytest.raises(KeyboardInterrupt):
        run_generation(config, loader=StopsAfterTwoSongs)
    assert len(Manifest.load(tmp_path / "out").songs) == 2
    report = run_generation(config)
    assert len(report.already_complete) == 2 and len(report.generated) == 2
    assert len(Manifest.load(tmp_path / "out").songs) == 4


@pytest.mark.slow
def test_one_worker_and_two_workers_give_the_same_manifest(reference_run, policy_path, demo_songs_dir, tmp_path):
    config = GenerateConfig(
        policy_path, demo_songs_dir, tmp_path / "out", temperatures=TEMPERATURES, workers=2, progress=False
    )
    report = run_generation(config)
    assert candidate_table(report.manifest) == candidate_table(
        Manifest.load(copy_output(reference_run, tmp_path / "ref"))
    )
    some = report.manifest.songs[-1].candidates[-1]
    assert (tmp_path / "out" / some.path).read_bytes() == (reference_run.manifest.root / some.path).read_bytes()


def test_unreadable_songs_are_skipped_and_listed_by_the_cli(policy_path, demo_songs_dir, tmp_path):
    from rl_editor.cli import app

    songs = tmp_path / "songs"
    songs.mkdir()
    good = sorted(demo_songs_dir.glob("*.wav"))[0]
    shutil.copy(good, songs / good.name)
    (songs / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 10)
    sf.write(songs / "short.wav", np.random.default_rng(0).uniform(-0.5, 0.5, (3 * 8000, 1)), 8000)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "generate",
            "--policy",
            str(policy_path),
            "--songs",
            str(songs),
            "--out",
            str(out),
            "--temperatures",
            "0.5,0.9",
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    skipped = [line for line in lines[lines.index("skipped 2 songs that could not be read:") + 1 :] if line]
    assert len(skipped) == 2 and any("corrupt.wav" in s for s in skipped) and any("short.wav" in s for s in skipped)
    assert [e.song_id for e in Manifest.load(out).songs] == [good.stem]
    assert "1 songs generated" in result.output and "2 skipped" in result.output


def test_cli_refuses_bad_temperatures_and_an_output_folder_made_with_other_settings_or_songs(
    reference_run, policy_path, demo_songs_dir, tmp_path
):
    import subprocess
    import sys

    cli = [
        sys.executable,
        "-m",
        "rl_editor.cli",
        "generate",
        "--policy",
        str(policy_path),
        "--songs",
        str(demo_songs_dir),
    ]
    bad = subprocess.run(
        cli + ["--out", str(tmp_path / "x"), "--temperatures", "0.1,hot"], capture_output=True, text=True
    )
    assert (
        bad.returncode == 2
        and bad.stderr.strip() == "error: --temperatures: expected numbers separated by commas, got '0.1,hot'"
    )
    out = copy_output(reference_run, tmp_path / "out")
    with pytest.raises(GenerateError, match="generated with other settings \\(seed differ\\)"):
        run_generation(GenerateConfig(policy_path, demo_songs_dir, out, temperatures=TEMPERATURES, seed=1, workers=1))
    elsewhere = tmp_path / "other-songs"
    elsewhere.mkdir()
    shutil.copy(demo_songs_dir / "demo_0.wav", elsewhere / "demo_0.wav")
    with pytest.raises(GenerateError, match="song id 'demo_0' already names .*demo_0.wav, not"):
        run_generation(GenerateConfig(policy_path, elsewhere, out, temperatures=TEMPERATURES, workers=1))


def test_hand_written_loop_in_the_system_description_style(policy_path, demo_songs_dir, tmp_path):
    from rl_editor.policy.trainer import PPOTrainer

    policy = PPOTrainer.from_checkpoint(policy_path)
    manifest = Manifest(root=(tmp_path / "eval_outputs").resolve())
    for song_path in sorted(demo_songs_dir.glob("*.wav"))[:1]:
        analysis, source = analyze_song(song_path), load_audio(song_path)
        entry = new_song_entry(analysis, song_path, manifest.root)
        for temp in [0.1, 0.5, 0.9]:
            seed = candidate_seed(0, analysis.song_id, temp, 0)
            actions = policy.generate_edit(analysis, temperature=temp, seed=seed)
            write_candidate(
                entry, manifest.root, analysis, source, actions, temperature=temp, seed=seed, policy=policy.meta.version
            )
        manifest.songs.append(entry)
        manifest.save()
    loaded = Manifest.load(tmp_path / "eval_outputs")
    assert [c.edit_id.rsplit("-", 1)[0] for c in loaded.songs[0].candidates] == [
        f"{loaded.songs[0].song_id}-t{t}-0" for t in (0.1, 0.5, 0.9)
    ]
    assert all(loaded.resolve(c.path).is_file() and c.duration > 0 for c in loaded.songs[0].candidates)


def test_rerun_regenerates_a_song_whose_beat_grid_changed(reference_run, tmp_path, policy_path, demo_songs_dir):
    out = copy_output(reference_run, tmp_path / "out")
    manifest = Manifest.load(out)
    entry = manifest.songs[0]
    original_beats = list(entry.beats)
    entry.beats[1] += 0.05  # as if the analysis had changed since the run
    manifest.resolve(entry.candidates[0].path).unlink()
    manifest.save()
    report = run_generation(
        GenerateConfig(policy_path, demo_songs_dir, out, temperatures=TEMPERATURES, workers=1, progress=False)
    )
    assert report.generated == [entry.song_id] and not report.repaired
    assert report.n_rendered == len(entry.candidates)
    assert Manifest.load(out).songs[0].beats == original_beats


def test_targets_span_lengths_and_the_manifest_records_them_and_the_structure(
    policy_path, demo_songs_dir, tmp_path, rl_editor_main
):
    out = tmp_path / "targets"
    code, stdout, _ = rl_editor_main(
        "generate",
        "--policy",
        str(policy_path),
        "--songs",
        str(demo_songs_dir),
        "--out",
        str(out),
        "--temperatures",
        "0.5",
        "--targets",
        "auto,0.45,0.8",
        "--workers",
        "1",
        "--limit",
        "2",
    )
    assert code == 0, stdout
    manifest = Manifest.load(out)
    for entry in manifest.songs:
        structure = entry.extra["structure"]
        assert structure["phrase_start_beats"][0] == 0 and len(structure["section_labels"]) >= 1
        by_target = {c.extra["target"]: c for c in entry.candidates}
        assert {0.45, 0.8} <= set(by_target)
        short, long = by_target[0.45], by_target[0.8]
        assert abs(short.duration / entry.duration_seconds - 0.45) <= 0.05 * 0.45 + 0.01
        assert abs(long.duration / entry.duration_seconds - 0.8) <= 0.05 * 0.8 + 0.01
        assert len(short.actions) == len(entry.beats)  # one action per beat, as everywhere


def test_a_song_of_absurdly_loud_float_samples_is_skipped_in_one_line(policy_path, demo_songs_dir, tmp_path):
    from rl_editor.generate.candidates import GenerateConfig
    from rl_editor.generate.run import run_generation

    songs = tmp_path / "songs"
    songs.mkdir()
    good = sorted(demo_songs_dir.glob("*.wav"))[0]
    shutil.copy(good, songs / good.name)
    samples, sr = sf.read(good, dtype="float32")
    sf.write(songs / "huge.wav", samples * np.float32(1e30), sr, subtype="FLOAT")
    report = run_generation(
        GenerateConfig(
            str(policy_path), str(songs), str(tmp_path / "out"), temperatures=(0.5,), workers=1, progress=False
        )
    )
    assert [e.song_id for e in report.manifest.songs] == [good.stem]
    [(path, reason)] = report.skipped
    assert path.endswith("huge.wav") and "times full scale" in reason and "\n" not in reason
