"""How much held-out raters prefer a new policy's edits to an old one's, with song-clustered intervals.

The headline figure is the **tie-inclusive preference share**::

    preference_share = (wins + ties / 2) / judgments

A tie is half a win for each side, so a run where nearly every judgment was a
tie reads close to 50% however lopsided its few decisive judgments were
(14 wins, 1 loss and 225 ties give 52.7%, not 93.3%). Beside it:

- the **decisive win rate** ``wins / (wins + losses)`` (ties left out), which
  says which way the decisive judgments went but not how many there were;
- the **tie share** ``ties / judgments``;
- Wilson's interval and the one-sided exact sign-test p-value of the decisive
  win rate, both treating every judgment as independent (kept in the JSON).

Judgments of one song share the song, and often the raters and the edits, so
they are not independent. Both figures get a **song-clustered** interval: the
cluster-robust (CR1) standard error of the pooled ratio with Student's t on
``songs - 1`` degrees of freedom (:func:`cluster_robust_interval`). A percentile
bootstrap over songs was tried first and proved too narrow with a handful of
songs: a policy judged against itself on 4 songs got an interval excluding 50%
in 2 of 6 seeds. It collapses to a point when every song gives the same figure
(all ties, say), so the interval reported is the wider of the cluster-robust
one and Wilson's interval of the same figure: clustering can only add
uncertainty to what independent judgments would give. With fewer than two songs (for the decisive rate: fewer than two
songs with a decisive judgment) there is no interval (``None``; printed
``n/a (1 song)``).

The design's target, "> 60% win rate", is judged on the tie-inclusive share:
:attr:`WinRate.target_met` needs the share above :data:`TARGET_PREFERENCE_SHARE`
and its song-clustered interval above 50%.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from scipy.stats import binomtest, norm
from scipy.stats import t as student_t

OUTCOMES = ("new", "old", "tie")
TARGET_PREFERENCE_SHARE = 0.60


@dataclass(frozen=True)
class WinRate:
    """Outcome counts of new-against-old judgments and the figures derived from them.

    Attributes
    ----------
    wins, losses, ties : int
        Judgments that preferred the new policy's edit, the old one's, neither.
    preference_share : float
        ``(wins + ties / 2) / judgments``, the headline (NaN without judgments).
    share_ci_low, share_ci_high : float or None
        Song-clustered interval of ``preference_share``; None with fewer than two songs.
    win_rate : float
        ``wins / (wins + losses)`` (NaN without a decisive judgment).
    cluster_ci_low, cluster_ci_high : float or None
        Song-clustered interval of ``win_rate``; None with fewer than two songs that
        have a decisive judgment.
    ci_low, ci_high : float
        Wilson's interval of ``win_rate`` (judgments independent).
    p_value : float
        One-sided exact sign test of "new wins more than half the decisive judgments"
        (judgments independent, so too small when they cluster by song; see ``share_p_value``).
    share_p_value : float or None
        One-sided test of "the preference share is above 1/2" with songs as the
        units (cluster-robust t); None with fewer than two songs.
    confidence : float
        Level of every interval.
    n_songs : int
        Songs judged (0 when the songs were not given).
    decisive_songs : int
        Songs with at least one decisive judgment.
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
    preference_share: float = float("nan")
    share_ci_low: float | None = None
    share_ci_high: float | None = None
    share_p_value: float | None = None
    n_songs: int = 0
    decisive_songs: int = 0

    @property
    def n(self) -> int:
        return self.wins + self.losses + self.ties

    @property
    def decisive(self) -> int:
        return self.wins + self.losses

    @property
    def tie_share(self) -> float:
        return self.ties / self.n if self.n else float("nan")

    @property
    def target_met(self) -> bool:
        """The design's target: tie-inclusive share above 60% and its song interval above 50%."""
        return (self.preference_share > TARGET_PREFERENCE_SHARE and self.share_ci_low is not None
                and self.share_ci_low > 0.5)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "n": self.n, "tie_share": self.tie_share, "target_met": self.target_met}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WinRate:
        """Inverse of :meth:`to_json`; results written before the tie-inclusive share get it from their counts
        (without an interval: their songs were not kept with the counts)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "n_clusters" in data and "n_songs" not in data:  # older files did not tell decisive songs apart
            values["n_songs"] = values["decisive_songs"] = data["n_clusters"]
        if "preference_share" not in data:
            n = data["wins"] + data["losses"] + data["ties"]
            values["preference_share"] = (data["wins"] + data["ties"] / 2) / n if n else float("nan")
        return cls(**values)

    def share_interval_text(self) -> str:
        return interval_text(self.share_ci_low, self.share_ci_high, self.n_songs, songs_known=self.n_songs > 0)

    def decisive_interval_text(self) -> str:
        return interval_text(self.cluster_ci_low, self.cluster_ci_high, self.decisive_songs,
                             songs_known=self.n_songs > 0)

    def headline(self) -> str:
        """``new preferred 52.7% of 240 judgments (ties count half), 95% CI by song ...; target > 60%: not met``."""
        level = f"{self.confidence * 100:g}%"
        p_text = "" if self.share_p_value is None else f", p = {self.share_p_value:.2g} by song"
        return (f"new preferred {_pct(self.preference_share)} of {self.n} judgments (ties count half), "
                f"{level} CI by song {self.share_interval_text()}{p_text}; target > {TARGET_PREFERENCE_SHARE:.0%}: "
                f"{'met' if self.target_met else 'not met'}")

    def details(self) -> str:
        """Decisive win rate with its intervals, the tie share and the counts."""
        level = f"{self.confidence * 100:g}%"
        return (f"decisive: new wins {_pct(self.win_rate)} of {self.decisive} ({level} CI by song "
                f"{self.decisive_interval_text()}; Wilson {_pct(self.ci_low)}-{_pct(self.ci_high)} and sign-test "
                f"p = {self.p_value:.2g} treat judgments as independent); ties {_pct(self.tie_share)} of "
                f"judgments; {self.wins} wins, {self.losses} losses, {self.ties} ties")

    def summary(self) -> str:
        return f"{self.headline()}\n  {self.details()}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1%}"


def interval_text(low: float | None, high: float | None, n_songs: int, songs_known: bool = True) -> str:
    """``40.0%-60.0% over 6 songs``, or ``n/a (1 song)`` when there is no interval."""
    if low is None or high is None:
        if not songs_known:
            return "n/a (songs not recorded)"
        return f"n/a ({n_songs} song{'s' if n_songs != 1 else ''})"
    return f"{low:.1%}-{high:.1%} over {n_songs} songs"


def wilson_interval(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval of ``successes / n``; ``successes`` may count ties as halves.

    Returns ``(0, 1)`` when ``n`` is 0.
    """
    if n <= 0:
        return 0.0, 1.0
    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def cluster_robust_interval(numerators: np.ndarray, denominators: np.ndarray,
                            confidence: float = 0.95) -> tuple[float, float, float] | None:
    """Interval of ``sum(numerators) / sum(denominators)`` with clusters (songs) as the independent units.

    The cluster-robust (CR1) standard error of a ratio estimator, with Student's
    t on ``G - 1`` degrees of freedom for ``G`` clusters (Cameron, Gelbach and
    Miller, 2008): a percentile bootstrap over a handful of songs gives
    intervals that are too narrow, and this one widens as songs get fewer.

    Parameters
    ----------
    numerators, denominators : array of float
        Per cluster: e.g. wins plus half the ties, and judgments. Clusters with
        a zero denominator are left out.
    confidence : float
        Level of the two-sided interval.

    Returns
    -------
    (low, high, standard_error) or None
        Clipped to [0, 1]; ``None`` with fewer than two clusters.
    """
    numerators = np.asarray(numerators, dtype=np.float64)
    denominators = np.asarray(denominators, dtype=np.float64)
    keep = denominators > 0
    numerators, denominators = numerators[keep], denominators[keep]
    g = len(numerators)
    if g < 2:
        return None
    total = denominators.sum()
    ratio = numerators.sum() / total
    residuals = numerators - ratio * denominators
    se = math.sqrt(g / (g - 1) * float(np.sum(residuals**2)) / total**2)
    half = float(student_t.ppf(0.5 + confidence / 2, g - 1)) * se
    return max(0.0, ratio - half), min(1.0, ratio + half), se


