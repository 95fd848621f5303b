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
from rl_editor.preferences import PreferenceFormatError, load_preferences


def _fill(store, manifest, n=5):
    store.create_tasks_from_manifest(manifest, TaskConfig(gold_per_rater=0))
    store.add_rater("alice")
    rid = store.list_raters()[0].id
    for i in range(n):
        view = store.next_task(rid)
        store.submit_judgment(rid, JudgmentIn(client_id=str(uuid.uuid4()), task_id=view.task_id,
                                              preference=("a", "b", "tie")[i % 3], strength=1 + i % 3,
                                              tie_kind="both_bad" if i % 3 == 2 else None, notes=f"n{i}",
                                              time_spent_ms=1000 + i))


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


@pytest.mark.parametrize("breakage, message", [
    (lambda d: d[2].update(strength=7), "entry 2.strength"),
    (lambda d: d[1].pop("rater"), "entry 1: missing field 'rater'"),
    (lambda d: d[0]["edit_b"].update(actions=[0, 5]), "entry 0.edit_b.actions"),
    (lambda d: d[1].update(preference="maybe"), "entry 1.preference"),
])
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
