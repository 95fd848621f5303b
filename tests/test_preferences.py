import json

import pytest

from rl_editor.preferences import PreferenceFormatError, load_preferences, parse_preferences, save_preferences

ENTRY = {
    "song_id": "song_001",
    "edit_a": {"path": "outputs/song_001_edit_a.wav", "actions": [0, 1, 0, 1, 2, 0], "duration_seconds": 215},
    "edit_b": {"path": "outputs/song_001_edit_b.wav", "actions": [0, 0, 1, 0, 2, 1], "duration_seconds": 230},
    "preference": "a",
    "strength": 2,
    "rater": "user_123",
    "timestamp": "2025-12-06T15:30:00",
    "notes": "Edit A is tighter and more energetic",
}


def test_the_documented_example_round_trips(tmp_path):
    path = tmp_path / "prefs.json"
    path.write_text(json.dumps([ENTRY, {**ENTRY, "preference": "b", "strength": 1, "tie_kind": None}]))
    pairs = load_preferences(path)
    assert [p.signed_strength for p in pairs] == [2, -1]
    save_preferences(tmp_path / "again.json", pairs)
    again = json.loads((tmp_path / "again.json").read_text())
    assert again[0] == ENTRY
    assert again[1]["tie_kind"] is None  # extra keys survive


@pytest.mark.parametrize(
    "change, message",
    [
        ({"preference": "c"}, r"entry 1\.preference"),
        ({"strength": 4}, r"entry 1\.strength"),
        ({"strength": True}, r"entry 1\.strength"),
        ({"edit_b": {"path": "x.wav", "actions": [0, 5], "duration_seconds": 3}}, r"entry 1\.edit_b\.actions"),
        ({"edit_a": {"path": "x.wav", "actions": [0]}}, r"entry 1\.edit_a: missing field 'duration_seconds'"),
        ({"rater": ""}, r"entry 1\.rater"),
    ],
)
def test_malformed_entries_name_the_entry_and_field(change, message):
    with pytest.raises(PreferenceFormatError, match=message):
        parse_preferences([ENTRY, {**ENTRY, **change}])


def test_missing_field_is_named():
    broken = dict(ENTRY)
    del broken["song_id"]
    with pytest.raises(PreferenceFormatError, match="entry 0: missing field 'song_id'"):
        parse_preferences([broken])


def test_invalid_json_reports_the_file_and_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[{"song_id": ')
    with pytest.raises(PreferenceFormatError, match="bad.json: not valid JSON"):
        load_preferences(path)


def test_a_failed_save_leaves_the_old_file(tmp_path):
    path = tmp_path / "prefs.json"
    save_preferences(path, parse_preferences([ENTRY]))
    before = path.read_text()

    class Exploding:
        def to_json(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        save_preferences(path, [Exploding()])
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["prefs.json"]


def test_a_weight_is_written_only_when_it_is_not_one(tmp_path):
    path = tmp_path / "prefs.json"
    path.write_text(json.dumps([ENTRY, {**ENTRY, "weight": 1.0}, {**ENTRY, "weight": 0.25}]))
    pairs = load_preferences(path)
    assert [p.weight for p in pairs] == [1.0, 1.0, 0.25]
    save_preferences(tmp_path / "again.json", pairs)
    again = json.loads((tmp_path / "again.json").read_text())
    assert again[:2] == [ENTRY, ENTRY]
    assert again[2] == {**ENTRY, "weight": 0.25}
