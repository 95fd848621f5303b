"""The feedback CLI end to end, through ``rl_editor.cli.main`` (errors as one line, exit 2)."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest

from rl_editor.feedback.commands import TokenRedactingFilter, install_token_redaction
from rl_editor.feedback.storage import FeedbackStore, JudgmentIn


def test_tasks_raters_export_import_agreement(rl_editor_main, manifest_path, manifest, tmp_path):
    db = tmp_path / "fb.sqlite"
    code, out, _ = rl_editor_main(
        "tasks",
        "create",
        "--manifest",
        manifest_path,
        "--db",
        db,
        "--pairs-per-song",
        3,
        "--raters-per-pair",
        2,
        "--gold-per-rater",
        0,
    )
    assert code == 0 and "created 6 tasks" in out
    code, out, _ = rl_editor_main("raters", "add", "alice", "--db", db, "--port", 9001)
    assert code == 0 and out.startswith("http://127.0.0.1:9001/r/")
    token = out.strip().rsplit("/", 1)[1]
    rl_editor_main("raters", "add", "bob", "--held-out", "--db", db)
    code, out, _ = rl_editor_main("raters", "list", "--db", db)
    assert "alice" in out and "held-out" in out
    code, out, _ = rl_editor_main("admin-token", "--db", db)
    assert code == 0 and len(out.strip()) >= 40

    with FeedbackStore.open(str(db)) as store:
        rater = store.authenticate_rater(token)
        for _ in range(3):
            view = store.next_task(rater.id)
            store.submit_judgment(rater.id, JudgmentIn(str(uuid.uuid4()), view.task_id, "a", None, 3))
    out_file = tmp_path / "prefs.json"
    code, out, _ = rl_editor_main("export", "--db", db, "--out", out_file)
    assert code == 0 and "wrote 3" in out and len(json.loads(out_file.read_text())) == 3
    code, _, _ = rl_editor_main("export", "--db", db, "--out", tmp_path / "prefs.csv", "--csv")
    assert code == 0 and (tmp_path / "prefs.csv").read_text().count("\n") == 4
    code, out, _ = rl_editor_main("import", out_file, "--db", tmp_path / "other.sqlite")
    assert code == 0 and "imported 3" in out
    code, out, _ = rl_editor_main("import", out_file, "--db", tmp_path / "other.sqlite")
    assert "imported 0" in out
    code, out, _ = rl_editor_main("tasks", "release", "--db", db, "--older-than-hours", 0)
    assert code == 0 and "released 0" in out
    code, out, _ = rl_editor_main("agreement", "--db", db)
    assert code == 0 and "Krippendorff" in out and "position bias" in out


def test_bad_import_file_is_one_line_error_exit_2(rl_editor_main, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"song_id": "s"}]))
    code, _, err = rl_editor_main("import", bad, "--db", tmp_path / "x.sqlite")
    assert code == 2 and err.startswith("error:") and "entry 0" in err and len(err.strip().splitlines()) == 1


def test_prioritize_reads_a_select_pairs_ranking(rl_editor_main, manifest_path, manifest, tmp_path):
    db = tmp_path / "fb.sqlite"
    rl_editor_main("tasks", "create", "--manifest", manifest_path, "--db", db, "--gold-per-rater", 0)
    cands = [c.edit_id for c in manifest.songs[1].candidates]
    ranking = [
        {"song_id": "song1", "edit_a": cands[3], "edit_b": cands[0], "score": 0.9},
        {"song_id": "song1", "edit_a": cands[1], "edit_b": cands[2], "score": 0.1},
    ]
    (tmp_path / "ranking.json").write_text(json.dumps(ranking))
    code, out, _ = rl_editor_main("tasks", "prioritize", "--db", db, "--ranking", tmp_path / "ranking.json")
    assert code == 0 and "2 tasks" in out
    with FeedbackStore.open(str(db)) as store:
        store.add_rater("alice")
        view = store.next_task(store.list_raters()[0].id)
    assert {e.edit_id for e in view.edits} == {cands[0], cands[3]}
    (tmp_path / "broken.json").write_text(json.dumps([{"edit_a": 1}]))
    code, _, err = rl_editor_main("tasks", "prioritize", "--db", db, "--ranking", tmp_path / "broken.json")
    assert code == 2 and "entry 0" in err


def test_missing_database_option_is_explained(rl_editor_main):
    code, _, err = rl_editor_main("raters", "list")
    assert code == 2 and "--db" in err


def test_evaluation_campaign_from_the_cli(rl_editor_main, manifest_path, manifest, tmp_path):
    db = tmp_path / "fb.sqlite"
    rl_editor_main("tasks", "create", "--manifest", manifest_path, "--db", db, "--gold-per-rater", 0)
    cands = [c.edit_id for c in manifest.songs[0].candidates]
    (tmp_path / "pairs.json").write_text(json.dumps([[cands[0], cands[1]], {"edit_a": cands[2], "edit_b": cands[3]}]))
    code, out, _ = rl_editor_main("tasks", "campaign", "eval-1", "--pairs", tmp_path / "pairs.json", "--db", db)
    assert code == 0 and "2 pairs" in out
    code, out, _ = rl_editor_main("raters", "add", "judge", "--held-out", "--db", db)
    token = out.strip().rsplit("/", 1)[1]
    with FeedbackStore.open(str(db)) as store:
        rater = store.authenticate_rater(token)
        while (view := store.next_task(rater.id)) is not None:
            store.submit_judgment(rater.id, JudgmentIn(str(uuid.uuid4()), view.task_id, "b", None, 1))
    code, out, _ = rl_editor_main("export", "--db", db, "--out", tmp_path / "eval.json", "--campaign", "eval-1")
    exported = json.loads((tmp_path / "eval.json").read_text())
    assert "wrote 2" in out and {e["campaign"] for e in exported} == {"eval-1"}
    code, _, err = rl_editor_main(
        "tasks", "campaign", "eval-2", "--pairs", tmp_path / "pairs.json", "--db", tmp_path / "empty.sqlite"
    )
    assert code == 2 and "unknown edit" in err


@pytest.mark.parametrize(
    "command",
    [["raters", "list"], ["export", "--out", "prefs.json"], ["agreement"], ["export", "--out", "prefs.csv", "--csv"]],
)
def test_read_only_commands_do_not_create_a_mistyped_database(rl_editor_main, tmp_path, command):
    typo = tmp_path / "feedbak.sqlite"
    args = [tmp_path / a if a.startswith("prefs") else a for a in command]
    code, out, err = rl_editor_main(*args, "--db", typo)
    assert code == 2 and out == ""
    assert err == f"error: no feedback database at {typo} (check --db)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_read_only_commands_default_to_the_database_beside_the_manifest(rl_editor_main, manifest_path):
    code, _, err = rl_editor_main("raters", "list", "--manifest", manifest_path)
    assert code == 2 and f"no feedback database at {manifest_path.parent / 'feedback.sqlite'}" in err
    assert not (manifest_path.parent / "feedback.sqlite").exists()
    rl_editor_main("raters", "add", "alice", "--manifest", manifest_path)
    code, out, _ = rl_editor_main("raters", "list", "--manifest", manifest_path)
    assert code == 0 and out.startswith("alice\tcollect")


def access_record(path: str) -> logging.LogRecord:
    """A record as uvicorn's access logger makes it: (client_addr, method, full_path, http_version, status_code)."""
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:53124", "GET", path, "1.1", 200),
        None,
    )


