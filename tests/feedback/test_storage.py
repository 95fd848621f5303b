"""The store on SQLite and on a real PostgreSQL: tasks, scheduling, judging, campaigns, concurrency."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from itertools import combinations

import pytest
from sqlalchemy import select, text

from rl_editor.feedback.models import Assignment, Rater, Task
from rl_editor.feedback.storage import (
    ConflictError,
    FeedbackStore,
    ForbiddenError,
    InvalidJudgmentError,
    JudgmentIn,
)
from rl_editor.feedback.tasks import TaskConfig

N_PAIRS = 2 * 6  # two songs, four candidates each


@pytest.fixture
def store(db_url, manifest):
    with FeedbackStore.open(db_url, manifest.path) as s:
        yield s


def _judge(store, rater_id, view, preference="a", strength=2, client_id=None):
    return store.submit_judgment(
        rater_id,
        JudgmentIn(
            client_id=client_id or str(uuid.uuid4()),
            task_id=view.task_id,
            preference=preference,
            strength=strength,
            rating=3 if view.kind == "rating" else None,
        ),
    )


def _rater_id(store, name):
    with store.transaction() as session:
        return session.scalars(select(Rater.id).where(Rater.name == name)).one()


def test_tasks_from_manifest_are_made_once(store, manifest):
    created = store.create_tasks_from_manifest(manifest, TaskConfig(gold_per_rater=0, ratings_per_song=1))
    assert created == N_PAIRS + 2
    assert store.create_tasks_from_manifest(manifest, TaskConfig(gold_per_rater=0, ratings_per_song=1)) == 0


def test_pairs_per_song_and_overlap_share(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(pairs_per_song=3, overlap_share=1 / 3, gold_per_rater=0))
    with store.transaction() as session:
        targets = sorted(session.scalars(select(Task.target_raters)).all())
    assert targets == [1, 1, 1, 1, 2, 2]


def test_tokens_are_stored_only_as_hashes(store):
    token = store.add_rater("alice")
    admin = store.create_admin_token()
    with store.transaction() as session:
        dump = json.dumps(
            [list(r) for r in session.execute(text("SELECT * FROM raters")).all()]
            + [list(r) for r in session.execute(text("SELECT * FROM admin_tokens")).all()]
        )
    assert token not in dump and admin not in dump
    assert store.authenticate_rater(token).name == "alice"
    assert store.authenticate_rater(token + "x") is None and store.authenticate_admin(admin)
    assert store.authenticate_rater(store.add_rater("old", expires_in_s=-1)) is None


def test_open_task_comes_back_until_judged_and_raters_never_repeat_a_pair(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(raters_per_pair=2, gold_per_rater=0))
    store.add_rater("alice")
    rid = _rater_id(store, "alice")
    first = store.next_task(rid)
    assert store.next_task(rid).task_id == first.task_id
    seen = []
    view = first
    while view is not None:
        seen.append(view.task_id)
        _judge(store, rid, view)
        view = store.next_task(rid)
    assert len(seen) == len(set(seen)) == N_PAIRS
    assert store.progress(rid) == (N_PAIRS, N_PAIRS)


def test_highest_priority_goes_first_until_it_has_its_votes_then_work_is_balanced(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(raters_per_pair=2, gold_per_rater=0))
    with store.transaction() as session:
        top = session.scalars(select(Task).order_by(Task.id).limit(1)).one()
    assert store.set_task_priorities({(top.edit_b, top.edit_a): 5.0}) == 1
    for name in ("r1", "r2", "r3", "r4"):
        store.add_rater(name)
    views = {name: store.next_task(_rater_id(store, name)) for name in ("r1", "r2", "r3", "r4")}
    assert views["r1"].task_id == top.id and views["r2"].task_id == top.id  # highest priority first
    assert views["r3"].task_id != top.id  # it has its two raters: handed out no more
    assert views["r4"].task_id not in (top.id, views["r3"].task_id)  # among equal priorities, least-assigned first


def test_presented_order_maps_back_to_the_canonical_pair(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(gold_per_rater=0))
    store.add_rater("alice")
    rid = _rater_id(store, "alice")
    for _ in range(6):
        view = store.next_task(rid)
        _judge(store, rid, view, preference="a")  # always the edit shown as A
        pair = [p for p in store.export_pairs() if p.extra["task_id"] == view.task_id][0]
        shown_a = view.edits[0].edit_id
        winner = pair.edit_a if pair.preference == "a" else pair.edit_b
        assert winner.extra["edit_id"] == shown_a
        assert pair.extra["presented_order"] == view.presented_order


def test_retries_are_recorded_once_and_others_cannot_judge_your_task(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(gold_per_rater=0))
    store.add_rater("alice")
    store.add_rater("bob")
    alice, bob = _rater_id(store, "alice"), _rater_id(store, "bob")
    view = store.next_task(alice)
    first = _judge(store, alice, view, client_id="c-1")
    assert first[1] is False
    assert _judge(store, alice, view, client_id="c-1") == (first[0], True)
    with pytest.raises(ConflictError):
        _judge(store, alice, view, client_id="c-2")
    other = store.next_task(alice)
    with pytest.raises(ForbiddenError):
        _judge(store, bob, other)
    with pytest.raises(InvalidJudgmentError):
        _judge(store, alice, other, strength=None)
    assert len(store.export_pairs()) == 1


def test_gold_failures_are_visible_to_the_admin(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(gold_per_rater=2))
    store.add_rater("careless")
    rid = _rater_id(store, "careless")
    gold_seen = 0
    while (view := store.next_task(rid)) is not None:
        is_gold = view.edits[0].kind == "gold" or view.edits[1].kind == "gold"
        gold_seen += is_gold
        broken_shown_as = "a" if view.edits[0].kind == "gold" else "b"
        _judge(store, rid, view, preference=broken_shown_as if is_gold else "a")
    row = [r for r in store.summary()["raters"] if r["name"] == "careless"][0]
    assert gold_seen == 2 and row["gold_total"] == 2 and row["gold_failures"] == 2
    assert all(not p.extra.get("is_gold") for p in store.export_pairs())
    assert len(store.export_pairs(include_gold=True)) == N_PAIRS + 2
    assert (manifest.root / "gold").is_dir()


def test_held_out_campaign_goes_only_to_held_out_raters(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(gold_per_rater=0))
    cands = [c.edit_id for c in manifest.songs[0].candidates]
    store.create_campaign("eval-1", [(cands[0], cands[1]), (cands[2], cands[3])])
    store.add_rater("trainer")
    store.add_rater("judge", held_out=True)
    trainer, judge = _rater_id(store, "trainer"), _rater_id(store, "judge")
    judged = []
    while (view := store.next_task(judge)) is not None:
        assert view.campaign == "eval-1"
        judged.append(_judge(store, judge, view))
    assert len(judged) == 2
    while (view := store.next_task(trainer)) is not None:
        assert view.campaign == "collect"
        _judge(store, trainer, view)
    assert {p.rater for p in store.export_pairs(campaign="eval-1")} == {"judge"}
    assert len(store.export_pairs(campaign="collect")) == N_PAIRS


def test_rating_tasks_take_a_rating(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(gold_per_rater=0, ratings_per_song=1, pairs_per_song=0))
    store.add_rater("alice")
    rid = _rater_id(store, "alice")
    view = store.next_task(rid)
    assert view.kind == "rating" and len(view.edits) == 1
    store.submit_judgment(rid, JudgmentIn(client_id="r1", task_id=view.task_id, rating=4, notes="great"))
    ratings = store.export_ratings()
    assert ratings[0]["rating"] == 4 and ratings[0]["rating_label"] == "Excellent"


def test_concurrent_raters_get_each_slot_once_and_every_judgment_once(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(raters_per_pair=2, overlap_share=0, gold_per_rater=0))
    names = [f"r{i}" for i in range(8)]
    for name in names:
        store.add_rater(name)
    ids = [_rater_id(store, n) for n in names]

    def work(rid):
        made = []
        while (view := store.next_task(rid)) is not None:
            cid = str(uuid.uuid4())
            _judge(store, rid, view, client_id=cid)
            _judge(store, rid, view, client_id=cid)  # a retry
            made.append(cid)
        return made

    with ThreadPoolExecutor(8) as pool:
        acknowledged = [c for made in pool.map(work, ids) for c in made]
    assert len(acknowledged) == 2 * N_PAIRS
    assert store.judgment_client_ids() == set(acknowledged)
    with store.transaction() as session:
        tasks = session.scalars(select(Task)).all()
        pairs = session.execute(select(Assignment.task_id, Assignment.rater_id)).all()
    assert all(t.n_assigned == t.n_judged == 2 for t in tasks)
    assert len(pairs) == len(set(pairs))
    per_rater = [sum(1 for _, r in pairs if r == rid) for rid in ids]
    assert max(per_rater) <= N_PAIRS


def test_set_task_priorities_can_create_missing_pairs(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(pairs_per_song=1, gold_per_rater=0))
    cands = [c.edit_id for c in manifest.songs[0].candidates]
    ranking = {pair: float(i) for i, pair in enumerate(combinations(cands, 2))}
    assert store.set_task_priorities(ranking) == 1
    assert store.set_task_priorities(ranking, create_missing=True) == 6
    with store.transaction() as session:
        assert session.scalar(select(Task.priority).order_by(Task.priority.desc()).limit(1)) == 5.0


def test_stale_assignments_go_back_to_the_queue(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(gold_per_rater=0))
    store.add_rater("gone")
    store.add_rater("here")
    gone, here = _rater_id(store, "gone"), _rater_id(store, "here")
    taken = store.next_task(gone)
    assert store.release_stale_assignments(3600) == 0
    assert store.release_stale_assignments(-1) == 1
    with pytest.raises(ForbiddenError):
        _judge(store, gone, taken)
    seen = set()
    while (view := store.next_task(here)) is not None:
        seen.add(view.task_id)
        _judge(store, here, view)
    assert taken.task_id in seen and len(seen) == N_PAIRS


def test_an_edit_id_stored_with_other_actions_is_a_conflict_and_nothing_is_stored(store, manifest):
    from rl_editor.generate.manifest import Manifest

    store.register_edits(manifest)
    clash = Manifest.load(manifest.path)
    clash.songs[0].candidates[0].actions = [1 - a if a < 2 else a for a in clash.songs[0].candidates[0].actions]
    clash.songs[1].candidates[0].edit_id = "a-new-edit"
    with pytest.raises(ConflictError, match="already stored with other actions"):
        store.register_edits(clash)
    assert store.edit("a-new-edit") is None
    assert store.edit(manifest.songs[0].candidates[0].edit_id).actions == manifest.songs[0].candidates[0].actions


def test_edits_of_two_manifest_folders_share_one_database(store, manifest, tmp_path, make_test_manifest):
    """An evaluation campaign rendered elsewhere is heard from its own folder, next to the training edits."""
    from rl_editor.generate.manifest import Manifest

    other = Manifest.load(make_test_manifest(tmp_path / "evaluation", seed=5))
    for song in other.songs:
        song.song_id = f"heldout-{song.song_id}"
        for cand in song.candidates:
            cand.edit_id = f"heldout-{cand.edit_id}"
    other.save()
    store.set_song_library(tmp_path)  # both manifests' songs lie in it
    store.create_tasks_from_manifest(manifest, TaskConfig(gold_per_rater=0))
    store.register_edits(other)
    song = other.songs[0]
    name = store.create_campaign(
        "eval", [(song.candidates[0].edit_id, song.candidates[1].edit_id)], held_out_only=True, raters_per_pair=1
    )
    store.add_rater("judge", held_out=True)
    judge = _rater_id(store, "judge")
    view = store.next_task(judge)
    assert view.campaign == name and view.song.song_id == song.song_id and view.song.beats == song.beats
    files = {store.task_audio_file(judge, view.task_id, side) for side in ("a", "b")}
    assert files == {other.resolve(c.path) for c in song.candidates[:2]}
    assert store.task_audio_file(judge, view.task_id, "original") == other.resolve(song.song)
    _judge(store, judge, view)
    exported = store.export_pairs(campaign=name)
    assert exported[0].extra["song_path"] == str(other.resolve(song.song))


def test_servers_starting_at_once_on_one_database_make_each_task_once(db_url, manifest):
    """Two processes (here: two stores on their own engines) register the same manifest concurrently."""
    import threading

    stores = [FeedbackStore.open(db_url, manifest.path) for _ in range(4)]
    barrier = threading.Barrier(len(stores))

    def start(s):
        barrier.wait()
        s.register_edits(manifest)
        return s.create_tasks_from_manifest(manifest, TaskConfig(gold_per_rater=2))

    try:
        with ThreadPoolExecutor(len(stores)) as pool:
            created = list(pool.map(start, stores))
        with stores[0].transaction(readonly=True) as session:
            keys = session.scalars(select(Task.pair_key)).all()
    finally:
        for s in stores:
            s.close()
    assert len(keys) == len(set(keys)) == sum(created)
    assert sum(1 for k in keys if k.startswith("gold")) == 2


def test_the_same_client_id_with_another_answer_is_refused_not_dropped(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(gold_per_rater=0))
    store.add_rater("tabs")
    rid = _rater_id(store, "tabs")
    view = store.next_task(rid)
    first_id, duplicate = _judge(store, rid, view, "a", 2, client_id="two-tabs")
    assert not duplicate
    assert _judge(store, rid, view, "a", 2, client_id="two-tabs") == (first_id, True)  # a retry of the same answer
    with pytest.raises(ConflictError, match="already answered differently"):
        _judge(store, rid, view, "tie", 1, client_id="two-tabs")
    (pair,) = [p for p in store.export_pairs() if p.task_id == view.task_id]
    assert pair.strength == 2 and pair.preference != "tie"


def test_only_the_last_answer_can_be_revised_and_the_old_one_is_kept(store, manifest):
    store.create_tasks_from_manifest(manifest, TaskConfig(gold_per_rater=0))
    store.add_rater("second-thoughts")
    rid = _rater_id(store, "second-thoughts")
    first = store.next_task(rid)
    judgment_id, _ = _judge(store, rid, first, "a", 3)
    revised = JudgmentIn(
        client_id="revision",
        task_id=first.task_id,
        preference="tie",
        tie_kind="both_bad",
        strength=1,
        notes="both cut the chorus",
    )
    assert store.revise_last_judgment(rid, revised) == judgment_id
    (pair,) = [p for p in store.export_pairs() if p.task_id == first.task_id]
    assert (pair.preference, pair.tie_kind, pair.notes) == ("tie", "both_bad", "both cut the chorus")
    with store.transaction() as session:
        extra = json.loads(
            session.execute(text("SELECT extra_json FROM judgments WHERE id = :i"), {"i": judgment_id}).scalar_one()
        )
    assert [r["strength"] for r in extra["revisions"]] == [3]
    second = store.next_task(rid)
    _judge(store, rid, second, "b", 1)
    with pytest.raises(ConflictError, match="only your last answer"):
        store.revise_last_judgment(rid, revised)
