"""Checking an answer against its task, before anything is stored."""

from __future__ import annotations

import pytest

from rl_editor.feedback.store.errors import InvalidJudgmentError
from rl_editor.feedback.store.judgments import pair_answer, rating_answer
from rl_editor.feedback.store.views import JudgmentIn


def _pair(preference, strength=2, tie_kind=None):
    return JudgmentIn(client_id="c", task_id="t", preference=preference, strength=strength, tie_kind=tie_kind)


def test_a_preference_is_stored_in_the_task_order_whatever_order_the_rater_saw():
    assert pair_answer(_pair("a"), "ab")["preference"] == "a"
    assert pair_answer(_pair("a"), "ba")["preference"] == "b"
    assert pair_answer(_pair("b"), "ba")["preference"] == "a"
    assert pair_answer(_pair("tie", 1, "both_bad"), "ba") == {
        "preference": "tie",
        "tie_kind": "both_bad",
        "strength": 1,
    }


@pytest.mark.parametrize(
    "judgment, message",
    [
        (_pair(None), "preference must be"),
        (_pair("a", strength=4), "strength must be 1, 2 or 3"),
        (_pair("a", tie_kind="both_good"), "tie_kind is only for preference 'tie'"),
    ],
)
def test_a_pair_answer_that_does_not_fit_is_refused(judgment, message):
    with pytest.raises(InvalidJudgmentError, match=message):
        pair_answer(judgment, "ab")


def test_ratings_run_from_1_to_4():
    assert rating_answer(JudgmentIn(client_id="c", task_id="t", rating=4)) == {"rating": 4}
    for rating in (0, 5, None):
        with pytest.raises(InvalidJudgmentError, match="rating must be 1"):
            rating_answer(JudgmentIn(client_id="c", task_id="t", rating=rating))
