"""``rl-editor import`` on files that push the limits: long client ids, odd numbers, deep nesting.

Each hostile file is one line on stderr (exit 2) and leaves the database without a judgment;
client ids are kept whole, so distinct judgments never collapse into one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from rl_editor.feedback.models import Judgment
from rl_editor.feedback.storage import FeedbackStore


def _entry(client_id: str | None = None, **extra) -> dict:
    side = {"path": "a.wav", "actions": [0, 1, 0], "duration_seconds": 1.5}
    entry = {
        "song_id": "s",
        "edit_a": side,
        "edit_b": {**side, "path": "b.wav", "actions": [0, 2, 0]},
        "preference": "a",
        "strength": 2,
        "rater": "r",
        "timestamp": "2026-01-01T00:00:00",
        **extra,
    }
    if client_id is not None:
        entry["client_id"] = client_id
    return entry


def _judgments(db: Path) -> int:
    if not db.exists():
        return 0
    with FeedbackStore.open(str(db)) as store, store.transaction(readonly=True) as session:
        return session.scalar(select(func.count(Judgment.id)))


def _refused(rl_editor_main, text: str, tmp_path: Path, expected: str) -> None:
    path = tmp_path / "hostile.json"
    path.write_text(text)
    db = tmp_path / "fb.sqlite"
    code, _, err = rl_editor_main("import", path, "--db", db)
    assert code == 2 and err.startswith("error:") and len(err.strip().splitlines()) == 1, err[-500:]
    assert expected in err
    assert _judgments(db) == 0


def test_client_ids_sharing_a_long_prefix_are_refused_not_merged(rl_editor_main, tmp_path):
    prefix = "x" * 100
    text = json.dumps([_entry(prefix + "-first"), _entry(prefix + "-second", preference="b")])
    _refused(rl_editor_main, text, tmp_path, "entry 0: client_id has 106 characters")


def test_a_client_id_of_the_longest_kept_length_is_stored_whole(rl_editor_main, tmp_path):
    client_id = "y" * 99 + "z"
    path = tmp_path / "ok.json"
    path.write_text(json.dumps([_entry(client_id)]))
    code, out, _ = rl_editor_main("import", path, "--db", tmp_path / "fb.sqlite")
    assert code == 0 and "imported 1" in out
    with FeedbackStore.open(str(tmp_path / "fb.sqlite")) as store:
        assert [p.client_id for p in store.export_pairs()] == [client_id]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-5", "1e12"])
def test_a_time_spent_that_is_not_a_finite_count_of_milliseconds_is_one_line(rl_editor_main, tmp_path, number):
    text = json.dumps([_entry("c1", time_spent_ms=0)]).replace('"time_spent_ms": 0', f'"time_spent_ms": {number}')
    _refused(rl_editor_main, text, tmp_path, "entry 0.time_spent_ms")


@pytest.mark.parametrize("depth", [50_000, 200_000])
@pytest.mark.parametrize("where", ["file", "entry"])
def test_json_nested_deeper_than_python_reads_is_one_line(rl_editor_main, tmp_path, depth, where):
    nested = "[" * depth + "]" * depth
    if where == "file":
        text = nested
    else:
        text = json.dumps([_entry("c1", notes="@")]).replace('"@"', nested)
    _refused(rl_editor_main, text, tmp_path, "nested too deeply")
