"""Evaluation by people: a held-out campaign on the feedback store, and its judgments read back."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from rl_editor.cli import app
from rl_editor.policy.trainer import PPOTrainer
from rl_editor.rlhf.evaluate import campaign_result, create_evaluation_campaign


def test_a_campaign_goes_to_held_out_raters_and_its_judgments_give_the_win_rate(
    tmp_path, rlhf_policy_path, heldout_analyses, capsys
):
    from rl_editor.feedback.storage import FeedbackStore, JudgmentIn

    db = f"sqlite:///{tmp_path / 'feedback.sqlite'}"
    name = create_evaluation_campaign(
        rlhf_policy_path,
        rlhf_policy_path,
        heldout_analyses,
        db,
        tmp_path / "eval",
        edits_per_song=3,
        temperature=1.0,
        raters_per_pair=1,
        name="eval-test",
        progress=True,
    )
    assert name == "eval-test"
    printed = capsys.readouterr()
    assert "rendering evaluation edits" in printed.err and printed.out == ""
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
            store.submit_judgment(
                raters["judge"],
                JudgmentIn(
                    client_id=f"c{judged}", task_id=task.task_id, preference="a" if new_first else "b", strength=2
                ),
            )
            judged += 1
    assert judged == 3 * len(heldout_analyses)
    result = campaign_result(db, name)
    assert (result.win.wins, result.win.losses) == (judged, 0)
    assert (result.old_version, result.new_version) == ("old", "new")

    campaign_file = tmp_path / "eval" / "campaign.json"
    version = PPOTrainer.from_checkpoint(rlhf_policy_path).meta.version
    named = campaign_result(db, name, campaign_file)
    assert (named.old_version, named.new_version) == (version, version)
    assert named.summary().startswith(f"{version} vs {version}: new preferred 100.0% of {judged} judgments")

    cli = CliRunner().invoke(app, ["evaluate", "--campaign", name, "--db", db, "--campaign-file", str(campaign_file)])
    assert cli.exit_code == 0, cli.output
    assert cli.output.startswith(f"{version} vs {version}: new preferred")


def test_a_campaign_file_of_another_campaign_is_refused(tmp_path):
    from rl_editor.errors import RlEditorError
    from rl_editor.feedback.storage import FeedbackStore

    db = f"sqlite:///{tmp_path / 'feedback.sqlite'}"
    FeedbackStore.open(db).close()
    other = tmp_path / "campaign.json"
    other.write_text(json.dumps({"campaign": "eval-other", "old": "policy-1", "new": "policy-2", "pairs": []}))
    with pytest.raises(RlEditorError, match="describes campaign 'eval-other', not 'eval-this'"):
        campaign_result(db, "eval-this", other)
    with pytest.raises(RlEditorError, match="no such campaign file"):
        campaign_result(db, "eval-this", tmp_path / "missing.json")


def test_reading_a_campaign_without_judgments_is_a_clear_error(tmp_path):
    from rl_editor.errors import RlEditorError
    from rl_editor.feedback.storage import FeedbackStore

    db = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    FeedbackStore.open(db).close()
    with pytest.raises(RlEditorError, match="no judgments"):
        campaign_result(db, "nothing")


def test_reading_a_campaign_from_a_mistyped_database_path_creates_nothing(tmp_path):
    from rl_editor.errors import RlEditorError

    typo = tmp_path / "feedbak.sqlite"
    with pytest.raises(RlEditorError, match="no feedback database"):
        campaign_result(f"sqlite:///{typo}", "eval-test")
    assert not typo.exists()
