"""The ``rl-editor analyze`` and ``rl-editor render`` commands, run as users run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rl_editor.audio import load_audio


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "rl_editor.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.mark.slow
def test_analyze_finishes_the_good_songs_names_each_skip_and_exits_nonzero(
    write_beat_file, write_encoded_file, tmp_path
):
    folder = write_beat_file("one.wav", seconds=12.0).parent
    write_beat_file("two.flac", seconds=12.0, bpm=100.0)
    write_encoded_file("three.m4a", seconds=12.0)  # AAC, decoded without a system FFmpeg
    (folder / "broken.ogg").write_bytes(b"OggS" + bytes(300))
    summary = tmp_path / "out" / "summary.json"
    result = run_cli("analyze", str(folder), str(tmp_path / "absent.mp3"), "--workers", "1", "--json", str(summary))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("one: ") and "beats" in line and "BPM" in line and "bars" in line for line in lines)
    assert any(line.startswith("two: ") for line in lines) and any(line.startswith("three: ") for line in lines)
    skips = [line for line in result.stderr.splitlines() if line.startswith("skipped ")]
    assert len(skips) == 2
    assert any("broken.ogg: truncated ogg" in line for line in skips)
    assert any("absent.mp3: no such file" in line for line in skips)
    assert "analysed 3 song(s), skipped 2" in result.stderr
    data = json.loads(summary.read_text())
    assert sorted(s["song_id"] for s in data["songs"]) == ["one", "three", "two"]
    assert len(data["skipped"]) == 2


def test_analyze_exits_zero_when_every_song_is_analysed(write_encoded_file):
    result = run_cli("analyze", str(write_encoded_file("song.m4a", seconds=12.0)), "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("song: ") and "skipped 0" in result.stderr


def test_analyze_fails_when_every_song_fails(tmp_path):
    result = run_cli("analyze", str(tmp_path / "nothing.wav"))
    assert result.returncode != 0
    assert "nothing.wav: no such file" in result.stderr


def test_render_writes_the_edit_and_rejects_bad_action_files(write_beat_file, tmp_path):
    from rl_editor.audio import analyze_song

    song = write_beat_file("song.wav", seconds=12.0, channels=2)
    analysis = analyze_song(song)
    actions = np.zeros(analysis.n_beats, dtype=int)
    actions[2:6] = 1
    actions_file = tmp_path / "actions.json"
    actions_file.write_text(json.dumps({"actions": actions.tolist()}))
    out = tmp_path / "edit.flac"
    result = run_cli("render", str(song), "--actions", str(actions_file), "--out", str(out))
    assert result.returncode == 0, result.stderr
    clip = load_audio(out)
    assert clip.channels == 2 and clip.sample_rate == 22050
    expected = analysis.beat_durations_s[actions == 0].sum()
    assert abs(clip.duration_seconds - expected) < 0.01

    actions_file.write_text(json.dumps([0, 1, 0]))
    bad = run_cli("render", str(song), "--actions", str(actions_file), "--out", str(tmp_path / "x.wav"))
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: ") and "3 actions" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.wav").exists()


def test_analyze_json_gives_bars_and_sections_in_seconds(write_beat_file, tmp_path):
    song = write_beat_file("song.wav", seconds=40.0)
    summary = tmp_path / "summary.json"
    result = run_cli("analyze", str(song), "--workers", "1", "--no-cache", "--json", str(summary))
    assert result.returncode == 0, result.stderr
    [data] = json.loads(summary.read_text())["songs"]
    beats = np.array(data["beat_times_s"])
    downbeats = beats[np.array(data["beat_in_bar"]) == 0]
    bars = np.array(data["bar_times_s"])
    assert len(bars) >= data["n_bars"] and bars[0] == 0.0
    assert all(np.abs(bars - t).min() < 2e-3 for t in downbeats[downbeats > bars[1] - 0.01])
    sections = data["sections"]
    assert sections and sections[0]["start_s"] == 0.0
    assert sections[-1]["end_s"] == pytest.approx(data["duration_seconds"], abs=1e-3)
    assert all(a["end_s"] == b["start_s"] for a, b in zip(sections, sections[1:]))
    assert all(isinstance(s["label"], str) and s["label"] for s in sections)


def test_analyze_takes_a_tempo_hint_and_refuses_a_bad_one_in_one_line(write_beat_file, tmp_path):
    song = write_beat_file("fast.wav", seconds=12.0, bpm=180.0)
    summary = tmp_path / "summary.json"
    result = run_cli(
        "analyze", str(song), "--workers", "1", "--no-cache", "--bpm-range", "160-200", "--json", str(summary)
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(summary.read_text())["songs"][0]["tempo_bpm"] == pytest.approx(180.0, rel=0.05)
    bad = run_cli("analyze", str(song), "--bpm-range", "fast")
    assert bad.returncode == 2
    assert (
        bad.stderr.strip() == "error: --bpm-range 'fast': not a tempo (174) or a range of tempi (160-200) "
        "between 30 and 320 BPM"
    )
