"""The file-format layer: one vocabulary, one-line errors, optional keys written only when given, unknown keys."""

from __future__ import annotations

import json

import pytest

from rl_editor.formats import FormatModel, Integer, Preference, Strength, Text, TieKind, read_format
from rl_editor.preferences import (
    PREFERENCES,
    STRENGTHS,
    TIE_KINDS,
    EditRef,
    PreferenceFormatError,
    PreferencePair,
    load_preferences,
    save_preferences,
)

EDIT = {"path": "a.wav", "actions": [0, 1, 2], "duration_seconds": 2.5}
PAIR = {
    "song_id": "s",
    "edit_a": EDIT,
    "edit_b": {**EDIT, "path": "b.wav"},
    "preference": "tie",
    "strength": 1,
    "rater": "ann",
    "timestamp": "2026-01-01T00:00:00",
    "notes": "",
}


class Tiny(FormatModel):
    name: Text
    count: Integer
    label: str | None = None


def test_the_vocabulary_is_the_enums_and_its_values_are_the_file_words():
    assert PREFERENCES == ("a", "b", "tie") and TIE_KINDS == ("both_good", "both_bad") and STRENGTHS == (1, 2, 3)
    assert json.dumps([Preference.TIE, TieKind.BOTH_BAD, Strength.STRONG]) == '["tie", "both_bad", 3]'


def test_added_keys_are_typed_fields_and_come_back_as_they_were(tmp_path):
    entry = {
        **PAIR,
        "tie_kind": "both_bad",
        "song_path": "songs/s.ogg",
        "client_id": "c-1",
        "is_gold": True,
        "time_spent_ms": 1500,
        "edit_a": {**EDIT, "edit_id": "s-0"},
        "from_another_tool": [1, 2],
    }
    path = tmp_path / "prefs.json"
    path.write_text(json.dumps([entry]))
    pair = load_preferences(path)[0]
    assert pair.tie_kind is TieKind.BOTH_BAD and pair.song_path == "songs/s.ogg" and pair.is_gold is True
    assert pair.client_id == "c-1" and pair.time_spent_ms == 1500 and pair.edit_a.edit_id == "s-0"
    assert pair.edit_b.edit_id is None and pair.campaign is None
    assert pair.extra["from_another_tool"] == [1, 2] and pair.extra["song_path"] == "songs/s.ogg"
    save_preferences(tmp_path / "again.json", [pair])
    assert json.loads((tmp_path / "again.json").read_text()) == [entry]


def test_a_typed_field_set_in_code_is_written_and_unset_ones_are_not():
    pair = PreferencePair.from_json(PAIR)
    pair.song_path = "x.ogg"
    written = pair.to_json()
    assert written["song_path"] == "x.ogg"
    assert not {"tie_kind", "client_id", "is_gold", "campaign"} & set(written)
    assert "edit_id" not in written["edit_a"]


def test_keys_given_as_extra_in_code_are_read_as_the_typed_fields():
    side = EditRef("a.wav", [0, 1], 1.0, {"edit_id": "e-1"})
    pair = PreferencePair("s", side, side, "b", 2, "ann", "t", extra={"song_path": "s.ogg", "campaign": "c"})
    assert side.edit_id == "e-1" and pair.song_path == "s.ogg" and pair.campaign == "c"
    assert pair.signed_strength == -2 and pair.preference is Preference.B


def test_the_extra_view_cannot_be_written_into():
    pair = PreferencePair.from_json(PAIR)
    with pytest.raises(TypeError):
        pair.extra["song_path"] = "x.ogg"  # type: ignore[index]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"tie_kind": "meh"}, "entry 4.tie_kind: must be 'both_good' or 'both_bad', got \"meh\""),
        ({"preference": "A"}, "entry 4.preference: must be 'a', 'b' or 'tie', got \"A\""),
        ({"strength": 0}, "entry 4.strength: must be 1, 2 or 3, got 0"),
        (
            {"edit_b": {**EDIT, "actions": [0, 1, 3]}},
            "entry 4.edit_b.actions[2]: must be 0 (keep), 1 (cut) or 2 (repeat), got 3",
        ),
        (
            {"edit_a": {**EDIT, "duration_seconds": "long"}},
            "entry 4.edit_a.duration_seconds: must be a number of seconds",
        ),
        ({"is_gold": "maybe"}, "entry 4.is_gold: must be a valid boolean"),
    ],
)
def test_bad_entries_give_one_line_naming_entry_and_field(change, message):
    with pytest.raises(PreferenceFormatError) as info:
        read_format(PreferencePair, {**PAIR, **change}, where="entry 4", error=PreferenceFormatError)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_our_own_formats_refuse_unknown_keys_and_name_them():
    with pytest.raises(PreferenceFormatError, match=r"^tiny.json: unknown field 'colour'$"):
        read_format(Tiny, {"name": "a", "count": 1, "colour": "red"}, where="tiny.json", error=PreferenceFormatError)
    with pytest.raises(PreferenceFormatError, match=r"^tiny.json: missing field 'count'$"):
        read_format(Tiny, {"name": "a"}, where="tiny.json", error=PreferenceFormatError)
    with pytest.raises(PreferenceFormatError, match=r"^tiny.json.count: must be an integer, got true$"):
        read_format(Tiny, {"name": "a", "count": True}, where="tiny.json", error=PreferenceFormatError)
    assert Tiny(name="a", count=2).to_json() == {"name": "a", "count": 2}
    assert Tiny(name="a", count=2, label=None).to_json() == {"name": "a", "count": 2, "label": None}


def test_a_negative_duration_is_refused_in_a_file_but_allowed_in_code():
    assert EditRef("a.wav", [0], -0.5).duration_seconds == -0.5
    with pytest.raises(
        PreferenceFormatError, match=r"entry 0.edit_a.duration_seconds: must be a number of seconds >= 0"
    ):
        read_format(
            PreferencePair,
            {**PAIR, "edit_a": {**EDIT, "duration_seconds": -0.5}},
            where="entry 0",
            error=PreferenceFormatError,
        )
