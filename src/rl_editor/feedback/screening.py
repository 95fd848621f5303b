"""Rater screening and reliability weights, after ITU-R BS.1534's post-screening.

BS.1534 (MUSHRA) excludes an assessor who fails to find the hidden reference
too often: one who scores it below 90 in more than 15 % of the items. Gold
pairs play the hidden reference's part here: each puts an edit against a copy
of it with off-beat cuts (:mod:`rl_editor.feedback.gold`), so the intact edit
is the right answer.

**The screening rule** (:class:`ScreeningRule`): a rater is *flagged* when they
have judged at least ``min_gold_judgments`` gold pairs (default 4: fewer say
little) and failed more than ``max_gold_failure_share`` of them (default 15 %,
BS.1534's share). A gold pair is *failed* when the rater preferred the broken
edit, and, by default, when they called it a tie: the off-beat cut is there to
be heard, and a rater who hears no difference has not found it, as a MUSHRA
assessor who scores the hidden reference like the anchors has not.
``tie_is_failure=False`` leaves gold ties out of the count instead (neither
passed nor failed).

**Suspect gold pairs**: a gold pair that most of its raters fail (at least
``min_raters_to_doubt_gold`` raters, default 3, more than half of them failing)
says more about the pair than about the raters: the intact edit may have been
a poor one already, so that cutting it more did no harm. Such pairs are listed
as suspect and count for nobody.

**Reliability weights**: every rater, flagged or not, gets a weight from all
the evidence about them, the gold pairs and their agreement with the majority
of the *other* raters on pairs several raters judged
(:func:`rl_editor.feedback.agreement.majority_counts`)::

    accuracy = (right + prior_right) / (judged + prior_right + prior_wrong)
    weight   = max(0, 2 * accuracy - 1)

where ``right`` counts gold pairs passed plus judgments siding with the
majority, ``judged`` the gold pairs counted plus the judgments compared with a
majority. This is the Beta(``prior_right``, ``prior_wrong``)-smoothed accuracy
(posterior mean; default Beta(4, 1), i.e. a rater is assumed right 80 % of the
time until shown otherwise, so one slip does not sink a new rater), mapped to
how far it is above a coin flip: a rater who answers at random weighs 0, one
who is always right weighs 1, and a rater with no evidence weighs 0.6. Under
a rater who gives the right answer with probability ``p`` and the wrong one
otherwise, the expected pull of their judgments toward the truth is
proportional to ``2p - 1``, so the weight is that pull.

Screened judgments (:meth:`ScreeningReport.apply`) carry their rater's weight
as :attr:`rl_editor.preferences.PreferencePair.weight`, which reward training
multiplies into each judgment's loss. Flagged raters are kept at their (low)
weight by default, or left out with ``drop_flagged=True``. A rater with 40 %
mistakes is still right more often than not, and a careful rater can be
flagged by bad luck on a few gold pairs: in ``benchmarks/bench_screening.py``
dropping flagged raters, when most pairs had one vote, cost the reward model
more data than it saved it noise, while down-weighting them never did much
worse than not screening (see the benchmark's output for the figures).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import computed_field

from rl_editor.feedback.agreement import majority_counts
from rl_editor.feedback.store.errors import FeedbackError
from rl_editor.formats import FormatModel
from rl_editor.preferences import PreferencePair

GOLD_SUFFIX = "~gold"


@dataclass(frozen=True)
class ScreeningRule:
    """When a rater is flagged, and how evidence becomes a weight (module docstring).

    Attributes
    ----------
    max_gold_failure_share : float
        Flag a rater who failed more than this share of their gold pairs (BS.1534: 0.15).
    min_gold_judgments : int
        Gold pairs a rater must have judged before they can be flagged.
    tie_is_failure : bool
        A tie on a gold pair is a failure (default); otherwise it is not counted.
    prior_right, prior_wrong : float
        The Beta prior of a rater's accuracy, in pseudo-judgments.
    drop_flagged : bool
        :meth:`ScreeningReport.apply` leaves flagged raters' judgments out; by default it keeps them at their weight.
    min_raters_to_doubt_gold : int
        A gold pair failed by more than half of at least this many raters is suspect and not counted.
    """

    max_gold_failure_share: float = 0.15
    min_gold_judgments: int = 4
    tie_is_failure: bool = True
    prior_right: float = 4.0
    prior_wrong: float = 1.0
    drop_flagged: bool = False
    min_raters_to_doubt_gold: int = 3

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_gold_failure_share < 1.0:
            raise FeedbackError(
                f"screening max_gold_failure_share={self.max_gold_failure_share}: give a share in [0, 1)"
            )
        if self.min_gold_judgments < 1:
            raise FeedbackError(f"screening min_gold_judgments={self.min_gold_judgments}: give 1 or more")
        if self.prior_right <= 0 or self.prior_wrong <= 0:
            raise FeedbackError("screening prior_right and prior_wrong: give positive pseudo-counts")


class RaterEvidence(FormatModel):
    """What screening knows about one rater, and what it concluded.

    Its JSON (:meth:`to_json`) holds every field and the derived ``gold_failure_share`` and
    ``majority_agreement``.

    Attributes
    ----------
    rater : str
    gold_judged : int
        Gold pairs counted (ties left out when they are not failures).
    gold_failed : int
        Gold pairs where the broken edit won (or a tie, when ties fail).
    gold_ties : int
        Ties among the rater's gold judgments, counted or not.
    majority_judged : int
        Judgments compared with the other raters' majority on the same pair.
    majority_agreed : int
        Of those, the ones in the majority's direction (A, tie or B).
    accuracy : float
        Beta-smoothed share of right answers over both kinds of evidence.
    weight : float
        ``max(0, 2 * accuracy - 1)``.
    flagged : bool
        Failed the screening rule.
    reason : str
        Why flagged (empty otherwise).
    """

    rater: str
    gold_judged: int = 0
    gold_failed: int = 0
    gold_ties: int = 0
    majority_judged: int = 0
    majority_agreed: int = 0
    accuracy: float = 0.0
    weight: float = 0.0
    flagged: bool = False
    reason: str = ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def gold_failure_share(self) -> float | None:
        return self.gold_failed / self.gold_judged if self.gold_judged else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def majority_agreement(self) -> float | None:
        return self.majority_agreed / self.majority_judged if self.majority_judged else None


@dataclass
class ScreenedPairs:
    """Judgments after screening: those kept (weights set) and how many were dropped."""

    pairs: list[PreferencePair]
    n_dropped: int
    dropped_raters: list[str] = field(default_factory=list)
    n_flagged_kept: int = 0


@dataclass
class ScreeningReport:
    """Per-rater evidence under one rule; :meth:`apply` screens judgments with it."""

    rule: ScreeningRule
    raters: dict[str, RaterEvidence]
    suspect_gold: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> list[str]:
        """Names of the flagged raters, sorted."""
        return sorted(name for name, evidence in self.raters.items() if evidence.flagged)

    @property
    def has_evidence(self) -> bool:
        """Whether any rater judged a gold pair or a pair other raters judged too."""
        return any(e.gold_judged or e.majority_judged for e in self.raters.values())

    def weights(self) -> dict[str, float]:
        """``{rater: reliability weight}``."""
        return {name: evidence.weight for name, evidence in sorted(self.raters.items())}

    def apply(self, pairs: Sequence[PreferencePair]) -> ScreenedPairs:
        """``pairs`` each weighted by its rater, flagged raters' left out when the rule drops them.

        A judgment's new weight is its old weight times its rater's; a rater
        the report has no row for keeps weight 1. Without any evidence (no
        gold pair, no shared pair) the judgments are returned as they are.
        """
        if not self.has_evidence:
            return ScreenedPairs(list(pairs), 0)
        flagged = set(self.flagged) if self.rule.drop_flagged else set()
        kept = [
            p.model_copy(update={"weight": p.weight * self.raters[p.rater].weight}) if p.rater in self.raters else p
            for p in pairs
            if p.rater not in flagged
        ]
        dropped = sorted({p.rater for p in pairs if p.rater in flagged})
        flagged_kept = sum(p.rater in self.flagged for p in kept)
        return ScreenedPairs(kept, len(pairs) - len(kept), dropped, flagged_kept)

    def summary_line(self, screened: ScreenedPairs | None = None) -> str:
        """E.g. ``screening: 1 of 5 raters flagged (carol: failed 5 of 12 gold pairs); dropped 60 of 300 judgments``."""
        flagged = self.flagged
        text = f"screening: {len(flagged)} of {len(self.raters)} raters flagged"
        if flagged:
            text += " (" + "; ".join(f"{name}: {self.raters[name].reason}" for name in flagged) + ")"
        if screened is not None:
            total = len(screened.pairs) + screened.n_dropped
            if screened.n_dropped or not screened.n_flagged_kept:
                text += f"; dropped {screened.n_dropped} of {total} judgments"
            else:
                weights = ", ".join(f"{name} {self.raters[name].weight:.2f}" for name in flagged)
                text += (
                    f"; their {screened.n_flagged_kept} of {total} judgments kept at their reliability "
                    f"weight ({weights})"
                )
        if self.suspect_gold:
            text += (
                f"; {len(self.suspect_gold)} gold pairs most of their raters failed are not counted "
                f"({', '.join(self.suspect_gold)})"
            )
        if not self.has_evidence:
            text += "; no gold pair and no pair judged by several raters, so nothing to screen on"
        return text

    def weight_lines(self) -> list[str]:
        """One line per rater: weight and the evidence behind it."""
        lines = []
        for name, e in sorted(self.raters.items()):
            agreement = "n/a" if e.majority_agreement is None else f"{e.majority_agreement:.0%}"
            lines.append(
                f"  {name}: weight {e.weight:.2f} (gold failed {e.gold_failed} of {e.gold_judged}, "
                f"agrees with the majority {agreement} of {e.majority_judged})" + ("  FLAGGED" if e.flagged else "")
            )
        return lines

    def to_json(self, screened: ScreenedPairs | None = None) -> dict[str, Any]:
        """Rule, per-rater evidence and weights, flagged raters and (when given) what was dropped."""
        out: dict[str, Any] = {
            "rule": asdict(self.rule),
            "suspect_gold": self.suspect_gold,
            "flagged": self.flagged,
            "weights": self.weights(),
            "raters": [e.to_json() for _, e in sorted(self.raters.items())],
        }
        if screened is not None:
            out.update(
                {
                    "n_dropped": screened.n_dropped,
                    "n_kept": len(screened.pairs),
                    "dropped_raters": screened.dropped_raters,
                    "n_flagged_kept": screened.n_flagged_kept,
                }
            )
        return out


def is_gold(pair: PreferencePair) -> bool:
    """Whether a judgment is of a gold pair (the export marks them ``is_gold``)."""
    return bool(pair.is_gold)


def gold_answer(pair: PreferencePair) -> str:
    """The right answer of a gold pair: the side that is not the broken ``~gold`` edit (``a`` when unmarked)."""
    if (pair.edit_a.edit_id or "").endswith(GOLD_SUFFIX):
        return "b"
    return "a"


def smoothed_weight(right: int, judged: int, rule: ScreeningRule) -> tuple[float, float]:
    """``(accuracy, weight)`` from ``right`` answers of ``judged`` under the rule's Beta prior."""
    accuracy = (right + rule.prior_right) / (judged + rule.prior_right + rule.prior_wrong)
    return accuracy, max(0.0, 2.0 * accuracy - 1.0)


