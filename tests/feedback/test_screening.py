"""Rater screening on gold pairs (BS.1534 post-screening) and reliability weights from the evidence."""

from __future__ import annotations

import pytest

from rl_editor.feedback.screening import (
    ScreeningRule,
    gold_answer,
    screen_for_training,
    screen_pairs,
    smoothed_weight,
)
from rl_editor.feedback.store.errors import FeedbackError
from rl_editor.preferences import EditRef, PreferencePair


def judgment(
    rater: str, preference: str, song: str = "s", a: str = "x", b: str = "y", gold: bool = False, weight: float = 1.0
) -> PreferencePair:
    """One judgment of edits ``a`` against ``b``; a gold pair puts ``a`` against its broken copy ``a~gold``."""
    edit_b = f"{a}~gold" if gold else b
    return PreferencePair(
        song,
        EditRef(f"{a}.wav", [0, 0], 1.0, {"edit_id": a}),
        EditRef(f"{edit_b}.wav", [0, 1], 0.5, {"edit_id": edit_b}),
        preference,
        1,
        rater,
        "2026-01-01T00:00:00",
        extra={"is_gold": True} if gold else {},
        weight=weight,
    )


def gold_run(rater: str, failed: int, passed: int, failure: str = "b") -> list[PreferencePair]:
    return [judgment(rater, failure, a=f"f{k}", gold=True) for k in range(failed)] + [
        judgment(rater, "a", a=f"p{k}", gold=True) for k in range(passed)
    ]


def test_a_rater_failing_more_than_15_percent_of_gold_pairs_is_flagged_and_one_at_the_line_is_not():
    pairs = gold_run("sloppy", failed=2, passed=8) + gold_run("careful", failed=3, passed=17)
    report = screen_pairs(pairs)
    assert report.flagged == ["sloppy"]  # 20% failed; careful failed exactly 15%, not more
    assert report.raters["sloppy"].reason == "failed 2 of 10 gold pairs"
    assert (report.raters["careful"].gold_failed, report.raters["careful"].gold_judged) == (3, 20)


def test_too_few_gold_judgments_flag_nobody():
    report = screen_pairs(gold_run("new", failed=3, passed=0))
    assert report.flagged == [] and report.raters["new"].gold_failure_share == 1.0
    assert screen_pairs(gold_run("new", failed=3, passed=0), ScreeningRule(min_gold_judgments=3)).flagged == ["new"]


def test_a_tie_on_a_gold_pair_fails_by_default_and_is_left_out_when_asked():
    pairs = gold_run("deaf", failed=4, passed=4, failure="tie")
    assert screen_pairs(pairs).raters["deaf"].gold_failed == 4
    assert screen_pairs(pairs).flagged == ["deaf"]
    lenient = screen_pairs(pairs, ScreeningRule(tie_is_failure=False)).raters["deaf"]
    assert (lenient.gold_failed, lenient.gold_judged, lenient.gold_ties, lenient.flagged) == (0, 4, 4, False)


def test_the_right_answer_is_the_side_that_is_not_the_broken_edit():
    shown_first = judgment("r", "a", gold=True)
    broken_first = PreferencePair("s", shown_first.edit_b, shown_first.edit_a, "b", 1, "r", "", extra={"is_gold": True})
    assert gold_answer(shown_first) == "a" and gold_answer(broken_first) == "b"
    assert screen_pairs([broken_first]).raters["r"].gold_failed == 0


def test_weights_grow_with_agreement_and_a_coin_flipper_weighs_nothing():
    # three raters on ten shared pairs: two agree on "a", the third answers "b" on every other pair
    pairs = []
    for k in range(10):
        pairs += [
            judgment("ann", "a", b=f"y{k}"),
            judgment("bob", "a", b=f"y{k}"),
            judgment("cat", "a" if k % 2 else "b", b=f"y{k}"),
        ]
    report = screen_pairs(pairs)
    assert (report.raters["cat"].majority_agreed, report.raters["cat"].majority_judged) == (5, 10)
    assert report.raters["ann"].weight > report.raters["cat"].weight
    assert report.flagged == []  # no gold pair: weights only
    # Beta(4, 1) prior: 9 right of 15 -> 0.6, weight 0.2; no evidence -> 0.8, weight 0.6
    assert smoothed_weight(5, 10, ScreeningRule()) == pytest.approx((0.6, 0.2))
    assert report.raters["cat"].weight == pytest.approx(0.2)
    assert smoothed_weight(0, 0, ScreeningRule()) == pytest.approx((0.8, 0.6))
    assert smoothed_weight(0, 20, ScreeningRule())[1] == 0.0


