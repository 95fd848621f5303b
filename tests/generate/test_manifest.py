"""Reading manifest.json: good files load, malformed fields are one-line ManifestErrors naming entry and field."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

from rl_editor.cli import main
from rl_editor.generate.manifest import Manifest, ManifestError

GOOD_ENTRY = {
    "song": "songs/a.wav",
    "song_id": "a",
    "duration_seconds": 4.1,
    "beats": [0.05, 0.3, 0.55, 0.8],
    "downbeats": [0.05],
    "generation": {"seed": 0},
    "candidates": [
        {
            "edit_id": "a-t0.1-0",
            "temperature": 0.1,
            "path": "a/a-t0.1-0.wav",
            "duration": 3.2,
            "actions": [0, 1, 2, 0],
            "policy": "policy-x",
            "seed": 7,
            "k": 0,
        }
    ],
}


def write_manifest(folder: Path, entries: list) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


def with_change(change) -> dict:
    entry = copy.deepcopy(GOOD_ENTRY)
    change(entry)
    return entry


def test_a_well_formed_manifest_loads_with_its_extra_keys(tmp_path):
    manifest = Manifest.load(write_manifest(tmp_path, [GOOD_ENTRY]))
    entry, cand = manifest.candidate("a-t0.1-0")
    assert entry.beats == [0.05, 0.3, 0.55, 0.8] and entry.extra == {"generation": {"seed": 0}}
    assert cand.actions == [0, 1, 2, 0] and cand.seed == 7 and cand.extra == {"k": 0}


def test_saved_manifest_loads_back_identically(tmp_path):
    manifest = Manifest.load(write_manifest(tmp_path, [GOOD_ENTRY]))
    manifest.save()
    assert json.loads(manifest.path.read_text()) == [GOOD_ENTRY]


@pytest.mark.parametrize(
    "change, where",
    [
        (lambda e: e.update(beats="abc"), "entry 0 (song 'a').beats: must be a list of times in seconds, got \"abc\""),
        (lambda e: e.update(beats=[0.1, "x"]), "entry 0 (song 'a').beats[1]: must be a time in seconds"),
        (lambda e: e.update(downbeats=None), "entry 0 (song 'a').downbeats: must be a list"),
        (lambda e: e.update(candidates={"edit_id": "a"}), "entry 0 (song 'a').candidates: must be a list"),
        (lambda e: e.update(candidates=[3]), "entry 0 (song 'a').candidates[0]: must be an object, got 3"),
        (
            lambda e: e["candidates"][0].update(actions=[0, "x"]),
            "entry 0 (song 'a').candidates[0].actions[1]: must be 0 (keep), 1 (cut) or 2 (repeat), got \"x\"",
        ),
        (lambda e: e["candidates"][0].update(actions=[0, 5]), "candidates[0].actions[1]: must be 0 (keep)"),
        (lambda e: e["candidates"][0].update(actions=[0, True]), "candidates[0].actions[1]: must be 0 (keep)"),
        (lambda e: e["candidates"][0].update(actions="0102"), "candidates[0].actions: must be a list"),
        (lambda e: e["candidates"][0].update(duration="3.2"), "candidates[0].duration: must be a number of seconds"),
        (lambda e: e["candidates"][0].update(seed=1.5), "candidates[0].seed: must be an integer, got 1.5"),
        (lambda e: e["candidates"][0].update(edit_id=12), "candidates[0].edit_id: must be a non-empty string"),
        (lambda e: e["candidates"][0].pop("path"), "candidates[0]: missing field 'path'"),
        (lambda e: e.update(duration_seconds="long"), "(song 'a').duration_seconds: must be a number of seconds"),
        (lambda e: e.update(song_id=["a"]), "entry 0.song_id: must be a non-empty string"),
        (lambda e: e.pop("song"), "entry 0: missing field 'song'"),
    ],
)
def test_malformed_fields_name_the_file_entry_and_field(tmp_path, change, where):
    path = write_manifest(tmp_path, [GOOD_ENTRY, with_change(change)])
    with pytest.raises(ManifestError) as info:
        Manifest.load(tmp_path)
    message = str(info.value)
    assert message.startswith(f"{path} entry 1")
    assert where.replace("entry 0", "entry 1") in message and "\n" not in message


def test_an_entry_that_is_not_an_object_is_named(tmp_path):
    with pytest.raises(ManifestError, match=r"manifest.json entry 0: must be an object, got \"a.wav\""):
        Manifest.load(write_manifest(tmp_path, ["a.wav"]))


def test_non_utf8_manifest_is_a_manifest_error(tmp_path):
    (tmp_path / "manifest.json").write_bytes(b"\xff\xfe[\x00]")
    with pytest.raises(ManifestError, match="not a UTF-8 text file"):
        Manifest.load(tmp_path)


def run_cli(monkeypatch, capsys, *args) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["rl-editor", *map(str, args)])
    with pytest.raises(SystemExit) as info:
        main()
    return info.value.code, capsys.readouterr().err


@pytest.mark.parametrize("command", [["serve"], ["tasks", "create"]])
def test_cli_reports_a_malformed_manifest_in_one_line(monkeypatch, capsys, tmp_path, command):
    bad = write_manifest(tmp_path / "run", [with_change(lambda e: e.update(beats="abc"))])
    code, err = run_cli(monkeypatch, capsys, *command, "--manifest", bad, "--db", tmp_path / "fb.sqlite")
    assert code == 2
    assert err == f"error: {bad} entry 0 (song 'a').beats: must be a list of times in seconds, got \"abc\"\n"
    assert not (tmp_path / "fb.sqlite").exists()