def song_interval(numerators: np.ndarray, denominators: np.ndarray,
                  confidence: float) -> tuple[float | None, float | None]:
    """The song-clustered interval of a pooled ratio, widened to Wilson's at least (clustering only adds doubt)."""
    robust = cluster_robust_interval(numerators, denominators, confidence)
    if robust is None:
        return None, None
    wilson = wilson_interval(float(np.sum(numerators)), int(np.sum(denominators)), confidence)
    return min(robust[0], wilson[0]), max(robust[1], wilson[1])


def share_p_value(numerators: np.ndarray, denominators: np.ndarray) -> float | None:
    """One-sided p-value of "the pooled share is above 1/2", songs as the units (t on G - 1 df); None under 2 songs."""
    robust = cluster_robust_interval(numerators, denominators)
    if robust is None:
        return None
    ratio = float(np.sum(numerators) / np.sum(np.asarray(denominators, dtype=np.float64)))
    se = robust[2]
    if se == 0:
        return 0.0 if ratio > 0.5 else 1.0
    g = int(np.sum(np.asarray(denominators) > 0))
    return float(student_t.sf((ratio - 0.5) / se, g - 1))


def _count_by_cluster(outcomes: list[str], clusters: list[Hashable]) -> dict[str, np.ndarray]:
    """Per cluster (in order of first appearance): wins, losses and ties."""
    order: dict[Hashable, int] = {}
    for cluster in clusters:
        order.setdefault(cluster, len(order))
    counts = {key: np.zeros(len(order)) for key in OUTCOMES}
    for outcome, cluster in zip(outcomes, clusters):
        counts[outcome][order[cluster]] += 1
    return counts