def _gold_failed(pair: PreferencePair, rule: ScreeningRule) -> bool | None:
    """Whether a gold judgment failed; ``None`` when it does not count (a tie, when ties do not fail)."""
    if pair.preference == "tie" and not rule.tie_is_failure:
        return None
    return pair.preference != gold_answer(pair)


def _gold_key(pair: PreferencePair) -> str:
    """The broken edit's id: one per gold pair."""
    sides = (pair.edit_a.edit_id, pair.edit_b.edit_id)
    return str(next((s for s in sides if str(s).endswith(GOLD_SUFFIX)), "|".join(map(str, sides))))


def suspect_gold_pairs(pairs: Sequence[PreferencePair], rule: ScreeningRule) -> list[str]:
    """Gold pairs (broken edit ids) failed by more than half of ``rule.min_raters_to_doubt_gold`` or more raters."""
    verdicts: dict[str, dict[str, bool]] = {}
    for pair in pairs:
        failed = _gold_failed(pair, rule) if is_gold(pair) else None
        if failed is not None:
            verdicts.setdefault(_gold_key(pair), {})[pair.rater] = failed
    return sorted(
        key
        for key, by_rater in verdicts.items()
        if len(by_rater) >= rule.min_raters_to_doubt_gold and 2 * sum(by_rater.values()) > len(by_rater)
    )


