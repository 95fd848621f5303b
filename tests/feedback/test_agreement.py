"""Agreement measures on hand-made judgments whose answers are known."""

import krippendorff
import numpy as np
import pytest

from rl_editor.feedback.agreement import (
    agreement_report,
    agreement_with_majority,
    alpha_by_campaign,
    krippendorff_alpha,
    oriented_strength,
    position_bias,
    raw_agreement,
)
from rl_editor.preferences import EditRef, PreferencePair


def _pair(item: int, rater: str, preference: str, strength: int = 2, flipped: bool = False, order: str = "ab"):
    a = EditRef(f"e{item}a.wav", [0, 1], 1.0, {"edit_id": f"s-{item}-a"})
    b = EditRef(f"e{item}b.wav", [0, 0], 1.0, {"edit_id": f"s-{item}-b"})
    if flipped:
        a, b = b, a
    return PreferencePair(
        "s", a, b, preference, strength, rater, "2026-01-01T00:00:00+00:00", extra={"presented_order": order}
    )


def test_orientation_makes_flipped_presentations_comparable():
    assert oriented_strength(_pair(0, "r", "a", 3)) == 3
    assert oriented_strength(_pair(0, "r", "b", 3, flipped=True)) == 3


def test_perfect_agreement_gives_alpha_one_and_raw_one():
    pairs = [_pair(i, r, "a" if i % 2 else "b", 1 + i % 3) for i in range(6) for r in ("x", "y")]
    assert krippendorff_alpha(pairs) == pytest.approx(1.0)
    assert raw_agreement(pairs) == 1.0


def test_alpha_matches_the_krippendorff_package_on_a_messy_matrix():
    prefs = {"x": ["a", "b", "tie", "a", "b"], "y": ["a", "a", "tie", "b", "b"], "z": ["a", "b", "a", "a", None]}
    pairs = [_pair(i, r, p) for r, ps in prefs.items() for i, p in enumerate(ps) if p]
    data = np.array([[2, -2, 0, 2, -2], [2, 2, 0, -2, -2], [2, -2, 2, 2, np.nan]], dtype=float)
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal", value_domain=range(-3, 4))
    assert krippendorff_alpha(pairs) == pytest.approx(expected)


def test_majority_agreement_and_raw_agreement_count_directions():
    pairs = [
        _pair(0, "x", "a", 1),
        _pair(0, "y", "a", 3),
        _pair(0, "z", "b"),
        _pair(1, "x", "b"),
        _pair(1, "y", "b"),
        _pair(1, "z", "b", flipped=True),
    ]
    assert agreement_with_majority(pairs) == {"z": 0.0}  # x and y face a split of the others: not counted
    assert raw_agreement(pairs) == pytest.approx(2 / 6)  # item 0: x-y agree; item 1: x-y agree


def test_position_bias_is_share_of_presented_a_choices():
    pairs = [
        _pair(0, "x", "a", order="ab"),
        _pair(1, "x", "b", order="ba"),
        _pair(2, "x", "b", order="ab"),
        _pair(3, "x", "tie", order="ab"),
    ]
    assert position_bias(pairs) == pytest.approx(2 / 3)


def test_report_handles_no_overlap():
    report = agreement_report([_pair(0, "x", "a")])
    assert report.krippendorff_alpha is None and report.raw_agreement is None
    assert report.n_pairs_multi_rated == 0 and any("alpha" in line for line in report.lines())


# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", example C: 4 observers, 12 units,
# values 1-5 (None: not rated). Published: nominal 0.743, ordinal 0.815, interval 0.849.
PUBLISHED_EXAMPLE = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}


def test_alpha_reproduces_krippendorffs_published_ordinal_example():
    # values 1..5 become signed strengths -2..2 (an order-preserving relabelling, which ordinal alpha ignores)
    pairs = []
    for rater, values in PUBLISHED_EXAMPLE.items():
        for unit, value in enumerate(values):
            if value is not None:
                signed = value - 3
                preference = "a" if signed > 0 else "b" if signed < 0 else "tie"
                pairs.append(_pair(unit, rater, preference, max(abs(signed), 1)))
    # unit 11 (only B rated it) is left out, as alpha leaves out units with one rating
    assert krippendorff_alpha(pairs) == pytest.approx(0.815, abs=5e-4)


def test_alpha_is_given_per_campaign():
    agreeing = [_pair(i, r, "a" if i % 2 else "b", 2) for i in range(4) for r in ("x", "y")]
    split = [_pair(i, r, "a" if (i + (r == "y")) % 2 else "b", 2) for i in range(10, 14) for r in ("x", "y")]
    for pair in agreeing:
        pair.campaign = "collect"
    for pair in split:
        pair.campaign = "eval-1"
    alphas = alpha_by_campaign(agreeing + split)
    assert alphas["collect"] == pytest.approx(1.0) and alphas["eval-1"] < 0
    lines = agreement_report(agreeing + split).lines()
    assert "  campaign collect: Krippendorff's alpha 1.000" in lines
