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
bootstrap over songs is too narrow with a handful of songs (a policy judged
against itself can get an interval that excludes 50%). It collapses to a point when every song gives the same figure
(all ties, say), so the interval reported is the wider of the cluster-robust
one and Wilson's interval of the same figure: clustering can only add
uncertainty to what independent judgments would give. With fewer than two songs (for the decisive rate: fewer than two
songs with a decisive judgment) there is no interval (``None``; printed
``n/a (1 song)``).

Judgments by one rater are not independent either (a lenient rater is lenient
on every song). When the rater of each judgment is known (``raters``) and there
are two or more raters and songs, both intervals are **clustered by rater and
song**: Cameron, Gelbach and Miller's (2011) two-way cluster-robust variance

    V = V_song + V_rater - V_song∩rater

(each one-way CR1 variance with its own ``G / (G - 1)`` factor, the last over
the cells of one rater on one song), with Student's t on ``min(songs, raters) - 1``
degrees of freedom (:func:`two_way_cluster_interval`). V can come out below
either one-way variance, or negative, when the raters and the songs pull apart;
the variance used is then the larger one-way one, so the interval is never
narrower than clustering by rater or by song alone. With one rater (or
without raters) the interval is the song-clustered one above.

The design's target, "> 60% win rate", is judged on the tie-inclusive share:
:attr:`WinRate.target_met` needs the share above :data:`TARGET_PREFERENCE_SHARE`
and its clustered interval above 50%.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
from pydantic import ConfigDict, computed_field, model_validator
from scipy.stats import binomtest, norm
from scipy.stats import t as student_t

from rl_editor.formats import FormatModel

OUTCOMES = ("new", "old", "tie")
TARGET_PREFERENCE_SHARE = 0.60


class WinRate(FormatModel):
    """Outcome counts of new-against-old judgments and the figures derived from them.

    Its JSON (:meth:`to_json`) holds every field and the derived ``n``,
    ``tie_share`` and ``target_met``; :meth:`from_json` reads it back, ignoring
    the derived keys and any key it does not know, and gives results written
    before the tie-inclusive share that share from their counts (without an
    interval: their songs were not kept with the counts).

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
    n_raters, decisive_raters : int
        Raters of all judgments, and of the decisive ones (0 when the raters were not given).
    share_clustered_by, decisive_clustered_by : str
        What each interval is clustered by: ``"song"``, or ``"rater and song"`` (two-way).
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
    n_raters: int = 0
    decisive_raters: int = 0
    share_clustered_by: str = "song"
    decisive_clustered_by: str = "song"

    model_config = ConfigDict(extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _figures_of_older_files(cls, data: Any) -> Any:
        """Older files: ``n_clusters`` for the songs, no ``preference_share``; every optional figure is kept
        (``null`` included) when written back."""
        if not isinstance(data, dict):
            return data
        data = {**{name: None for name, info in cls.model_fields.items() if info.default is None}, **data}
        if "n_clusters" in data and "n_songs" not in data:  # older files did not tell decisive songs apart
            data["n_songs"] = data["decisive_songs"] = data["n_clusters"]
        if "preference_share" not in data and all(isinstance(data.get(k), int) for k in ("wins", "losses", "ties")):
            n = data["wins"] + data["losses"] + data["ties"]
            data["preference_share"] = (data["wins"] + data["ties"] / 2) / n if n else float("nan")
        return data

    @computed_field  # type: ignore[prop-decorator]
    @property
    def n(self) -> int:
        return self.wins + self.losses + self.ties

    @property
    def decisive(self) -> int:
        return self.wins + self.losses

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tie_share(self) -> float:
        return self.ties / self.n if self.n else float("nan")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def target_met(self) -> bool:
        """The design's target: tie-inclusive share above 60% and its song interval above 50%."""
        return (
            self.preference_share > TARGET_PREFERENCE_SHARE
            and self.share_ci_low is not None
            and self.share_ci_low > 0.5
        )

    def share_interval_text(self) -> str:
        raters = self.n_raters if self.share_clustered_by != "song" else 0
        return interval_text(
            self.share_ci_low, self.share_ci_high, self.n_songs, songs_known=self.n_songs > 0, n_raters=raters
        )

    def decisive_interval_text(self) -> str:
        raters = self.decisive_raters if self.decisive_clustered_by != "song" else 0
        return interval_text(
            self.cluster_ci_low,
            self.cluster_ci_high,
            self.decisive_songs,
            songs_known=self.n_songs > 0,
            n_raters=raters,
        )

    def headline(self) -> str:
        """``new preferred 52.7% of 240 judgments (ties count half), 95% CI by song ...; target > 60%: not met``."""
        level = f"{self.confidence * 100:g}%"
        p_text = "" if self.share_p_value is None else f", p = {self.share_p_value:.2g} by {self.share_clustered_by}"
        return (
            f"new preferred {_pct(self.preference_share)} of {self.n} judgments (ties count half), "
            f"{level} CI by {self.share_clustered_by} {self.share_interval_text()}{p_text}; target > {TARGET_PREFERENCE_SHARE:.0%}: "
            f"{'met' if self.target_met else 'not met'}"
        )

    def details(self) -> str:
        """Decisive win rate with its intervals, the tie share and the counts."""
        level = f"{self.confidence * 100:g}%"
        return (
            f"decisive: new wins {_pct(self.win_rate)} of {self.decisive} ({level} CI by {self.decisive_clustered_by} "
            f"{self.decisive_interval_text()}; Wilson {_pct(self.ci_low)}-{_pct(self.ci_high)} and sign-test "
            f"p = {self.p_value:.2g} treat judgments as independent); ties {_pct(self.tie_share)} of "
            f"judgments; {self.wins} wins, {self.losses} losses, {self.ties} ties"
        )

    def summary(self) -> str:
        return f"{self.headline()}\n  {self.details()}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1%}"


