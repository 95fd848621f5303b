"""Reserving the task after the current one (so a page can prefetch it), on SQLite and PostgreSQL: it follows the
current task, keeps quotas, votes per pair, gold pairs and held-out campaigns, is released like any stale
assignment, never counts as judged before it is, and ``/api/next?ahead=1`` hands it out with its audio."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from rl_editor.feedback.app import create_app
from rl_editor.feedback.listening import full_listening
from rl_editor.feedback.models import Judgment, Rater, Task
from rl_editor.feedback.storage import FeedbackStore, ForbiddenError, JudgmentIn
from rl_editor.feedback.tasks import TaskConfig

N_PAIRS = 2 * 6  # two songs, four candidates each


@pytest.fixture
def store(db_url, manifest):
    with FeedbackStore.open(db_url, manifest.path) as s:
        yield s


def _rater(store: FeedbackStore, name: str, held_out: bool = False) -> int:
    store.add_rater(name, held_out=held_out)
    with store.transaction() as session:
        return session.scalars(select(Rater.id).where(Rater.name == name)).one()


def _judge(store: FeedbackStore, rater_id: int, task_id: str) -> None:
    store.submit_judgment(
        rater_id, JudgmentIn(client_id=str(uuid.uuid4()), task_id=task_id, preference="a", strength=2)
    )


def _judge_all_with_prefetch(store: FeedbackStore, rater_id: int) -> list[str]:
    """Judge as the page does: the current task, with the next one reserved while it is judged."""
    judged: list[str] = []
    while (view := store.next_task(rater_id)) is not None:
        upcoming = store.upcoming_task(rater_id)
        _judge(store, rater_id, view.task_id)
        judged.append(view.task_id)
        if upcoming is not None:
            assert store.next_task(rater_id).task_id == upcoming.task_id  # the reserved one comes next
    return judged


def _task(store: FeedbackStore, task_id: str) -> Task:
    with store.transaction() as session:
        task = session.get(Task, task_id)
        session.expunge(task)
        return task


def test_the_reserved_task_follows_the_current_one_and_changes_no_count(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(votes_per_pair=1, gold_per_rater=0))
    alice = _rater(store, "alice")
    assert store.upcoming_task(alice) is None  # nothing current yet: nothing to be ahead of
    current = store.next_task(alice)
    before = store.progress(alice)
    upcoming = store.upcoming_task(alice)
    assert upcoming is not None and upcoming.task_id != current.task_id
    assert store.upcoming_task(alice).task_id == upcoming.task_id  # at most one ahead
    assert store.next_task(alice).task_id == current.task_id  # the current task stays current
    assert store.progress(alice) == before == (0, N_PAIRS)
    coverage = store.coverage()[0]
    assert coverage["open_assignments"] == 2 and coverage["judgments"] == 0 and coverage["complete"] == 0
    assert [r["done"] for r in store.summary()["raters"]] == [0]
    assert _task(store, upcoming.task_id).n_assigned == 1 and _task(store, upcoming.task_id).n_judged == 0
    judged = _judge_all_with_prefetch(store, alice)
    assert len(judged) == len(set(judged)) == N_PAIRS and judged[:2] == [current.task_id, upcoming.task_id]
    assert store.progress(alice) == (N_PAIRS, N_PAIRS) and store.upcoming_task(alice) is None
    assert store.coverage()[0]["open_assignments"] == 0 and store.coverage()[0]["complete"] == N_PAIRS


def test_a_reservation_left_unjudged_is_released_and_never_counts_as_judged(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(votes_per_pair=1, gold_per_rater=0))
    gone, here = _rater(store, "gone"), _rater(store, "here")
    current = store.next_task(gone)
    reserved = store.upcoming_task(gone)
    _judge(store, gone, current.task_id)
    assert store.release_stale_assignments(3600) == 0
    assert store.release_stale_assignments(-1) == 1  # the rater left: the reserved task goes back
    assert (_task(store, reserved.task_id).n_assigned, _task(store, reserved.task_id).n_judged) == (0, 0)
    with pytest.raises(ForbiddenError):
        _judge(store, gone, reserved.task_id)
    assert store.coverage()[0]["open_assignments"] == 0 and store.coverage()[0]["judgments"] == 1
    assert [r["done"] for r in store.summary()["raters"]] == [1, 0]
    judged = _judge_all_with_prefetch(store, here)
    assert reserved.task_id in judged and len(judged) == N_PAIRS - 1
    with store.transaction() as session:
        by = session.execute(select(Judgment.rater_id).where(Judgment.task_id == reserved.task_id)).scalars().all()
    assert by == [here]


def test_pausing_a_rater_releases_the_current_and_the_reserved_task(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(votes_per_pair=1, gold_per_rater=0))
    alice = _rater(store, "alice")
    store.next_task(alice)
    store.upcoming_task(alice)
    assert store.deactivate_rater("alice") == 2
    assert store.coverage()[0]["open_assignments"] == 0


def test_reservations_keep_the_quota_and_its_gold_pairs(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(votes_per_pair=1, rater_quota=4, gold_per_rater=2))
    alice = _rater(store, "alice")
    judged = _judge_all_with_prefetch(store, alice)
    with store.transaction() as session:
        gold = session.scalars(select(Task.id).where(Task.is_gold.is_(True), Task.id.in_(judged))).all()
    assert len(judged) == 4 and len(gold) == 1  # as without prefetching: the first gold pair is her third task
    assert store.progress(alice) == (4, 4)
    store.set_campaign_sizing("collect", rater_quota=1)
    bob = _rater(store, "bob")
    assert store.next_task(bob) is not None and store.upcoming_task(bob) is None  # a quota of one: nothing ahead


def test_a_reserved_pair_holds_its_vote_and_held_out_campaigns_stay_apart(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(votes_per_pair=1, gold_per_rater=0))
    cands = [c.edit_id for c in manifest.songs[0].candidates]
    store.create_campaign("eval-1", [(cands[0], cands[1]), (cands[2], cands[3])])
    trainer, judge, other = _rater(store, "trainer"), _rater(store, "judge", held_out=True), _rater(store, "other")
    current, reserved = store.next_task(judge), store.upcoming_task(judge)
    assert {current.campaign, reserved.campaign} == {"eval-1"}
    store.next_task(trainer)
    held = store.upcoming_task(trainer)
    assert held.campaign == "collect"
    seen = _judge_all_with_prefetch(store, other)
    assert held.task_id not in seen and len(seen) == N_PAIRS - 2  # trainer holds two of the pairs' only votes
    assert _judge_all_with_prefetch(store, judge) == [current.task_id, reserved.task_id]


def test_next_ahead_hands_out_the_reserved_task_and_its_audio(manifest_path, tmp_path):
    app = create_app(manifest_path, f"sqlite:///{tmp_path / 'fb.sqlite'}", TaskConfig(gold_per_rater=0))
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {app.state.store.add_rater('alice')}"}
        plain = client.get("/api/next", headers=headers).json()
        assert "next" not in plain and app.state.store.coverage()[0]["open_assignments"] == 1
        assert client.get("/api/next?ahead=2", headers=headers).status_code == 422
        body = client.get("/api/next?ahead=1", headers=headers).json()
        upcoming = body["next"]
        assert body["task_id"] == plain["task_id"] and upcoming["task_id"] != plain["task_id"]
        assert upcoming["progress"] == {"done": 1, "total": N_PAIRS} and upcoming["a"]["must_listen"] is not None
        assert client.get("/api/next?ahead=1", headers=headers).json()["next"]["task_id"] == upcoming["task_id"]
        # its audio is served before it is current (prefetched), and bounds its listening claims as any other
        original = client.get(upcoming["song"]["audio_url"] + "?format=ogg", headers={**headers, "Range": "bytes=0-99"})
        assert original.status_code == 206
        for part in (body["song"], body["a"], body["b"], upcoming["a"], upcoming["b"]):
            assert client.get(part["audio_url"], headers=headers).status_code == 200
        vote = {"client_id": str(uuid.uuid4()), "preference": "a", "strength": 2}
        judged = client.post(
            "/api/judgments",
            headers=headers,
            json={**vote, "task_id": body["task_id"], "listening": full_listening(body)},
        )
        assert judged.status_code == 201
        after = client.get("/api/next?ahead=1", headers=headers).json()
        assert after["task_id"] == upcoming["task_id"] and after["next"]["task_id"] not in (
            body["task_id"],
            upcoming["task_id"],
        )
        short = client.post(
            "/api/judgments",
            headers=headers,
            json={
                **vote,
                "client_id": str(uuid.uuid4()),
                "task_id": after["task_id"],
                "listening": full_listening(after),
            },
        )
        assert short.status_code == 422 and "original" in short.json()["detail"]  # only 100 bytes of it were sent
        assert client.get("/api/me", headers=headers).json()["done"] == 1
