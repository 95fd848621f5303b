"""Win rate of a new policy over an old one, with two confidence intervals.

Ties are counted separately: the win rate is ``wins / (wins + losses)`` over
decisive judgments. Two intervals are reported at the same level:

- Wilson's score interval, which treats every decisive judgment as an
  independent coin flip;
- a cluster bootstrap interval, which resamples songs with replacement (all
  judgments of a song together) and takes percentiles of the pooled win rate.

Judgments of one song share the song, and often the raters and the edits, so
they are not independent: when they agree with each other the Wilson interval
is too narrow and the song bootstrap is the honest one. With few songs the
bootstrap is crude too (it only sees the songs there are), and with fewer than
two it cannot be computed at all (``None``).

The p-value is the one-sided exact binomial (sign) test of "new wins more than
half of the decisive judgments" (``scipy.stats.binomtest``); like Wilson's
interval it treats judgments as independent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Hashable, Iterable

import numpy as np
from scipy.stats import binomtest

OUTCOMES = ("new", "old", "tie")
BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class WinRate:
    """Outcome counts and the statistics derived from them.

    ``ci_low``/``ci_high`` are Wilson's interval (judgments independent);
    ``cluster_ci_low``/``cluster_ci_high`` the song bootstrap interval over
    ``n_clusters`` songs (``None`` when fewer than two songs were given).
    """

    wins: int
    losses: int
    ties: int
    win_rate: float
    ci_low: float
    ci_high: float
    p_value: float
    confidence: float = 0.95
    cluster_ci_low: float | None = None
    cluster_ci_high: float | None = None
    n_clusters: int = 0

    @property
    def n(self) -> int:
        return self.wins + self.losses + self.ties

    def to_json(self) -> dict:
        return {**asdict(self), "n": self.n}

    @classmethod
    def from_json(cls, data: dict) -> "WinRate":
        """Inverse of :meth:`to_json` (``n`` is derived, so it is dropped)."""
        return cls(**{k: v for k, v in data.items() if k != "n"})

    def intervals_text(self) -> str:
        """Both intervals and the p-value, each labelled with what it assumes."""
        level = f"{self.confidence * 100:g}%"
        if self.cluster_ci_low is None or self.cluster_ci_high is None:
            songs = ("no song-bootstrap CI (songs not given)" if self.n_clusters == 0 else
                     f"no song-bootstrap CI with {self.n_clusters} song{'s' if self.n_clusters != 1 else ''}")
        else:
            songs = (f"song-bootstrap {level} CI {self.cluster_ci_low:.1%}-{self.cluster_ci_high:.1%} "
                     f"over {self.n_clusters} songs")
        return (f"{songs}; Wilson {level} CI {self.ci_low:.1%}-{self.ci_high:.1%} and sign-test p = "
                f"{self.p_value:.2g}, both treating judgments as independent")

    def summary(self) -> str:
        return (
            f"new policy wins {self.win_rate:.1%} of {self.wins + self.losses} decisive judgments "
            f"({self.intervals_text()}); {self.wins} wins, {self.losses} losses, {self.ties} ties"
        )


def cluster_bootstrap_interval(wins: np.ndarray, decisive: np.ndarray, confidence: float = 0.95,
                               resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> tuple[float, float] | None:
    """Percentile interval of the pooled win rate when whole clusters (songs) are resampled.

    Parameters
    ----------
    wins, decisive : array of int
        Per cluster: judgments the new policy won, and decisive judgments.
    confidence : float
        Level of the two-sided interval.
    resamples : int
        Bootstrap resamples, each drawing as many clusters as there are, with replacement.
    seed : int
        Seed of the resampling (same inputs and seed, same interval).

    Returns
    -------
    (low, high) or None
        ``None`` with fewer than two clusters or no decisive judgment. Resamples
        that drew no decisive judgment have no win rate and are left out.
    """
    wins = np.asarray(wins, dtype=np.int64)
    decisive = np.asarray(decisive, dtype=np.int64)
    if len(wins) < 2 or decisive.sum() == 0:
        return None
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, len(wins), size=(resamples, len(wins)))
    resampled_wins, resampled_decisive = wins[drawn].sum(axis=1), decisive[drawn].sum(axis=1)
    usable = resampled_decisive > 0
    if not usable.any():
        return None
    rates = resampled_wins[usable] / resampled_decisive[usable]
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(rates, [tail, 1.0 - tail])
    return float(low), float(high)


def _count_by_cluster(outcomes: list[str], clusters: list[Hashable]) -> tuple[np.ndarray, np.ndarray]:
    wins: dict[Hashable, int] = {}
    decisive: dict[Hashable, int] = {}
    for outcome, cluster in zip(outcomes, clusters):
        wins[cluster] = wins.get(cluster, 0) + (outcome == "new")
        decisive[cluster] = decisive.get(cluster, 0) + (outcome != "tie")
    return np.array(list(wins.values())), np.array([decisive[c] for c in wins])


def win_rate(outcomes: Iterable[str], confidence: float = 0.95, clusters: Iterable[Hashable] | None = None,
             resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> WinRate:
    """Summarise judgments, each ``"new"``, ``"old"`` or ``"tie"``.

    Parameters
    ----------
    outcomes : iterable of str
        Which policy's edit each judgment preferred.
    confidence : float
        Level of both intervals (e.g. 0.95).
    clusters : iterable, optional
        The song (or other cluster) of each judgment, in the order of
        ``outcomes``; without it there is no song bootstrap interval.
    resamples, seed : int
        Settings of the song bootstrap (:func:`cluster_bootstrap_interval`).

    Returns
    -------
    WinRate
        With ``win_rate`` = NaN and a [0, 1] Wilson interval when no judgment was decisive.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    outcomes = list(outcomes)
    counts = {key: 0 for key in OUTCOMES}
    for outcome in outcomes:
        if outcome not in counts:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {OUTCOMES}")
        counts[outcome] += 1
    cluster_interval, n_clusters = None, 0
    if clusters is not None:
        clusters = list(clusters)
        if len(clusters) != len(outcomes):
            raise ValueError(f"{len(clusters)} clusters for {len(outcomes)} outcomes; give one per outcome")
        cluster_wins, cluster_decisive = _count_by_cluster(outcomes, clusters)
        n_clusters = len(cluster_wins)
        cluster_interval = cluster_bootstrap_interval(cluster_wins, cluster_decisive, confidence, resamples, seed)
    wins, losses = counts["new"], counts["old"]
    decisive = wins + losses
    if decisive == 0:
        return WinRate(0, 0, counts["tie"], float("nan"), 0.0, 1.0, 1.0, confidence, n_clusters=n_clusters)
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
        cluster_ci_low=None if cluster_interval is None else cluster_interval[0],
        cluster_ci_high=None if cluster_interval is None else cluster_interval[1],
        n_clusters=n_clusters,
    )