def win_rate(outcomes: Iterable[str], confidence: float = 0.95, clusters: Iterable[Hashable] | None = None) -> WinRate:
    """Summarise judgments, each ``"new"``, ``"old"`` or ``"tie"``.

    Parameters
    ----------
    outcomes : iterable of str
        Which policy's edit each judgment preferred.
    confidence : float
        Level of every interval (e.g. 0.95).
    clusters : iterable, optional
        The song (or other cluster) of each judgment, in the order of
        ``outcomes``; without it there are no song-clustered intervals.

    Returns
    -------
    WinRate
        With ``win_rate`` = NaN and a [0, 1] Wilson interval when no judgment was decisive.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    outcomes = list(outcomes)
    for outcome in outcomes:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {OUTCOMES}")
    wins, losses, ties = (outcomes.count(key) for key in OUTCOMES)
    n, decisive = len(outcomes), wins + losses
    share = (wins + ties / 2) / n if n else float("nan")
    share_ci: tuple[float | None, float | None] = (None, None)
    decisive_ci: tuple[float | None, float | None] = (None, None)
    n_songs = decisive_songs = 0
    share_p: float | None = None
    if clusters is not None:
        clusters = list(clusters)
        if len(clusters) != len(outcomes):
            raise ValueError(f"{len(clusters)} clusters for {len(outcomes)} outcomes; give one per outcome")
        per = _count_by_cluster(outcomes, clusters)
        judged = per["new"] + per["old"] + per["tie"]
        n_songs, decisive_songs = len(judged), int(np.sum(per["new"] + per["old"] > 0))
        share_ci = song_interval(per["new"] + per["tie"] / 2, judged, confidence)
        decisive_ci = song_interval(per["new"], per["new"] + per["old"], confidence)
        share_p = share_p_value(per["new"] + per["tie"] / 2, judged)
    if decisive:
        p_value = float(binomtest(wins, decisive, 0.5, alternative="greater").pvalue)
        wilson = wilson_interval(wins, decisive, confidence)
    else:
        p_value, wilson = 1.0, (0.0, 1.0)
    return WinRate(
        wins=wins, losses=losses, ties=ties,
        win_rate=wins / decisive if decisive else float("nan"),
        ci_low=wilson[0], ci_high=wilson[1], p_value=p_value, confidence=confidence,
        cluster_ci_low=decisive_ci[0], cluster_ci_high=decisive_ci[1],
        preference_share=share, share_ci_low=share_ci[0], share_ci_high=share_ci[1], share_p_value=share_p,
        n_songs=n_songs, decisive_songs=decisive_songs,
    )
