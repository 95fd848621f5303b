"""Export and import in the preference pair format: round trips, no duplicates, all-or-nothing."""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest
from sqlalchemy import func, select

from rl_editor.feedback.export import export_file, import_file, pairs_to_csv
from rl_editor.feedback.models import Judgment
from rl_editor.feedback.storage import FeedbackStore, JudgmentIn
from rl_editor.feedback.tasks import TaskConfig
from rl_editor.preferences import EditRef, PreferenceFormatError, PreferencePair, load_preferences


def _fill(store, manifest, n=5):
    store.create_tasks_from_manifest(manifest, TaskConfig(gold_per_rater=0))
    store.add_rater("alice")
    rid = store.list_raters()[0].id
    for i in range(n):
        view = store.next_task(rid)
        store.submit_judgment(
            rid,
            JudgmentIn(
                client_id=str(uuid.uuid4()),
                task_id=view.task_id,
                preference=("a", "b", "tie")[i % 3],
                strength=1 + i % 3,
                tie_kind="both_bad" if i % 3 == 2 else None,
                notes=f"n{i}",
                time_spent_ms=1000 + i,
            ),
        )


def test_export_writes_the_preference_format_with_manifest_paths(db_url, manifest, tmp_path):
    with FeedbackStore.open(db_url, manifest.path) as store:
        _fill(store, manifest)
        assert export_file(store, tmp_path / "prefs.json") == 5
    pairs = load_preferences(tmp_path / "prefs.json")
    paths = {c.path for s in manifest.songs for c in s.candidates}
    assert all(p.edit_a.path in paths and p.edit_b.path in paths for p in pairs)
    assert all(manifest.resolve(p.edit_a.path).is_file() for p in pairs)
    first = pairs[0]
    assert {"tie_kind", "presented_order", "time_spent_ms", "campaign", "task_id"} <= set(first.extra)
    assert first.edit_a.extra["edit_id"] and first.timestamp.endswith("+00:00")
    assert [p.preference for p in pairs] != [] and pairs[2].extra["tie_kind"] == "both_bad"


def test_round_trip_into_a_new_database_and_reimport_adds_nothing(db_url, manifest, tmp_path):
    with FeedbackStore.open(f"sqlite:///{tmp_path / 'source.sqlite'}", manifest.path) as source:
        _fill(source, manifest)
        export_file(source, tmp_path / "prefs.json")
        original = [p.to_json() for p in source.export_pairs()]
    with FeedbackStore.open(db_url) as target:
        assert import_file(target, tmp_path / "prefs.json") == (5, 0)
        assert import_file(target, tmp_path / "prefs.json") == (0, 5)
        again = [p.to_json() for p in target.export_pairs()]
    assert again == original


def test_import_without_client_ids_is_still_idempotent(tmp_path, manifest):
    with FeedbackStore.open(f"sqlite:///{tmp_path / 'a.sqlite'}", manifest.path) as source:
        _fill(source, manifest, n=3)
        data = [p.to_json() for p in source.export_pairs()]
    for entry in data:
        for key in ("client_id", "task_id", "campaign"):
            entry.pop(key)
        entry["edit_a"].pop("edit_id")
    (tmp_path / "plain.json").write_text(json.dumps(data))
    with FeedbackStore.open(f"sqlite:///{tmp_path / 'b.sqlite'}") as store:
        assert import_file(store, tmp_path / "plain.json") == (3, 0)
        assert import_file(store, tmp_path / "plain.json") == (0, 3)
        assert len(store.export_pairs()) == 3


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda d: d[2].update(strength=7), "entry 2.strength"),
        (lambda d: d[1].pop("rater"), "entry 1: missing field 'rater'"),
        (lambda d: d[0]["edit_b"].update(actions=[0, 5]), "entry 0.edit_b.actions"),
        (lambda d: d[1].update(preference="maybe"), "entry 1.preference"),
    ],
)
def test_a_malformed_file_imports_nothing_and_names_entry_and_field(tmp_path, manifest, breakage, message):
    with FeedbackStore.open(f"sqlite:///{tmp_path / 'a.sqlite'}", manifest.path) as source:
        _fill(source, manifest, n=3)
        data = [p.to_json() for p in source.export_pairs()]
    breakage(data)
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with FeedbackStore.open(f"sqlite:///{tmp_path / 'b.sqlite'}") as store:
        with pytest.raises(PreferenceFormatError, match=message.replace(".", r"\.").replace("[", r"\[")):
            import_file(store, tmp_path / "bad.json")
        with store.transaction() as session:
            assert session.scalar(select(func.count(Judgment.id))) == 0


