"""Campaign sizing on SQLite and PostgreSQL: votes per pair, per-rater quota, the stop rule, honest progress,
coverage, and the highest priority first through ``/api/next``."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from rl_editor.feedback.models import Rater, Task
from rl_editor.feedback.storage import FeedbackError, FeedbackStore, JudgmentIn, NotFoundError
from rl_editor.feedback.tasks import TaskConfig

N_PAIRS = 2 * 6  # two songs, four candidates each


@pytest.fixture
def store(db_url, manifest):
    with FeedbackStore.open(db_url, manifest.path) as s:
        yield s


def _rater(store, name):
    store.add_rater(name)
    with store.transaction() as session:
        return session.scalars(select(Rater.id).where(Rater.name == name)).one()


def _judge_all(store, rater_id):
    """Judge until the store has nothing more for this rater; returns the task ids judged."""
    judged = []
    while (view := store.next_task(rater_id)) is not None:
        store.submit_judgment(
            rater_id, JudgmentIn(client_id=str(uuid.uuid4()), task_id=view.task_id, preference="a", strength=2)
        )
        judged.append(view.task_id)
    return judged


def test_a_rater_stops_getting_tasks_at_the_quota_and_sees_a_finite_count(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(votes_per_pair=1, rater_quota=5, gold_per_rater=0))
    alice, bob = _rater(store, "alice"), _rater(store, "bob")
    assert store.progress(alice) == (0, 5)  # not the 12 pairs of the campaign: the 5 she can be asked
    assert len(_judge_all(store, alice)) == 5
    assert store.progress(alice) == (5, 5)
    assert store.progress(bob) == (0, 5)
    assert len(_judge_all(store, bob)) == 5
    carol = _rater(store, "carol")
    assert store.progress(carol) == (0, N_PAIRS - 10)  # bounded by the pairs still needing a vote
    assert len(_judge_all(store, carol)) == N_PAIRS - 10


def test_a_pair_with_its_votes_is_not_assigned_again(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(votes_per_pair=2, gold_per_rater=0))
    raters = [_rater(store, name) for name in ("r1", "r2", "r3")]
    first, second = _judge_all(store, raters[0]), _judge_all(store, raters[1])
    assert sorted(first) == sorted(second) and len(first) == N_PAIRS
    assert store.next_task(raters[2]) is None and store.progress(raters[2]) == (0, 0)
    with store.transaction() as session:
        assert set(session.scalars(select(Task.n_judged)).all()) == {2}


def test_the_quota_counts_gold_pairs(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(votes_per_pair=1, rater_quota=4, gold_per_rater=2))
    alice = _rater(store, "alice")
    assert store.progress(alice) == (0, 4)
    judged = _judge_all(store, alice)
    with store.transaction() as session:
        gold = session.scalars(select(Task.id).where(Task.is_gold.is_(True), Task.id.in_(judged))).all()
    assert len(judged) == 4 and len(gold) == 1  # the first gold pair comes at her third task
    assert store.progress(alice) == (4, 4)


def test_resizing_a_running_campaign_changes_who_gets_what(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(votes_per_pair=1, gold_per_rater=0))
    alice, bob = _rater(store, "alice"), _rater(store, "bob")
    assert len(_judge_all(store, alice)) == N_PAIRS
    assert store.next_task(bob) is None
    store.set_campaign_sizing("collect", votes_per_pair=2, rater_quota=3)
    assert store.progress(bob) == (0, 3)
    assert len(_judge_all(store, bob)) == 3
    with pytest.raises(FeedbackError, match="--quota must be at least 1"):
        store.set_campaign_sizing("collect", rater_quota=0)
    with pytest.raises(NotFoundError, match="no campaign 'nope'"):
        store.set_campaign_sizing("nope", votes_per_pair=3)


def test_coverage_counts_pairs_by_votes_per_campaign(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(votes_per_pair=2, rater_quota=7, gold_per_rater=0))
    pairs = [(c.edit_id, d.edit_id) for c, d in zip(manifest.songs[0].candidates, manifest.songs[0].candidates[1:])]
    store.create_campaign("eval", pairs, held_out_only=False, votes_per_pair=1)
    _judge_all(store, _rater(store, "alice"))  # 7 tasks: the quota of collect; eval has none
    _judge_all(store, _rater(store, "bob"))
    by_name = {row["campaign"]: row for row in store.coverage()}
    collect, evaluation = by_name["collect"], by_name["eval"]
    assert (collect["votes_per_pair"], collect["rater_quota"], collect["pairs"]) == (2, 7, N_PAIRS)
    assert sum(collect["votes"].values()) == N_PAIRS
    assert sum(int(k) * n for k, n in collect["votes"].items()) == collect["judgments"]
    assert (collect["judgments"], evaluation["judgments"]) == (14, len(pairs))
    assert collect["complete"] == collect["votes"].get("2", 0)
    assert evaluation["votes"] == {"0": 0, "1": len(pairs)} and evaluation["complete"] == len(pairs)
    assert store.summary()["coverage"] == store.coverage()


def test_next_hands_out_the_highest_priority_first_and_the_admin_api_shows_coverage(db_url, manifest_path):
    from rl_editor.feedback.app import create_app

    app = create_app(manifest_path, db_url, task_config=TaskConfig(votes_per_pair=1, rater_quota=3, gold_per_rater=0))
    store = app.state.store
    with store.transaction() as session:
        tasks = session.scalars(select(Task).order_by(Task.id)).all()
    ranked = {(t.edit_a, t.edit_b): float(k + 1) for k, t in enumerate(tasks[:4])}  # tasks[3] highest
    assert store.reprioritize_campaign("collect", ranked) == 4
    token, admin = store.add_rater("alice"), store.create_admin_token()
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        shown = []
        for _ in range(3):
            task = client.get("/api/next", headers=headers).json()
            assert task["progress"]["total"] == 3
            shown.append(task["task_id"])
            for side in ("a", "b"):  # a listening record may claim only audio the server sent
                assert client.get(task[side]["audio_url"], headers=headers).status_code == 200
            body = {
                "client_id": str(uuid.uuid4()),
                "task_id": task["task_id"],
                "preference": "a",
                "strength": 1,
                "listening": {"a_s": task["a"]["duration_seconds"], "b_s": task["b"]["duration_seconds"]},
            }
            assert client.post("/api/judgments", json=body, headers=headers).status_code == 201
        assert shown == [tasks[3].id, tasks[2].id, tasks[1].id]
        finished = client.get("/api/next", headers=headers).json()
        assert finished["done"] is True and finished["progress"] == {"done": 3, "total": 3}
        coverage = client.get("/api/admin/summary", headers={"Authorization": f"Bearer {admin}"}).json()["coverage"]
    assert coverage[0]["campaign"] == "collect" and coverage[0]["votes"] == {"0": N_PAIRS - 3, "1": 3}
    store.close()


def test_warm_up_caches_the_edits_of_open_tasks(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(votes_per_pair=1, gold_per_rater=0))
    assert store.warm_up(connections=2) == sum(len(song.candidates) for song in manifest.songs)
    alice = _rater(store, "alice")
    view = store.next_task(alice)
    assert [e.edit_id for e in view.edits] and all(e.actions for e in view.edits)
