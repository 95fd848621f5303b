"""``rl-editor edit``: sample edits with a trained policy, keep the reward model's favourite, render it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rl_editor.rlhf.edit import EditCommandError, format_time, parse_length, takes_target_length


@pytest.mark.parametrize(
    "text, keep_share",
    [
        ("0.55", 0.55),
        ("1", 1.0),
        ("3:30", 210 / 300),
        ("0:45", 45 / 300),
        ("210s", 210 / 300),
        ("1.5s", 1.5 / 300),
        (" 2:00.5 ", 120.5 / 300),
        ("5:00", 1.0),
    ],
)
def test_a_length_is_a_share_a_time_or_seconds(text, keep_share):
    assert parse_length(text, 300.0) == pytest.approx(keep_share)


@pytest.mark.parametrize(
    "text, message",
    [
        ("0", "--length 0: must be more than 0"),
        ("-0.5", "--length -0.5: must be more than 0"),
        ("0:00", "--length 0:00: must be more than 0"),
        ("5:01", "--length 5:01: 5:01 is longer than the song (5:00)"),
        ("301s", "--length 301s: 5:01 is longer than the song (5:00)"),
        ("1.5", "--length 1.5: a share of the song is at most 1; for a time write 1.5s or 0:02"),
        ("2", "--length 2: a share of the song is at most 1; for a time write 2s or 0:02"),
        ("210", "--length 210: a share of the song is at most 1; for a time write 210s or 3:30"),
        ("half", "--length 'half': not a length; give a share of the song"),
        ("3:75", "--length '3:75': not a length"),
        ("nan", "--length 'nan': not a length"),
        ("", "--length '': not a length"),
    ],
)
def test_a_bad_length_is_one_clear_line(text, message):
    with pytest.raises(EditCommandError) as caught:
        parse_length(text, 300.0)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_times_print_as_minutes_and_seconds():
    assert [format_time(s) for s in (0, 59.6, 61, 210, 3600)] == ["0:00", "1:00", "1:01", "3:30", "60:00"]


@pytest.fixture(scope="module")
def one_song(demo_songs_dir: Path) -> Path:
    return sorted(demo_songs_dir.glob("*.wav"))[0]


def test_edit_renders_the_reward_models_favourite_of_n(
    rl_editor_main, tmp_path, one_song, rlhf_policy_path, rlhf_reward_path
):
    from rl_editor.audio import analyze_song, load_audio
    from rl_editor.edit import splice_pairs
    from rl_editor.policy.trainer import PPOTrainer
    from rl_editor.reward import load_reward_model

    out = tmp_path / "edits"
    code, stdout, err = rl_editor_main(
        "edit",
        one_song,
        "--policy",
        rlhf_policy_path,
        "--reward-model",
        rlhf_reward_path,
        "--best-of",
        6,
        "--temperature",
        1.5,
        "--out",
        out,
    )
    assert code == 0, err
    saved = json.loads((out / f"{one_song.stem}.json").read_text())
    analysis = analyze_song(one_song)
    policy, reward = PPOTrainer.from_checkpoint(rlhf_policy_path), load_reward_model(rlhf_reward_path)
    # the six sampled edits, regenerated from their seeds and scored independently
    seeds = [s["seed"] for s in saved["sampled"]]
    noise = [s["content_noise"] for s in saved["sampled"]]
    assert noise == [0.0] * 3 + [2.0] * 3  # half the samples prefer cutting other sections
    edits = policy.generate_edits(analysis, [1.5] * 6, seeds, content_noise=noise)
    scores, _ = reward.score(analysis, np.stack(edits))
    assert len({e.tobytes() for e in edits}) > 1, "the sampled edits should differ for the test to mean anything"
    best = int(np.argmax(scores))
    assert saved["chosen"] == best and saved["actions"] == [int(x) for x in edits[best]]
    assert saved["reward_score"] == pytest.approx(float(scores.max()), abs=1e-5)
    assert [s["reward"] for s in saved["sampled"]] == pytest.approx([float(x) for x in scores], abs=1e-5)
    assert saved["policy"]["version"] == policy.meta.version and saved["reward_model"]["version"] == reward.version
    assert (saved["song_id"], saved["temperature"], saved["target"], saved["best_of"]) == (one_song.stem, 1.5, None, 6)
    chosen = np.asarray(saved["actions"])
    duration = float(
        analysis.beat_durations_s[
            np.repeat(np.arange(chosen.size), np.where(chosen == 1, 0, np.where(chosen == 2, 2, 1)))
        ].sum()
    )
    assert saved["duration_seconds"] == pytest.approx(duration)
    clip = load_audio(out / f"{one_song.stem}.wav")
    assert clip.duration_seconds == pytest.approx(duration, abs=0.01)
    # every sampled edit printed with its length and splices; the chosen one marked
    lines = stdout.splitlines()
    assert lines[0] == f"{one_song.stem} ({format_time(analysis.duration_seconds)}):"
    for k, edit in enumerate(edits):
        seconds = saved["sampled"][k]["duration_seconds"]
        expected = (
            f"  edit {k + 1}/6: {format_time(seconds)} ({seconds / analysis.duration_seconds:.0%} of the "
            f"song), {len(splice_pairs(edit))} splices, reward {scores[k]:+.3f}"
        )
        assert lines[k + 1] == expected + ("  <- chosen" if k == best else "")
    assert lines[7] == f"  wrote {out / one_song.stem}.wav and {out / one_song.stem}.json"


def test_without_a_reward_model_one_edit_is_made_for_each_song(
    rl_editor_main, tmp_path, demo_songs_dir, rlhf_policy_path
):
    songs = sorted(demo_songs_dir.glob("*.wav"))[:2]
    out = tmp_path / "edits"
    code, stdout, err = rl_editor_main("edit", *songs, "--policy", rlhf_policy_path, "--temperature", 0, "--out", out)
    assert code == 0, err
    for song in songs:
        saved = json.loads((out / f"{song.stem}.json").read_text())
        assert saved["best_of"] == 1 and saved["reward_score"] is None and saved["reward_model"] is None
        assert (out / f"{song.stem}.wav").is_file()
        assert f"{song.stem} (" in stdout and "  edit 1/1: " in stdout
    assert "<- chosen" not in stdout and ", reward " not in stdout
    assert "editing" in err  # a progress bar over several songs, on stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--length", "0"], "error: --length 0: must be more than 0"),
        (["--length", "9:00"], "is longer than the song"),
        (["--length", "soon"], "error: --length 'soon': not a length"),
        (["--length", "1.5"], "error: --length 1.5: a share of the song is at most 1"),
        (["--best-of", "3"], "error: --best-of 3 needs --reward-model to rank the edits by"),
    ],
)
def test_bad_options_are_one_line_and_write_nothing(
    rl_editor_main, tmp_path, one_song, rlhf_policy_path, args, message
):
    out = tmp_path / "edits"
    code, stdout, err = rl_editor_main("edit", one_song, "--policy", rlhf_policy_path, "--out", out, *args)
    assert code == 2 and stdout == ""
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())


def test_a_target_length_needs_a_policy_that_takes_one(rl_editor_main, tmp_path, one_song, rlhf_policy_path):
    from rl_editor.policy.trainer import PPOTrainer

    out = tmp_path / "edits"
    code, _, err = rl_editor_main("edit", one_song, "--policy", rlhf_policy_path, "--length", "0.6", "--out", out)
    if takes_target_length(PPOTrainer.from_checkpoint(rlhf_policy_path)):
        assert code == 0, err
        saved = json.loads((out / f"{one_song.stem}.json").read_text())
        assert saved["target"] == {"length": "0.6", "keep_share": 0.6}
    else:
        assert code == 2
        assert (
            err == f"error: {rlhf_policy_path}: this policy does not take a target length; leave --length out "
            "or use a length-conditioned policy\n"
        )


def test_a_missing_policy_is_named(rl_editor_main, tmp_path, one_song):
    code, _, err = rl_editor_main("edit", one_song, "--policy", tmp_path / "nope.pt", "--out", tmp_path / "edits")
    assert code == 2 and err == f"error: {tmp_path / 'nope.pt'}: no such policy file (--policy)\n"


def test_a_folder_is_edited_song_by_song_and_an_unreadable_song_is_one_line(
    rl_editor_main, tmp_path, one_song, rlhf_policy_path
):
    import shutil

    import soundfile as sf

    songs = tmp_path / "songs"
    songs.mkdir()
    shutil.copy(one_song, songs / "b_good.wav")
    samples, sr = sf.read(one_song, dtype="float32")
    sf.write(songs / "a_huge.wav", samples * np.float32(1e30), sr, subtype="FLOAT")
    out = tmp_path / "edits"
    code, stdout, err = rl_editor_main("edit", songs, "--policy", rlhf_policy_path, "--temperature", 0, "--out", out)
    assert code == 1
    skips = [line for line in err.splitlines() if line.startswith("skipped ")]
    assert len(skips) == 1 and "a_huge.wav: samples reach" in skips[0] and "Traceback" not in err
    assert (out / "b_good.wav").is_file() and (out / "b_good.json").is_file()
    assert "b_good (" in stdout and not (out / "a_huge.wav").exists()


def test_a_target_outside_the_trained_range_is_edited_with_a_warning(
    rl_editor_main, tmp_path, one_song, rlhf_policy_path
):
    from rl_editor.policy.trainer import PPOTrainer

    policy = PPOTrainer.from_checkpoint(rlhf_policy_path)
    if not takes_target_length(policy):
        pytest.skip("the test policy takes no target length")
    low, high = policy.config.env.target_range
    out = tmp_path / "edits"
    code, stdout, err = rl_editor_main(
        "edit", one_song, "--policy", rlhf_policy_path, "--temperature", 0, "--length", "3s", "--out", out
    )
    assert code == 0, err
    assert (
        f"  warning: a target of 7% of the song is below the {low * 100:.0f}-{high:.0%} the policy was "
        "trained on" in stdout
    )
    code, stdout, err = rl_editor_main(
        "edit", one_song, "--policy", rlhf_policy_path, "--temperature", 0, "--length", "0.6", "--out", out
    )
    assert code == 0 and "warning" not in stdout


def test_generate_edit_takes_a_time_as_its_target(one_song, rlhf_policy_path):
    from rl_editor.audio import analyze_song
    from rl_editor.policy.errors import PolicyError
    from rl_editor.policy.trainer import PPOTrainer

    policy = PPOTrainer.from_checkpoint(rlhf_policy_path)
    analysis = analyze_song(one_song)
    half = format_time(analysis.duration_seconds / 2)
    by_time = policy.generate_edit(analysis, temperature=0.0, target=half)
    minutes, seconds = half.split(":")
    share = (60 * int(minutes) + int(seconds)) / analysis.duration_seconds
    assert np.array_equal(by_time, policy.generate_edit(analysis, temperature=0.0, target=share))
    with pytest.raises(PolicyError, match=r"^target 'soon': not a length"):
        policy.generate_edit(analysis, target="soon")


def test_the_edit_json_gives_splice_times_bars_and_sections_in_seconds(
    rl_editor_main, tmp_path, one_song, rlhf_policy_path
):
    from rl_editor.audio import analyze_song
    from rl_editor.audio.structure import song_structure
    from rl_editor.edit import beat_sequence, splice_pairs

    out = tmp_path / "edits"
    code, _, err = rl_editor_main("edit", one_song, "--policy", rlhf_policy_path, "--temperature", 1.0, "--out", out)
    assert code == 0, err
    saved = json.loads((out / f"{one_song.stem}.json").read_text())
    analysis = analyze_song(one_song)
    bounds = analysis.segment_bounds_s
    actions = np.asarray(saved["actions"])
    pairs = splice_pairs(actions)
    assert len(saved["splices"]) == saved["n_splices"] == len(pairs) > 0
    played = np.cumsum(analysis.beat_durations_s[beat_sequence(actions)])
    for splice, (out_beat, in_beat) in zip(saved["splices"], pairs):
        assert splice["source_out_s"] == pytest.approx(bounds[out_beat + 1], abs=1e-3)
        assert splice["source_in_s"] == pytest.approx(bounds[in_beat], abs=1e-3)
        assert splice["edit_s"] in [pytest.approx(t, abs=1e-3) for t in played]
    assert 0 < saved["splices"][0]["edit_s"] < saved["duration_seconds"]
    structure = song_structure(analysis)
    assert saved["bar_times_s"] == pytest.approx(bounds[structure.bar_start_beats], abs=1e-3)
    sections = saved["sections"]
    assert [s["label"] for s in sections] == list(structure.section_labels)
    assert sections[0]["start_s"] == 0.0 and sections[-1]["end_s"] == pytest.approx(analysis.duration_seconds, abs=1e-3)
    assert all(a["end_s"] == b["start_s"] for a, b in zip(sections, sections[1:]))
