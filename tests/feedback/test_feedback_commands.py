"""The feedback CLI end to end, through ``rl_editor.cli.main`` (errors as one line, exit 2)."""

from __future__ import annotations

import json
import sys
import uuid


from rl_editor.cli import main
from rl_editor.feedback.storage import FeedbackStore, JudgmentIn


def run(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["rl-editor", *map(str, args)])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def test_tasks_raters_export_import_agreement(monkeypatch, capsys, manifest_path, manifest, tmp_path):
    db = tmp_path / "fb.sqlite"
    code, out, _ = run(monkeypatch, capsys, "tasks", "create", "--manifest", manifest_path, "--db", db,
                       "--pairs-per-song", 3, "--raters-per-pair", 2, "--gold-per-rater", 0)
    assert code == 0 and "created 6 tasks" in out
    code, out, _ = run(monkeypatch, capsys, "raters", "add", "alice", "--db", db, "--port", 9001)
    assert code == 0 and out.startswith("http://127.0.0.1:9001/r/")
    token = out.strip().rsplit("/", 1)[1]
    run(monkeypatch, capsys, "raters", "add", "bob", "--held-out", "--db", db)
    code, out, _ = run(monkeypatch, capsys, "raters", "list", "--db", db)
    assert "alice" in out and "held-out" in out
    code, out, _ = run(monkeypatch, capsys, "admin-token", "--db", db)
    assert code == 0 and len(out.strip()) >= 40

    with FeedbackStore.open(str(db)) as store:
        rater = store.authenticate_rater(token)
        for _ in range(3):
            view = store.next_task(rater.id)
            store.submit_judgment(rater.id, JudgmentIn(str(uuid.uuid4()), view.task_id, "a", None, 3))
    out_file = tmp_path / "prefs.json"
    code, out, _ = run(monkeypatch, capsys, "export", "--db", db, "--out", out_file)
    assert code == 0 and "wrote 3" in out and len(json.loads(out_file.read_text())) == 3
    code, _, _ = run(monkeypatch, capsys, "export", "--db", db, "--out", tmp_path / "prefs.csv", "--csv")
    assert code == 0 and (tmp_path / "prefs.csv").read_text().count("\n") == 4
    code, out, _ = run(monkeypatch, capsys, "import", out_file, "--db", tmp_path / "other.sqlite")
    assert code == 0 and "imported 3" in out
    code, out, _ = run(monkeypatch, capsys, "import", out_file, "--db", tmp_path / "other.sqlite")
    assert "imported 0" in out
    code, out, _ = run(monkeypatch, capsys, "tasks", "release", "--db", db, "--older-than-hours", 0)
    assert code == 0 and "released 0" in out
    code, out, _ = run(monkeypatch, capsys, "agreement", "--db", db)
    assert code == 0 and "Krippendorff" in out and "position bias" in out


def test_bad_import_file_is_one_line_error_exit_2(monkeypatch, capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"song_id": "s"}]))
    code, _, err = run(monkeypatch, capsys, "import", bad, "--db", tmp_path / "x.sqlite")
    assert code == 2 and err.startswith("error:") and "entry 0" in err and len(err.strip().splitlines()) == 1


def test_prioritize_reads_a_select_pairs_ranking(monkeypatch, capsys, manifest_path, manifest, tmp_path):
    db = tmp_path / "fb.sqlite"
    run(monkeypatch, capsys, "tasks", "create", "--manifest", manifest_path, "--db", db, "--gold-per-rater", 0)
    cands = [c.edit_id for c in manifest.songs[1].candidates]
    ranking = [{"song_id": "song1", "edit_a": cands[3], "edit_b": cands[0], "score": 0.9},
               {"song_id": "song1", "edit_a": cands[1], "edit_b": cands[2], "score": 0.1}]
    (tmp_path / "ranking.json").write_text(json.dumps(ranking))
    code, out, _ = run(monkeypatch, capsys, "tasks", "prioritize", "--db", db, "--ranking", tmp_path / "ranking.json")
    assert code == 0 and "2 tasks" in out
    with FeedbackStore.open(str(db)) as store:
        store.add_rater("alice")
        view = store.next_task(store.list_raters()[0].id)
    assert {e.edit_id for e in view.edits} == {cands[0], cands[3]}
    (tmp_path / "broken.json").write_text(json.dumps([{"edit_a": 1}]))
    code, _, err = run(monkeypatch, capsys, "tasks", "prioritize", "--db", db, "--ranking", tmp_path / "broken.json")
    assert code == 2 and "entry 0" in err


def test_missing_database_option_is_explained(monkeypatch, capsys):
    code, _, err = run(monkeypatch, capsys, "raters", "list")
    assert code == 2 and "--db" in err


def test_evaluation_campaign_from_the_cli(monkeypatch, capsys, manifest_path, manifest, tmp_path):
    db = tmp_path / "fb.sqlite"
    run(monkeypatch, capsys, "tasks", "create", "--manifest", manifest_path, "--db", db, "--gold-per-rater", 0)
    cands = [c.edit_id for c in manifest.songs[0].candidates]
    (tmp_path / "pairs.json").write_text(json.dumps([[cands[0], cands[1]], {"edit_a": cands[2], "edit_b": cands[3]}]))
    code, out, _ = run(monkeypatch, capsys, "tasks", "campaign", "eval-1", "--pairs", tmp_path / "pairs.json",
                       "--db", db)
    assert code == 0 and "2 pairs" in out
    code, out, _ = run(monkeypatch, capsys, "raters", "add", "judge", "--held-out", "--db", db)
    token = out.strip().rsplit("/", 1)[1]
    with FeedbackStore.open(str(db)) as store:
        rater = store.authenticate_rater(token)
        while (view := store.next_task(rater.id)) is not None:
            store.submit_judgment(rater.id, JudgmentIn(str(uuid.uuid4()), view.task_id, "b", None, 1))
    code, out, _ = run(monkeypatch, capsys, "export", "--db", db, "--out", tmp_path / "eval.json", "--campaign",
                       "eval-1")
    exported = json.loads((tmp_path / "eval.json").read_text())
    assert "wrote 2" in out and {e["campaign"] for e in exported} == {"eval-1"}
    code, _, err = run(monkeypatch, capsys, "tasks", "campaign", "eval-2", "--pairs", tmp_path / "pairs.json",
                       "--db", tmp_path / "empty.sqlite")
    assert code == 2 and "unknown edit" in err
