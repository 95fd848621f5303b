"""The loop: one run folder with every model and data set, a report, and resuming after a crash."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from rl_editor.errors import RlEditorError
from rl_editor.rlhf.demo import DemoConfig, demo_loop_config
from rl_editor.rlhf.loop import LoopConfig, RunState, run_loop

pytestmark = pytest.mark.slow


def _tiny(songs: Path, run: Path) -> LoopConfig:
    config = demo_loop_config(DemoConfig(quick=True, progress=False), songs, run)
    return replace(config, progress=False)


def _demo_sized(songs: Path, run: Path) -> LoopConfig:
    """The loop settings of ``rl-editor demo`` (500 judged pairs, 3 held-out songs, 5 held-out raters)."""
    return replace(demo_loop_config(DemoConfig(progress=False), songs, run), progress=False)


@pytest.fixture(scope="module")
def loop_run(tmp_path_factory, demo_songs_dir):
    run = tmp_path_factory.mktemp("loop") / "run"
    result = run_loop(_tiny(demo_songs_dir, run))
    return run, result


@pytest.fixture(scope="module")
def ten_short_songs(tmp_path_factory) -> Path:
    """Ten demo songs of 25-35 s: seven to learn from and three held out, as in the demo."""
    from rl_editor.audio.demo_songs import synthesize_corpus

    folder = tmp_path_factory.mktemp("ten-songs")
    synthesize_corpus(folder, n_songs=10, seed=0, duration_range_s=(25.0, 35.0))
    return folder


def test_one_iteration_makes_a_policy_that_held_out_raters_prefer(ten_short_songs, tmp_path):
    """The fine-tuned policy beats the previous one on held-out songs, on each of them, by held-out raters.

    The quick settings of the other tests learn from too little to improve the
    policy. At the demo's settings on these songs, seed 0 (run here) wins 81.1%
    of 95 decisive judgments (Wilson lower bound 0.72, song bootstrap 0.60);
    over seeds 0-5, five won 81-90% and seed 4 lost (31%): one iteration does
    not improve the policy every time.
    """
    result = run_loop(_demo_sized(ten_short_songs, tmp_path / "run"))
    win = result.evaluations[0]
    assert win["wins"] + win["losses"] >= 80, win
    assert win["win_rate"] > 0.7 and win["ci_low"] > 0.6, win
    assert win["cluster_ci_low"] is not None and win["cluster_ci_low"] > 0.5, win


def test_every_model_and_data_set_is_versioned_under_the_run_folder(loop_run):
    run, result = loop_run
    for name in ("bootstrap/policy.pt", "bootstrap/preferences.json", "bootstrap/reward.pt",
                 "iter-01/candidates/manifest.json", "iter-01/preferences.json", "iter-01/reward.pt",
                 "iter-01/reward_eval.json", "iter-01/policy.pt", "iter-01/eval.json", "state.json", "split.json"):
        assert (run / name).exists(), name
    assert result.steps_skipped == []
    assert len(result.steps_run) == 9
    split = json.loads((run / "split.json").read_text())
    assert not set(split["train"]) & set(split["heldout"])


def test_models_record_their_lineage(loop_run):
    from rl_editor.registry import load_model_file

    run, _ = loop_run
    boot_policy = load_model_file(run / "bootstrap/policy.pt")[1]
    boot_reward = load_model_file(run / "bootstrap/reward.pt")[1]
    reward = load_model_file(run / "iter-01/reward.pt")[1]
    policy = load_model_file(run / "iter-01/policy.pt")[1]
    assert reward.parent == boot_reward.version
    assert policy.parent == boot_policy.version
    assert policy.trained_on["reward_model"] == reward.version


def test_held_out_songs_are_never_trained_on(loop_run):
    from rl_editor.preferences import load_preferences

    run, _ = loop_run
    heldout = set(json.loads((run / "split.json").read_text())["heldout"])
    for prefs in ("bootstrap/preferences.json", "iter-01/preferences.json"):
        assert not {p.song_id for p in load_preferences(run / prefs)} & heldout
    assert set(json.loads((run / "iter-01/eval.json").read_text())["settings"]["songs"]) == heldout


def test_a_rerun_redoes_only_the_step_whose_output_is_gone(loop_run, tmp_path, demo_songs_dir):
    run, _ = loop_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "iter-01" / "eval.json").unlink()
    RunState(copy).forget("iter-01/eval")
    result = run_loop(_tiny(demo_songs_dir, copy))
    assert result.steps_run == ["iter-01/eval"]
    assert len(result.steps_skipped) == 8
    assert (copy / "iter-01" / "eval.json").exists()


def test_a_step_recorded_but_missing_its_output_is_redone(loop_run, tmp_path, demo_songs_dir):
    run, _ = loop_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "iter-01" / "reward_eval.json").unlink()
    result = run_loop(_tiny(demo_songs_dir, copy))
    assert result.steps_run == ["iter-01/reward_eval"]


def test_redoing_a_reward_model_redoes_what_was_trained_on_it(loop_run, tmp_path, demo_songs_dir):
    run, _ = loop_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "iter-01" / "reward.pt").unlink()
    result = run_loop(_tiny(demo_songs_dir, copy))
    assert result.steps_run == ["iter-01/reward", "iter-01/reward_eval", "iter-01/policy", "iter-01/eval"]


def test_people_judge_through_the_feedback_database(loop_run, tmp_path, demo_songs_dir):
    import threading
    import time

    from rl_editor.feedback.storage import FeedbackStore, JudgmentIn
    from rl_editor.preferences import load_preferences

    run, _ = loop_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    (copy / "iter-01" / "preferences.json").unlink()
    db = f"sqlite:///{tmp_path / 'feedback.sqlite'}"
    stop = threading.Event()

    def person() -> None:  # judges whatever the server hands out: always the edit shown first
        with FeedbackStore.open(db) as store:
            store.add_rater("ana")
            rater = store.list_raters()[0].id
            n = 0
            while not stop.is_set():
                task = store.next_task(rater)
                if task is None:
                    time.sleep(0.1)
                    continue
                store.submit_judgment(rater, JudgmentIn(client_id=f"ana-{n}", task_id=task.task_id,
                                                        preference="a", strength=1))
                n += 1

    thread = threading.Thread(target=person, daemon=True)
    thread.start()
    try:
        config = replace(_tiny(demo_songs_dir, copy), db=db, pairs=10, poll_seconds=0.2, wait_timeout_s=120)
        result = run_loop(config)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert result.steps_run[0] == "iter-01/preferences"
    pairs = load_preferences(copy / "iter-01" / "preferences.json")
    assert len(pairs) == 10 and {p.rater for p in pairs} == {"ana"}
    heldout = set(json.loads((copy / "split.json").read_text())["heldout"])
    assert not {p.song_id for p in pairs} & heldout


def test_the_report_has_the_table_and_the_plots(loop_run):
    from rl_editor.rlhf.report import write_report

    run, _ = loop_run
    report = write_report(run).read_text()
    assert "| iter-01 |" in report and "Krippendorff" in report
    for png in ("win_rates.png", "reward_accuracy.png", "policy_learning.png", "kl.png"):
        assert (run / png).stat().st_size > 1000
        assert f"]({png})" in report


def test_too_few_songs_for_the_held_out_split_is_refused(tmp_path, demo_songs_dir):
    config = replace(_tiny(demo_songs_dir, tmp_path / "run"), heldout_songs=4)
    with pytest.raises(RlEditorError, match="at least 5"):
        run_loop(config)