def test_csv_has_one_row_per_judgment(tmp_path, manifest):
    with FeedbackStore.open(f"sqlite:///{tmp_path / 'a.sqlite'}", manifest.path) as store:
        _fill(store, manifest, n=4)
        rows = list(csv.DictReader(io.StringIO(pairs_to_csv(store.export_pairs()))))
    assert len(rows) == 4 and rows[0]["rater"] == "alice" and json.loads(rows[0]["edit_a_actions"])


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_get_an_apostrophe(tmp_path, manifest):
    with FeedbackStore.open(f"sqlite:///{tmp_path / 'a.sqlite'}", manifest.path) as store:
        store.create_tasks_from_manifest(manifest, TaskConfig(gold_per_rater=0))
        store.add_rater('=HYPERLINK("http://evil.example","click")')
        rid = store.list_raters()[0].id
        view = store.next_task(rid)
        store.submit_judgment(
            rid,
            JudgmentIn(
                client_id="@SUM(1+1)*cmd",
                task_id=view.task_id,
                preference="a",
                strength=2,
                notes="+1 great -- better than B",
                time_spent_ms=1500,
            ),
        )
        assert export_file(store, tmp_path / "prefs.csv", as_csv=True) == 1
        json_rater = store.export_pairs()[0].rater
    row = next(csv.DictReader((tmp_path / "prefs.csv").open(newline="")))
    assert row["rater"] == '\'=HYPERLINK("http://evil.example","click")'
    assert row["client_id"] == "'@SUM(1+1)*cmd" and row["notes"] == "'+1 great -- better than B"
    assert row["strength"] == "2" and row["time_spent_ms"] == "1500" and row["preference"] in ("a", "b")
    assert json_rater.startswith("=")  # only the CSV cells are escaped, the stored and JSON values are not


def _pair(**changes) -> PreferencePair:
    fields = dict(
        song_id="song0",
        preference="b",
        strength=1,
        rater="bob",
        timestamp="2024-05-01T10:00:00+00:00",
        notes="fine",
        extra={"task_id": "t1", "campaign": "default"},
        edit_a=EditRef("song0/a.wav", [0, 1, 0], 1.5, {"edit_id": "song0-a"}),
        edit_b=EditRef("song0/b.wav", [0, 2, 0], 2.25, {"edit_id": "song0-b"}),
    )
    return PreferencePair(**{**fields, **changes})


@pytest.mark.parametrize("text", ["=1+2", "+33 6 12", "-2+3", "@cmd", "\tTAB", "\rCR", "\r=cmd\r\n"])
def test_every_formula_prefix_is_escaped_in_text_cells(text):
    pair = _pair(
        notes=text,
        rater=text,
        song_id=text,
        extra={"task_id": text, "campaign": text},
        edit_a=EditRef(text, [0], 1.0, {"edit_id": text}),
    )
    rows = list(csv.DictReader(io.StringIO(pairs_to_csv([pair]), newline="")))
    assert len(rows) == 1
    row = rows[0]
    for column in ("notes", "rater", "song_id", "task_id", "campaign", "edit_a_id", "edit_a_path"):
        assert row[column] == "'" + text, column


def test_numbers_and_plain_text_are_written_unchanged():
    pair = _pair(edit_a=EditRef("song0/a.wav", [0, 1, 0], -0.5, {"edit_id": "song0-a"}), notes="a-b=c, not first")
    row = next(csv.DictReader(io.StringIO(pairs_to_csv([pair]))))
    assert row["edit_a_duration_seconds"] == "-0.5" and row["edit_b_duration_seconds"] == "2.25"
    assert row["strength"] == "1" and row["notes"] == "a-b=c, not first" and row["rater"] == "bob"
    assert row["edit_a_actions"] == "[0, 1, 0]" and row["timestamp"] == "2024-05-01T10:00:00+00:00"


def test_export_into_a_folder_is_refused_and_leaves_it_untouched(tmp_path, manifest):
    from rl_editor.feedback.storage import FeedbackError

    (tmp_path / "out").mkdir()
    with FeedbackStore.open(f"sqlite:///{tmp_path / 'a.sqlite'}", manifest.path) as store:
        _fill(store, manifest, n=1)
        for as_csv in (False, True):
            with pytest.raises(FeedbackError, match=r"out: is a folder; give the file to write"):
                export_file(store, tmp_path / "out", as_csv=as_csv)
    assert list((tmp_path / "out").iterdir()) == []