@pytest.mark.parametrize(
    "path, logged",
    [
        ("/r/Zx9_secret-Token", "/r/***"),
        ("/r/Zx9_secret-Token?x=1", "/r/***?x=1"),
        ("/admin?token=AdminSecret", "/admin?token=***"),
        ("/api/me?lang=en&token=AdminSecret&x=2", "/api/me?lang=en&token=***&x=2"),
        ("/api/next", "/api/next"),
        ("/static/rater.js?v=3", "/static/rater.js?v=3"),
    ],
)
def test_access_log_records_lose_their_tokens(path, logged):
    from uvicorn.logging import AccessFormatter

    record = access_record(path)
    assert TokenRedactingFilter().filter(record) is True
    assert record.args[2] == logged and len(record.args) == 5 and record.args[4] == 200
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False).format(record)
    assert line == f'127.0.0.1:53124 - "GET {logged} HTTP/1.1" 200 OK' and "ecret" not in line


def test_the_redacting_filter_is_installed_once_on_uvicorns_access_logger():
    logger = logging.getLogger("uvicorn.access")
    before = list(logger.filters)
    try:
        first, second = install_token_redaction(), install_token_redaction()
        assert first is second and first in logger.filters
        assert len(logger.filters) == len(before) + (0 if first in before else 1)
    finally:
        logger.filters[:] = before


@pytest.mark.slow
def test_serve_access_log_shows_no_tokens(manifest_path, tmp_path):
    import httpx

    db = tmp_path / "fb.sqlite"
    with FeedbackStore.open(str(db), manifest_path) as store:
        rater_token = store.add_rater("alice")
        admin_token = store.create_admin_token()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "access.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rl_editor.cli",
                "serve",
                "--manifest",
                str(manifest_path),
                "--db",
                str(db),
                "--port",
                str(port),
                "--log-level",
                "info",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"},
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                httpx.get(f"{base}/r/{rater_token}", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "server did not start within 60 s"
                time.sleep(0.1)
        assert httpx.get(f"{base}/api/me", params={"token": rater_token}, timeout=5).status_code == 200
        assert httpx.get(f"{base}/admin", params={"token": admin_token}, timeout=5).status_code == 200
        deadline = time.monotonic() + 10
        while "GET /admin?token=***" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    text = log.read_text()
    assert "GET /r/*** HTTP/1.1" in text and "GET /api/me?token=*** HTTP/1.1" in text
    assert "GET /admin?token=*** HTTP/1.1" in text
    assert rater_token not in text and admin_token not in text