def _gold_evidence(pairs: Sequence[PreferencePair], rule: ScreeningRule, suspect: set[str]) -> dict[str, RaterEvidence]:
    evidence: dict[str, RaterEvidence] = {}
    for pair in pairs:
        e = evidence.setdefault(pair.rater, RaterEvidence(rater=pair.rater))
        if not is_gold(pair) or _gold_key(pair) in suspect:
            continue
        e.gold_ties += pair.preference == "tie"
        failed = _gold_failed(pair, rule)
        if failed is not None:
            e.gold_judged += 1
            e.gold_failed += failed
    return evidence


def _conclude(e: RaterEvidence, rule: ScreeningRule) -> None:
    right = (e.gold_judged - e.gold_failed) + e.majority_agreed
    e.accuracy, e.weight = smoothed_weight(right, e.gold_judged + e.majority_judged, rule)
    share = e.gold_failure_share
    e.flagged = e.gold_judged >= rule.min_gold_judgments and share is not None and share > rule.max_gold_failure_share
    e.reason = f"failed {e.gold_failed} of {e.gold_judged} gold pairs" if e.flagged else ""


def screen_pairs(pairs: Sequence[PreferencePair], rule: ScreeningRule | None = None) -> ScreeningReport:
    """Screen the raters of ``pairs`` (gold judgments marked ``is_gold``, and shared pairs).

    Parameters
    ----------
    pairs : list of PreferencePair
        Every judgment to learn about the raters from: gold ones (for the
        rule and the weights) and ordinary ones (agreement with the majority,
        for the weights).
    rule : ScreeningRule, optional
        Defaults to :class:`ScreeningRule`'s defaults.

    Returns
    -------
    ScreeningReport
        One :class:`RaterEvidence` per rater in ``pairs``.
    """
    rule = rule or ScreeningRule()
    suspect = suspect_gold_pairs(pairs, rule)
    evidence = _gold_evidence(pairs, rule, set(suspect))
    for rater, (agreed, counted) in majority_counts([p for p in pairs if not is_gold(p)]).items():
        evidence[rater].majority_agreed, evidence[rater].majority_judged = agreed, counted
    for e in evidence.values():
        _conclude(e, rule)
    return ScreeningReport(rule, dict(sorted(evidence.items())), suspect)


