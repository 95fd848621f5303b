"""A real uvicorn server in a subprocess: concurrent raters, then SIGKILL mid-submission and restart.

Every judgment the server acknowledged must be in the database after the
restart, and none twice (retries of unacknowledged submissions reuse their
client id).
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid

import httpx
import pytest
from sqlalchemy import func, select, text

from rl_editor.feedback.listening import full_listening
from rl_editor.feedback.models import Judgment
from rl_editor.feedback.storage import FeedbackStore
from rl_editor.feedback.tasks import TaskConfig

N_RATERS = 16


async def _rater(base: str, token: str, acknowledged: set, pending: dict, stop: asyncio.Event) -> None:
    """Judge until stopped; a submission whose answer never came stays in ``pending`` for a retry."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=5) as client:
        while not stop.is_set():
            try:
                task = (await client.get("/api/next")).json()
                if task.get("done"):
                    return
                for part in (task["song"], task["a"], task["b"]):  # claims need the audio sent
                    await client.get(part["audio_url"])
                vote = {
                    "client_id": str(uuid.uuid4()),
                    "task_id": task["task_id"],
                    "preference": "b",
                    "strength": 2,
                    "notes": "",
                    "time_spent_ms": 5,
                    "listening": full_listening(task),
                }
                pending[token] = vote
                response = await client.post("/api/judgments", json=vote)
                if response.status_code in (200, 201):
                    acknowledged.add(vote["client_id"])
                    pending.pop(token, None)
            except (httpx.TransportError, ValueError):
                return


async def _retry(base: str, pending: dict, acknowledged: set) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        for token, vote in pending.items():
            response = await client.post("/api/judgments", json=vote, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code in (200, 201), response.text
            acknowledged.add(vote["client_id"])


async def _run_until_killed(base: str, tokens: list[str], proc, acknowledged: set, pending: dict) -> None:
    stop = asyncio.Event()
    raters = [asyncio.create_task(_rater(base, t, acknowledged, pending, stop)) for t in tokens]
    while len(acknowledged) < 40:
        await asyncio.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)  # mid-stream: requests are in flight
    await asyncio.gather(*raters)


@pytest.mark.slow
def test_sigkill_during_submissions_loses_and_duplicates_nothing(db_url, manifest_path, manifest, server_factory):
    with FeedbackStore.open(db_url, manifest.path) as store:
        store.create_tasks_from_manifest(manifest, TaskConfig(raters_per_pair=N_RATERS, gold_per_rater=0))
        tokens = [store.add_rater(f"r{i}") for i in range(N_RATERS)]
    acknowledged: set[str] = set()
    pending: dict[str, dict] = {}
    proc, base = server_factory(manifest_path, db_url)
    asyncio.run(_run_until_killed(base, tokens, proc, acknowledged, pending))
    assert proc.wait(timeout=10) == -signal.SIGKILL
    before_restart = set(acknowledged)
    proc, base = server_factory(manifest_path, db_url)
    asyncio.run(_retry(base, pending, acknowledged))
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)
    with FeedbackStore.open(db_url, manifest.path) as store:
        stored = store.judgment_client_ids()
        with store.transaction() as session:
            n_rows = session.scalar(select(func.count(Judgment.id)))
            per_assignment = session.scalar(select(func.count(func.distinct(Judgment.assignment_id))))
            if store.engine.dialect.name == "sqlite":
                assert session.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    assert len(before_restart) >= 40
    assert acknowledged <= stored
    assert n_rows == len(stored) == per_assignment