def interval_text(
    low: float | None, high: float | None, n_songs: int, songs_known: bool = True, n_raters: int = 0
) -> str:
    """``40.0%-60.0% over 6 songs`` (``... and 3 raters`` when ``n_raters``), or ``n/a (1 song)`` without one."""
    if low is None or high is None:
        if not songs_known:
            return "n/a (songs not recorded)"
        return f"n/a ({n_songs} song{'s' if n_songs != 1 else ''})"
    return f"{low:.1%}-{high:.1%} over {n_songs} songs" + (f" and {n_raters} raters" if n_raters else "")


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


def cluster_robust_interval(
    numerators: np.ndarray, denominators: np.ndarray, confidence: float = 0.95
) -> tuple[float, float, float] | None:
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


def song_interval(
    numerators: np.ndarray, denominators: np.ndarray, confidence: float
) -> tuple[float | None, float | None]:
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


def _cluster_meat(residuals: np.ndarray, clusters: np.ndarray) -> tuple[float, int]:
    """``(G / (G - 1) * sum over clusters of (summed residuals)^2, G)``: one CR1 variance's numerator."""
    _, index = np.unique(clusters, return_inverse=True)
    sums = np.bincount(index, weights=residuals)
    g = len(sums)
    return (g / (g - 1) * float(np.sum(sums**2)) if g > 1 else 0.0), g


def two_way_cluster_variance(
    numerators: np.ndarray, denominators: np.ndarray, first: np.ndarray, second: np.ndarray
) -> tuple[float, float, float, int, int]:
    """The pieces of Cameron, Gelbach and Miller's two-way variance of ``sum(numerators) / sum(denominators)``.

    Parameters
    ----------
    numerators, denominators : array of float
        Per judgment, e.g. 1 for a win and 0.5 for a tie, and 1 (judgments with
        a zero denominator are left out: they belong to no cluster).
    first, second : array
        Per judgment, its cluster in each dimension (song, rater).

    Returns
    -------
    (v_first, v_second, v_both, g_first, g_second)
        One-way CR1 variances by ``first``, by ``second`` and by their
        intersection (``V = v_first + v_second - v_both``), and the cluster counts.
    """
    numerators, denominators = np.asarray(numerators, dtype=np.float64), np.asarray(denominators, dtype=np.float64)
    keep = denominators > 0
    numerators, denominators = numerators[keep], denominators[keep]
    first, second = np.asarray(first, dtype=str)[keep], np.asarray(second, dtype=str)[keep]
    total = float(denominators.sum())
    if total == 0:
        return 0.0, 0.0, 0.0, 0, 0
    residuals = numerators - numerators.sum() / total * denominators
    both = np.char.add(np.char.add(first, "\x1f"), second)
    (m_first, g_first), (m_second, g_second), (m_both, _) = (
        _cluster_meat(residuals, clusters) for clusters in (first, second, both)
    )
    return m_first / total**2, m_second / total**2, m_both / total**2, g_first, g_second


def two_way_cluster_interval(
    numerators: np.ndarray, denominators: np.ndarray, songs: np.ndarray, raters: np.ndarray, confidence: float = 0.95
) -> tuple[float, float, float, int] | None:
    """Interval of a pooled ratio clustered by song and by rater (module docstring).

    Returns
    -------
    (low, high, standard_error, degrees_of_freedom) or None
        Clipped to [0, 1]; ``None`` with fewer than two songs or two raters
        among the judgments with a non-zero denominator.
    """
    v_song, v_rater, v_both, g_song, g_rater = two_way_cluster_variance(numerators, denominators, songs, raters)
    if g_song < 2 or g_rater < 2:
        return None
    variance = max(v_song + v_rater - v_both, v_song, v_rater)
    ratio = float(np.sum(numerators) / np.sum(np.asarray(denominators, dtype=np.float64)))
    df = min(g_song, g_rater) - 1
    se = math.sqrt(variance)
    half = float(student_t.ppf(0.5 + confidence / 2, df)) * se
    return max(0.0, ratio - half), min(1.0, ratio + half), se, df


