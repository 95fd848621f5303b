"""The parts of a song's generation that need no policy: seeds, plans, dedupe, song discovery, config checks."""

from __future__ import annotations

import numpy as np
import pytest

from rl_editor.audio.io import AnalysisError
from rl_editor.generate import (
    CandidateSpec,
    GenerateConfig,
    GenerateError,
    candidate_seed,
    dedupe_actions,
    find_songs,
    plan_candidates,
)


def test_candidate_seeds_depend_only_on_identity():
    assert candidate_seed(0, "a", 0.5, 1) == candidate_seed(0, "a", 0.5, 1)
    seeds = {candidate_seed(b, s, t, k) for b in (0, 1) for s in ("a", "b") for t in (0.1, 0.9) for k in (0, 1)}
    assert len(seeds) == 16
    assert all(0 <= s < 2**31 for s in seeds)


def test_plan_lists_each_temperature_per_temperature_times():
    plan = plan_candidates("song", [0.1, 0.5], 3, base_seed=7)
    assert [(s.temperature, s.k) for s in plan] == [(0.1, 0), (0.1, 1), (0.1, 2), (0.5, 0), (0.5, 1), (0.5, 2)]
    assert plan[4].seed == candidate_seed(7, "song", 0.5, 1)
    assert plan[0].edit_id("song", [0, 1, 0], "policy-a").startswith("song-t0.1-0-")


def test_edit_ids_differ_when_the_policy_or_the_actions_differ():
    spec = CandidateSpec(0.5, 0, 1)
    ids = {
        spec.edit_id("song", actions, policy)
        for actions in ([0, 1, 0], [0, 2, 0])
        for policy in ("policy-a", "policy-b")
    }
    assert len(ids) == 4
    assert spec.edit_id("song", [0, 1, 0], "policy-a") == spec.edit_id("song", np.array([0, 1, 0]), "policy-a")


def test_identical_action_sequences_are_grouped_under_the_first():
    specs = [CandidateSpec(t, 0, i) for i, t in enumerate((0.1, 0.3, 0.5, 0.7))]
    a, b = np.array([0, 1, 0], np.int8), np.array([0, 2, 0], np.int8)
    groups = dedupe_actions(specs, [a, b, a.copy(), a.copy()])
    assert [(g[0].temperature, list(g[1]), [o.temperature for o in g[2]]) for g in groups] == [
        (0.1, [0, 1, 0], [0.5, 0.7]),
        (0.3, [0, 2, 0], []),
    ]


def test_find_songs_recurses_skips_non_audio_and_the_output_folder(tmp_path):
    for rel in ("b.wav", "a.ogg", "notes.json", "live/a.flac", "out/a/a-t0.1-0.wav"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    songs = find_songs(tmp_path, exclude=tmp_path / "out")
    assert [(sid, p.relative_to(tmp_path).as_posix()) for sid, p in songs] == [
        ("a", "a.ogg"),
        ("b", "b.wav"),
        ("live__a", "live/a.flac"),
    ]
    assert len(find_songs(tmp_path, exclude=tmp_path / "out", limit=2)) == 2


def test_missing_songs_folder_and_bad_settings_give_one_line_errors(tmp_path):
    with pytest.raises(AnalysisError, match="no such folder of songs"):
        find_songs(tmp_path / "nope")
    with pytest.raises(GenerateError, match="temperatures"):
        GenerateConfig("p.pt", tmp_path, tmp_path / "out", temperatures=[0.1, -1.0])
    with pytest.raises(GenerateError, match="per_temperature"):
        GenerateConfig("p.pt", tmp_path, tmp_path / "out", per_temperature=0)
    with pytest.raises(GenerateError, match="workers"):
        GenerateConfig("p.pt", tmp_path, tmp_path / "out", workers=0)


def test_plan_combines_every_target_with_every_temperature():
    plan = plan_candidates("song", [0.1, 0.5], 1, base_seed=7, targets=[None, 0.55])
    assert [(s.target, s.temperature) for s in plan] == [(None, 0.1), (None, 0.5), (0.55, 0.1), (0.55, 0.5)]
    assert plan[0].seed == candidate_seed(7, "song", 0.1, 0)  # without a target: the seeds of before
    assert plan[2].seed != plan[0].seed
    assert "-L0.55-" in plan[2].edit_id("song", [0, 1, 0], "policy-a")
    assert "-L" not in plan[0].edit_id("song", [0, 1, 0], "policy-a")


def test_bad_targets_give_one_line_errors(tmp_path):
    from rl_editor.generate.commands import parse_targets

    assert parse_targets("auto, 0.4,0.7") == [None, 0.4, 0.7]
    with pytest.raises(GenerateError, match="--targets"):
        parse_targets("0.4,long")
    for bad in ([0.0], [1.5], []):
        with pytest.raises(GenerateError, match="targets"):
            GenerateConfig("p.pt", tmp_path, tmp_path / "out", targets=bad)