def screen_store(store: Any, rule: ScreeningRule | None = None) -> ScreeningReport:
    """Screen every rater of a :class:`~rl_editor.feedback.storage.FeedbackStore` on all its pair judgments.

    A rater is screened on everything they judged, whatever the campaign.
    """
    return screen_pairs(store.export_pairs(include_gold=True), rule)


@dataclass
class TrainingScreen:
    """Judgments ready for reward training and what screening did to them (``train-reward``'s view)."""

    pairs: list[PreferencePair]
    message: str
    detail_lines: list[str] = field(default_factory=list)
    lineage: dict[str, Any] = field(default_factory=dict)


def screen_for_training(pairs: Sequence[PreferencePair], rule: ScreeningRule | None = None) -> TrainingScreen:
    """Screen a preference file's judgments before reward training.

    A file whose judgments already carry weights (a screened export) is used as
    it is: screening it again would count its raters' evidence twice. Otherwise
    the raters are screened on what the file holds (gold pairs, when exported
    with them, and pairs several raters judged) and :meth:`ScreeningReport.apply`
    drops or down-weights them.

    Returns
    -------
    TrainingScreen
        The pairs to train on, a line saying how many raters were flagged and
        judgments dropped, per-rater weight lines, and the lineage kept in the
        reward model's metadata (``trained_on["screening"]``).
    """
    pairs = list(pairs)
    if any(p.weight != 1.0 for p in pairs):
        weights = sorted({p.rater: p.weight for p in pairs}.items())
        return TrainingScreen(
            pairs,
            "screening: the judgments already carry reliability weights (a screened "
            "export); training with them as they are",
            lineage={
                "source": "file weights",
                "raters": sorted({p.rater for p in pairs}),
                "weights": {rater: weight for rater, weight in weights},
                "n_dropped": 0,
            },
        )
    report = screen_pairs(pairs, rule)
    if not report.has_evidence:
        return TrainingScreen(pairs, report.summary_line(), lineage={"source": "none", "n_dropped": 0})
    screened = report.apply(pairs)
    if not screened.pairs:
        raise FeedbackError(
            "screening dropped every judgment (every rater was flagged); check the gold pairs, "
            "or train without --drop-flagged"
        )
    lineage = {"source": "screened here", **report.to_json(screened)}
    return TrainingScreen(screened.pairs, report.summary_line(screened), report.weight_lines(), lineage)
