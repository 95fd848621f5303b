"""Inter-rater agreement over preference pairs (pure functions, reusable by reports).

Each judgment is turned into a signed strength on -3..3 (``+strength`` when the
first edit of the pair, in a fixed order of the two edits, won; 0 for a tie), so
judgments of the same pair shown in either order line up.

- :func:`krippendorff_alpha`: ordinal Krippendorff's alpha (``krippendorff`` package);
- :func:`raw_agreement`: share of rater pairs on the same item that chose the
  same direction (first better / tie / second better);
- :func:`agreement_with_majority`: per rater, how often they side with the
  majority of the *other* raters of the same pair (:func:`majority_counts`
  gives the counts behind it);
- :func:`alpha_by_campaign`: Krippendorff's alpha of each campaign;
- :func:`position_bias`: share of non-tie judgments that chose the edit shown
  as A (0.5 means no bias; needs ``presented_order`` in ``extra``).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np

from rl_editor.formats import Preference, PresentedOrder
from rl_editor.preferences import EditRef, PreferencePair


def _edit_key(edit: EditRef) -> str:
    return str(edit.edit_id or f"{edit.path}|{','.join(map(str, edit.actions))}")


def item_key(pair: PreferencePair) -> tuple[str, str, str]:
    """Order-free identity of the compared pair: ``(song_id, first_edit, second_edit)``."""
    a, b = sorted((_edit_key(pair.edit_a), _edit_key(pair.edit_b)))
    return pair.song_id, a, b


def oriented_strength(pair: PreferencePair) -> int:
    """Signed strength (-3..3) relative to the pair's first edit in :func:`item_key` order."""
    first = item_key(pair)[1]
    sign = 1 if _edit_key(pair.edit_a) == first else -1
    return sign * pair.signed_strength


def group_by_item(pairs: list[PreferencePair]) -> dict[tuple[str, str, str], dict[str, int]]:
    """``{item: {rater: oriented strength}}`` (a rater's last judgment of an item counts)."""
    items: dict[tuple[str, str, str], dict[str, int]] = defaultdict(dict)
    for pair in pairs:
        items[item_key(pair)][pair.rater] = oriented_strength(pair)
    return dict(items)


def _multi(items: dict) -> dict:
    return {k: v for k, v in items.items() if len(v) >= 2}


def krippendorff_alpha(pairs: list[PreferencePair]) -> float | None:
    """Ordinal Krippendorff's alpha on -3..3 over items judged by two or more raters.

    Returns ``None`` when fewer than two items have two ratings, or when every
    rating is the same value (alpha is undefined then).
    """
    import krippendorff

    items = _multi(group_by_item(pairs))
    if len(items) < 2:
        return None
    raters = sorted({r for ratings in items.values() for r in ratings})
    keys = sorted(items)
    data = np.full((len(raters), len(keys)), np.nan)
    index = {r: i for i, r in enumerate(raters)}
    for j, key in enumerate(keys):
        for rater, value in items[key].items():
            data[index[rater], j] = value
    values = data[~np.isnan(data)]
    if np.unique(values).size < 2:
        return None
    alpha = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal", value_domain=list(range(-3, 4)))
    return None if math.isnan(alpha) else float(alpha)


def _direction(value: int) -> int:
    return int(np.sign(value))


def raw_agreement(pairs: list[PreferencePair]) -> float | None:
    """Share of same-item rater pairs whose direction (A / tie / B) matches; ``None`` without overlap."""
    agree = total = 0
    for ratings in _multi(group_by_item(pairs)).values():
        for x, y in itertools.combinations(ratings.values(), 2):
            agree += _direction(x) == _direction(y)
            total += 1
    return agree / total if total else None


def majority_counts(pairs: list[PreferencePair]) -> dict[str, tuple[int, int]]:
    """Per rater: ``(agreed, counted)`` judgments against the other raters' majority direction of the same pair.

    Items where the other raters split evenly are left out; raters with no
    countable judgment are absent from the result.
    """
    hits: Counter = Counter()
    counts: Counter = Counter()
    for ratings in _multi(group_by_item(pairs)).values():
        for rater, value in ratings.items():
            others = Counter(_direction(v) for r, v in ratings.items() if r != rater)
            ranked = others.most_common(2)
            if len(ranked) == 2 and ranked[0][1] == ranked[1][1]:
                continue
            counts[rater] += 1
            hits[rater] += _direction(value) == ranked[0][0]
    return {rater: (hits[rater], counts[rater]) for rater in sorted(counts)}


def agreement_with_majority(pairs: list[PreferencePair]) -> dict[str, float]:
    """Per rater: share of their multi-rated judgments that match the other raters' majority direction.

    Items where the other raters split evenly are left out; raters with no
    countable judgment are absent from the result.
    """
    return {rater: agreed / counted for rater, (agreed, counted) in majority_counts(pairs).items()}


def alpha_by_campaign(pairs: list[PreferencePair]) -> dict[str, float | None]:
    """Krippendorff's alpha (:func:`krippendorff_alpha`) of each campaign's judgments (``campaign`` extra key)."""
    by_campaign: dict[str, list[PreferencePair]] = defaultdict(list)
    for pair in pairs:
        by_campaign[pair.campaign or ""].append(pair)
    return {name: krippendorff_alpha(members) for name, members in sorted(by_campaign.items())}


def position_bias(pairs: list[PreferencePair]) -> float | None:
    """Share of non-tie judgments that picked the edit presented as A; ``None`` when unknown."""
    chosen_a = total = 0
    for pair in pairs:
        order = pair.presented_order
        if pair.preference == Preference.TIE or order is None:
            continue
        total += 1
        chosen_a += (order == PresentedOrder.AB) == (pair.preference == Preference.A)
    return chosen_a / total if total else None


@dataclass
class AgreementReport:
    """All agreement figures for one set of judgments."""

    n_judgments: int
    n_pairs_multi_rated: int
    krippendorff_alpha: float | None
    raw_agreement: float | None
    position_bias_a_share: float | None
    per_rater_agreement: dict[str, float] = field(default_factory=dict)
    per_campaign_alpha: dict[str, float | None] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """Human-readable summary lines."""

        def fmt(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.3f}"

        out = [
            f"judgments: {self.n_judgments}, pairs judged by 2+ raters: {self.n_pairs_multi_rated}",
            f"Krippendorff's alpha (ordinal, -3..3): {fmt(self.krippendorff_alpha)}",
            f"raw agreement (same direction): {fmt(self.raw_agreement)}",
            f"position bias (share choosing the edit shown as A): {fmt(self.position_bias_a_share)}",
        ]
        if len(self.per_campaign_alpha) > 1:
            for campaign, alpha in self.per_campaign_alpha.items():
                out.append(f"  campaign {campaign}: Krippendorff's alpha {fmt(alpha)}")
        for rater, share in self.per_rater_agreement.items():
            out.append(f"  {rater}: agrees with the majority {share:.3f}")
        return out


def agreement_report(pairs: list[PreferencePair]) -> AgreementReport:
    """Compute every agreement figure for ``pairs``."""
    return AgreementReport(
        n_judgments=len(pairs),
        n_pairs_multi_rated=len(_multi(group_by_item(pairs))),
        krippendorff_alpha=krippendorff_alpha(pairs),
        raw_agreement=raw_agreement(pairs),
        position_bias_a_share=position_bias(pairs),
        per_rater_agreement=agreement_with_majority(pairs),
        per_campaign_alpha=alpha_by_campaign(pairs),
    )