def test_apply_weights_every_judgment_and_keeps_flagged_raters_unless_told_to_drop_them():
    pairs = gold_run("sloppy", failed=3, passed=3) + gold_run("careful", failed=0, passed=6)
    work = [judgment("sloppy", "b", b="z"), judgment("careful", "a", b="z", weight=0.5)]
    report = screen_pairs(pairs + work)
    kept = report.apply(work)
    assert kept.n_dropped == 0 and kept.n_flagged_kept == 1
    assert [p.weight for p in kept.pairs] == pytest.approx(
        [report.raters["sloppy"].weight, 0.5 * report.raters["careful"].weight]
    )
    assert report.raters["sloppy"].weight < report.raters["careful"].weight
    assert report.summary_line(kept) == (
        "screening: 1 of 2 raters flagged (sloppy: failed 3 of 6 gold pairs); their 1 of 2 judgments kept at their "
        f"reliability weight (sloppy {report.raters['sloppy'].weight:.2f})"
    )
    dropping = screen_pairs(pairs + work, ScreeningRule(drop_flagged=True))
    screened = dropping.apply(work)
    assert screened.n_dropped == 1 and screened.dropped_raters == ["sloppy"]
    assert [p.rater for p in screened.pairs] == ["careful"]
    assert dropping.summary_line(screened) == (
        "screening: 1 of 2 raters flagged (sloppy: failed 3 of 6 gold pairs); dropped 1 of 2 judgments"
    )


def test_without_gold_or_shared_pairs_nothing_changes():
    pairs = [judgment("solo", "a", b=f"y{k}") for k in range(3)]
    report = screen_pairs(pairs)
    assert not report.has_evidence and report.apply(pairs).pairs == pairs
    assert "nothing to screen on" in report.summary_line()


def test_training_uses_a_screened_files_weights_as_they_are():
    weighted = [judgment("ann", "a", weight=0.8), judgment("bob", "b", weight=0.4)]
    screen = screen_for_training(weighted)
    assert screen.pairs == weighted and "already carry reliability weights" in screen.message
    assert screen.lineage["weights"] == {"ann": 0.8, "bob": 0.4}


def test_training_screening_weights_or_drops_flagged_raters_and_keeps_lineage():
    pairs = gold_run("sloppy", failed=3, passed=3) + gold_run("careful", failed=0, passed=6)
    pairs += [judgment("sloppy", "b", b="z"), judgment("careful", "a", b="z")]
    screen = screen_for_training(pairs)
    assert len(screen.pairs) == len(pairs) and screen.lineage["n_flagged_kept"] == 7
    assert screen.lineage["flagged"] == ["sloppy"] and set(screen.lineage["weights"]) == {"careful", "sloppy"}
    assert {p.rater: p.weight for p in screen.pairs} == screen.lineage["weights"]
    dropped = screen_for_training(pairs, ScreeningRule(drop_flagged=True))
    assert {p.rater for p in dropped.pairs} == {"careful"} and dropped.lineage["n_dropped"] == 7
    with pytest.raises(FeedbackError, match="every rater was flagged"):
        screen_for_training(gold_run("sloppy", failed=4, passed=0), ScreeningRule(drop_flagged=True))


def test_a_rule_out_of_range_names_its_field():
    with pytest.raises(FeedbackError, match="max_gold_failure_share"):
        ScreeningRule(max_gold_failure_share=1.5)
    with pytest.raises(FeedbackError, match="min_gold_judgments"):
        ScreeningRule(min_gold_judgments=0)


def test_a_gold_pair_most_raters_fail_is_suspect_and_counts_for_nobody():
    # four raters fail gold pair "bad" (the intact edit was poor already); one also fails four honest ones
    pairs = [judgment(r, "b", a="bad", gold=True) for r in ("ann", "bob", "cat", "dan")]
    for rater in ("ann", "bob", "cat", "dan"):
        pairs += [judgment(rater, "a", a=f"ok{k}", gold=True) for k in range(6)]
    pairs += [judgment("dan", "b", a=f"miss{k}", gold=True) for k in range(4)]
    report = screen_pairs(pairs)
    assert report.suspect_gold == ["bad~gold"] and report.flagged == ["dan"]
    assert (report.raters["ann"].gold_failed, report.raters["ann"].gold_judged) == (0, 6)
    assert "1 gold pairs most of their raters failed are not counted (bad~gold)" in report.summary_line()
    # judged by fewer raters than the rule asks for, no gold pair is doubted
    assert screen_pairs(pairs, ScreeningRule(min_raters_to_doubt_gold=5)).suspect_gold == []
