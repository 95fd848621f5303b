"""Evaluation by people: a held-out campaign on the feedback store, and its judgments read back."""

from __future__ import annotations

import json

import pytest

from rl_editor.rlhf.evaluate import campaign_result, create_evaluation_campaign


def test_a_campaign_goes_to_held_out_raters_and_its_judgments_give_the_win_rate(
        tmp_path, rlhf_policy_path, heldout_analyses):
    from rl_editor.feedback.storage import FeedbackStore, JudgmentIn

    db = f"sqlite:///{tmp_path / 'feedback.sqlite'}"
    name = create_evaluation_campaign(rlhf_policy_path, rlhf_policy_path, heldout_analyses, db, tmp_path / "eval",
                                      edits_per_song=3, temperature=1.0, raters_per_pair=1, name="eval-test")
    assert name == "eval-test"
    assert json.loads((tmp_path / "eval" / "campaign.json").read_text())["campaign"] == name
    with FeedbackStore.open(db) as store:
        store.add_rater("trainer")
        store.add_rater("judge", held_out=True)
        raters = {r.name: r.id for r in store.list_raters()}
        assert store.next_task(raters["trainer"]) is None  # evaluation tasks never reach training raters
        judged = 0
        while (task := store.next_task(raters["judge"])) is not None:
            assert task.campaign == name
            new_first = "-eval-new-" in task.edits[0].edit_id
            store.submit_judgment(raters["judge"], JudgmentIn(client_id=f"c{judged}", task_id=task.task_id,
                                                              preference="a" if new_first else "b", strength=2))
            judged += 1
    assert judged == 3 * len(heldout_analyses)
    result = campaign_result(db, name)
    assert (result.win.wins, result.win.losses) == (judged, 0)


def test_reading_a_campaign_without_judgments_is_a_clear_error(tmp_path):
    from rl_editor.errors import RlEditorError

    with pytest.raises(RlEditorError, match="no judgments"):
        campaign_result(f"sqlite:///{tmp_path / 'empty.sqlite'}", "nothing")
