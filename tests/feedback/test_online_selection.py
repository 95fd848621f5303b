"""Online pair selection on demo songs: ``tasks prioritize --retrain`` end to end, and the server's thread
step, on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from rl_editor.feedback.models import Rater, Task
from rl_editor.feedback.online import OnlineSelection, OnlineSelectionConfig
from rl_editor.feedback.storage import FeedbackStore
from rl_editor.raters import load_rater
from rl_editor.raters.campaign import judge_next_task, sampled_manifest

N_CANDIDATES = 6


@pytest.fixture
def demo_manifest(tmp_path, demo_songs_dir, demo_analyses, db_url):
    """Two demo songs with six sampled candidate edits each (no rendered audio: nothing is served);
    the database's song library is the demo songs' folder."""
    songs = [(demo_songs_dir / f"{analysis.song_id}.wav", analysis) for analysis in demo_analyses[:2]]
    manifest = sampled_manifest(songs, tmp_path / "run", N_CANDIDATES, np.random.default_rng(3), render=False)
    with FeedbackStore.open(db_url) as store:
        store.set_song_library(demo_songs_dir)
    return manifest, {a.song_id: a for a in demo_analyses[:2]}


def _simulated_judgments(store, analyses, n, name="sim"):
    """A simulated musician judges ``n`` tasks through the store, as the server would hand them out."""
    rater = load_rater("musician:tie=0", seed=1)
    store.add_rater(name)
    with store.transaction() as session:
        rater_id = session.scalars(select(Rater.id).where(Rater.name == name)).one()
    for _ in range(n):
        assert judge_next_task(store, rater_id, rater, analyses)
    return rater_id


def _open_priorities(store):
    with store.transaction() as session:
        return {t.id: t.priority for t in session.scalars(select(Task).where(Task.n_assigned < Task.target_raters))}


def test_tasks_prioritize_retrains_on_the_campaign_and_next_follows_it(db_url, demo_manifest, rl_editor_main):
    manifest, analyses = demo_manifest
    code, out, err = rl_editor_main(
        "tasks", "create", "--manifest", manifest.path, "--db", db_url, "--votes-per-pair", "1", "--gold-per-rater", "0"
    )
    assert code == 0, err
    n_pairs = 2 * N_CANDIDATES * (N_CANDIDATES - 1) // 2
    assert f"0 of {n_pairs} pairs complete" in out and f"pairs by votes 0:{n_pairs}" in out
    with FeedbackStore.open(db_url) as store:
        rater_id = _simulated_judgments(store, analyses, 12)
        assert set(_open_priorities(store).values()) == {0.0}
    code, out, err = rl_editor_main("tasks", "prioritize", "--db", db_url, "--retrain")
    assert code == 0, err
    assert f"ordered {n_pairs - 12} open pairs of collect" in out
    with FeedbackStore.open(db_url) as store:
        priorities = _open_priorities(store)
        assert sorted(priorities.values()) != [0.0] * len(priorities)
        assert len(set(priorities.values())) == len(priorities)  # a strict order of the open pairs
        assert store.next_task(rater_id).task_id == max(priorities, key=priorities.get)
    code, out, _ = rl_editor_main("tasks", "coverage", "--db", db_url)
    assert code == 0 and f"12 of {n_pairs} pairs complete, 12 judgments, 1 open" in out


def test_tasks_prioritize_orders_by_a_saved_reward_model(db_url, demo_manifest, rl_editor_main, tmp_path):
    manifest, analyses = demo_manifest
    rl_editor_main(
        "tasks", "create", "--manifest", manifest.path, "--db", db_url, "--gold-per-rater", "0", "--votes-per-pair", "1"
    )
    with FeedbackStore.open(db_url) as store:
        _simulated_judgments(store, analyses, 10)
    assert rl_editor_main("export", "--db", db_url, "--out", tmp_path / "prefs.json")[0] == 0
    code, _, err = rl_editor_main(
        "train-reward",
        "--preferences",
        tmp_path / "prefs.json",
        "--out",
        tmp_path / "reward.pt",
        "--epochs",
        "2",
        "--members",
        "2",
        "--val-frac",
        "0",
    )
    assert code == 0, err
    code, out, err = rl_editor_main(
        "tasks", "prioritize", "--db", db_url, "--reward-model", tmp_path / "reward.pt", "--method", "bald"
    )
    assert code == 0, err
    n_open = 2 * N_CANDIDATES * (N_CANDIDATES - 1) // 2 - 10
    assert f"ordered {n_open} open pairs of collect" in out
    with FeedbackStore.open(db_url) as store:
        assert sorted(set(_open_priorities(store).values())) == [float(k) for k in range(1, n_open + 1)]


def test_prioritize_refuses_to_guess_without_judgments_or_a_model(db_url, demo_manifest, rl_editor_main):
    manifest, _ = demo_manifest
    rl_editor_main("tasks", "create", "--manifest", manifest.path, "--db", db_url, "--gold-per-rater", "0")
    code, _, err = rl_editor_main("tasks", "prioritize", "--db", db_url, "--retrain")
    assert code != 0 and "fewer than 10 judged pairs" in err
    code, _, err = rl_editor_main("tasks", "prioritize", "--db", db_url)
    assert code != 0 and "give either --ranking FILE" in err


def test_the_server_thread_reorders_every_k_judgments(db_url, demo_manifest):
    from rl_editor.feedback.tasks import TaskConfig

    manifest, analyses = demo_manifest
    with FeedbackStore.open(db_url, manifest.path) as store:
        store.create_tasks_from_manifest(manifest, TaskConfig(votes_per_pair=1, gold_per_rater=0))
        selection = OnlineSelection(store, OnlineSelectionConfig(every_judgments=10, min_pairs=10, members=2, epochs=5))
        assert selection.step() is False  # nothing judged: no ensemble, the order stays
        _simulated_judgments(store, analyses, 10)
        assert selection.step() is True and selection.rounds == 1
        first = _open_priorities(store)
        assert max(first.values()) > 0
        _simulated_judgments(store, analyses, 4, name="sim2")
        assert selection.step() is False  # 4 new judgments are fewer than K
        _simulated_judgments(store, analyses, 6, name="sim3")
        assert selection.step() is True and selection.rounds == 2
        assert set(_open_priorities(store)) < set(first)  # only pairs still needing votes are ordered