def _clustered_figures(
    numerators: np.ndarray,
    denominators: np.ndarray,
    songs: list[Hashable],
    raters: list[Hashable] | None,
    confidence: float,
) -> tuple[tuple[float | None, float | None], float | None, str]:
    """``(interval, one-sided p of "above 1/2", clustered by)``: two-way when it can be, else by song.

    Intervals are widened to Wilson's of the same figure at least.
    """
    if raters is not None:
        robust = two_way_cluster_interval(
            numerators, denominators, np.asarray(songs, dtype=str), np.asarray(raters, dtype=str), confidence
        )
        if robust is not None:
            low, high, se, df = robust
            wilson = wilson_interval(float(np.sum(numerators)), int(np.sum(denominators)), confidence)
            ratio = float(np.sum(numerators) / np.sum(denominators))
            p_value = (0.0 if ratio > 0.5 else 1.0) if se == 0 else float(student_t.sf((ratio - 0.5) / se, df))
            return (min(low, wilson[0]), max(high, wilson[1])), p_value, "rater and song"
    per_num, per_den = _sum_by_cluster(numerators, songs), _sum_by_cluster(denominators, songs)
    return song_interval(per_num, per_den, confidence), share_p_value(per_num, per_den), "song"


def _sum_by_cluster(values: np.ndarray, clusters: list[Hashable]) -> np.ndarray:
    """Per cluster, in order of first appearance: the sum of ``values``."""
    order: dict[Hashable, int] = {}
    for cluster in clusters:
        order.setdefault(cluster, len(order))
    sums = np.zeros(len(order))
    np.add.at(sums, [order[c] for c in clusters], values)
    return sums


def win_rate(
    outcomes: Iterable[str],
    confidence: float = 0.95,
    clusters: Iterable[Hashable] | None = None,
    raters: Iterable[Hashable] | None = None,
) -> WinRate:
    """Summarise judgments, each ``"new"``, ``"old"`` or ``"tie"``.

    Parameters
    ----------
    outcomes : iterable of str
        Which policy's edit each judgment preferred.
    confidence : float
        Level of every interval (e.g. 0.95).
    clusters : iterable, optional
        The song (or other cluster) of each judgment, in the order of
        ``outcomes``; without it there are no clustered intervals.
    raters : iterable, optional
        The rater of each judgment, in the order of ``outcomes``; with two or
        more raters (and songs) the intervals are clustered by rater and song.

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
    n_songs = decisive_songs = n_raters = decisive_raters = 0
    share_p: float | None = None
    share_by = decisive_by = "song"
    if clusters is not None:
        songs = list(clusters)
        if len(songs) != len(outcomes):
            raise ValueError(f"{len(songs)} clusters for {len(outcomes)} outcomes; give one per outcome")
        rater_list = None if raters is None else list(raters)
        if rater_list is not None and len(rater_list) != len(outcomes):
            raise ValueError(f"{len(rater_list)} raters for {len(outcomes)} outcomes; give one per outcome")
        is_decisive = np.array([o != "tie" for o in outcomes], dtype=np.float64)
        wins_per = np.array([o == "new" for o in outcomes], dtype=np.float64)
        n_songs = len(set(songs))
        decisive_songs = len({s for s, d in zip(songs, is_decisive) if d})
        if rater_list is not None:
            n_raters = len(set(rater_list))
            decisive_raters = len({r for r, d in zip(rater_list, is_decisive) if d})
        share_ci, share_p, share_by = _clustered_figures(
            wins_per + (1 - is_decisive) / 2, np.ones(n), songs, rater_list, confidence
        )
        decisive_ci, _, decisive_by = _clustered_figures(wins_per, is_decisive, songs, rater_list, confidence)
    if decisive:
        p_value = float(binomtest(wins, decisive, 0.5, alternative="greater").pvalue)
        wilson = wilson_interval(wins, decisive, confidence)
    else:
        p_value, wilson = 1.0, (0.0, 1.0)
    return WinRate(
        wins=wins,
        losses=losses,
        ties=ties,
        win_rate=wins / decisive if decisive else float("nan"),
        ci_low=wilson[0],
        ci_high=wilson[1],
        p_value=p_value,
        confidence=confidence,
        cluster_ci_low=decisive_ci[0],
        cluster_ci_high=decisive_ci[1],
        preference_share=share,
        share_ci_low=share_ci[0],
        share_ci_high=share_ci[1],
        share_p_value=share_p,
        n_songs=n_songs,
        decisive_songs=decisive_songs,
        n_raters=n_raters,
        decisive_raters=decisive_raters,
        share_clustered_by=share_by,
        decisive_clustered_by=decisive_by,
    )
