"""Win rate of a new policy over an old one, with an exact confidence interval.

Ties are counted separately: the win rate is ``wins / (wins + losses)`` over
decisive judgments, its 95% interval is Wilson's score interval, and the
p-value is the one-sided exact binomial test of "new wins more than half of
the decisive judgments" (``scipy.stats.binomtest``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable

from scipy.stats import binomtest

OUTCOMES = ("new", "old", "tie")


@dataclass(frozen=True)
class WinRate:
    """Outcome counts and the statistics derived from them."""

    wins: int
    losses: int
    ties: int
    win_rate: float
    ci_low: float
    ci_high: float
    p_value: float
    confidence: float = 0.95

    @property
    def n(self) -> int:
        return self.wins + self.losses + self.ties

    def to_json(self) -> dict:
        return {**asdict(self), "n": self.n}

    def summary(self) -> str:
        return (
            f"new policy wins {self.win_rate:.1%} of {self.wins + self.losses} decisive judgments "
            f"(95% CI {self.ci_low:.1%}-{self.ci_high:.1%}, p = {self.p_value:.2g}); "
            f"{self.wins} wins, {self.losses} losses, {self.ties} ties"
        )


def win_rate(outcomes: Iterable[str], confidence: float = 0.95) -> WinRate:
    """Summarise judgments, each ``"new"``, ``"old"`` or ``"tie"``.

    Parameters
    ----------
    outcomes : iterable of str
        Which policy's edit each judgment preferred.
    confidence : float
        Level of the Wilson interval.

    Returns
    -------
    WinRate
        With ``win_rate`` = NaN and a [0, 1] interval when no judgment was decisive.
    """
    counts = {key: 0 for key in OUTCOMES}
    for outcome in outcomes:
        if outcome not in counts:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {OUTCOMES}")
        counts[outcome] += 1
    wins, losses = counts["new"], counts["old"]
    decisive = wins + losses
    if decisive == 0:
        return WinRate(0, 0, counts["tie"], float("nan"), 0.0, 1.0, 1.0, confidence)
    test = binomtest(wins, decisive, 0.5, alternative="greater")
    # The interval is two-sided (the one of a "greater" test would end at 1).
    interval = binomtest(wins, decisive, 0.5).proportion_ci(confidence_level=confidence, method="wilson")
    return WinRate(
        wins=wins,
        losses=losses,
        ties=counts["tie"],
        win_rate=wins / decisive,
        ci_low=float(interval.low),
        ci_high=float(interval.high),
        p_value=float(test.pvalue),
        confidence=confidence,
    )
