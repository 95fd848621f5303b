"""Simulated raters: a taste plus a noise model, after B-Pref's scripted teachers.

B-Pref (Lee et al. 2021, "B-Pref: Benchmarking Preference-Based Reinforcement
Learning") simulates people as teachers who compare two segments by their
return, with knobs for irrationality. :class:`NoiseModel` carries the same knobs
for edits of songs. A judgment of ``(A, B)`` goes, in order:

1. Score both sides with the taste (normalised per song, so gaps are O(1)),
   discounting earlier beats by ``myopia`` when the taste supports it.
   Let ``gap = s_A - s_B``.
2. Tie: if ``|gap| < tie_threshold`` the answer is ``"tie"``, with ``tie_kind``
   ``"both_good"`` when ``(s_A + s_B) / 2`` is above the taste's median for this
   song (0 on the normalised scale), else ``"both_bad"``; strength 1.
3. Position bias: if the rater is unsure (``|gap| < UNSURE_GAP``), with
   probability ``position_bias`` they pick whatever is shown as A.
4. Otherwise A wins with probability ``sigmoid(beta * gap)`` (Bradley-Terry;
   ``beta = inf`` always picks the higher score).
5. Mistake: with probability ``mistake`` the answer is flipped.
6. Strength from ``|gap|``: below ``STRENGTH_THRESHOLDS[0]`` (0.5) slight (1),
   below ``STRENGTH_THRESHOLDS[1]`` (1.5) moderate (2), else strong (3). An answer
   against the taste's own ordering (noise, bias or a mistake) is always slight.

Star ratings (:meth:`SimulatedRater.rate`) read the normalised score, plus
logistic noise of scale ``1 / beta``, against :data:`STAR_THRESHOLDS` (the
quartiles of typical edits), and a mistake mirrors the stars (1 <-> 4, 2 <-> 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from rl_editor.audio.song import SongAnalysis
from rl_editor.edit import Edit
from rl_editor.formats import Preference, TieKind
from rl_editor.preferences import PREFERENCES, STRENGTHS, TIE_KINDS
from rl_editor.raters.tastes import CRITERION_LABELS, RaterError, Taste

STRENGTH_THRESHOLDS = (0.5, 1.5)
STAR_THRESHOLDS = (-0.675, 0.0, 0.675)
UNSURE_GAP = STRENGTH_THRESHOLDS[0]


@dataclass(frozen=True)
class NoiseModel:
    """How a simulated rater departs from their taste.

    Parameters
    ----------
    beta : float
        Rationality, the Bradley-Terry inverse temperature: ``P(A) = sigmoid(beta * gap)``.
        ``inf`` (default) always picks the better-scored side; 0 picks at random.
    mistake : float
        Probability of flipping the answer (B-Pref's epsilon), 0-1.
    tie_threshold : float
        Normalised score gap below which the answer is a tie.
    myopia : float
        Per-beat discount gamma of earlier material, 0-1 (1 = none).
    position_bias : float
        Probability of picking what is shown as A when unsure (``|gap| < 0.5``), 0-1.
    """

    beta: float = math.inf
    mistake: float = 0.0
    tie_threshold: float = 0.1
    myopia: float = 1.0
    position_bias: float = 0.0

    def __post_init__(self) -> None:
        checks = {
            "beta": self.beta >= 0,
            "mistake": 0.0 <= self.mistake <= 1.0,
            "tie_threshold": self.tie_threshold >= 0,
            "myopia": 0.0 < self.myopia <= 1.0,
            "position_bias": 0.0 <= self.position_bias <= 1.0,
        }
        for name, ok in checks.items():
            if not ok or (isinstance(getattr(self, name), float) and math.isnan(getattr(self, name))):
                raise RaterError(f"noise {name}={getattr(self, name)!r} is out of range (see NoiseModel)")


NOISE_PRESETS: dict[str, NoiseModel] = {
    "oracle": NoiseModel(tie_threshold=0.0),
    "default": NoiseModel(),
    "human": NoiseModel(beta=4.0, mistake=0.05, tie_threshold=0.15, myopia=1.0, position_bias=0.1),
    "careless": NoiseModel(beta=1.0, mistake=0.2, tie_threshold=0.1, myopia=0.99, position_bias=0.3),
}


@dataclass
class Judgment:
    """One rater's answer to "which edit do you prefer?".

    ``preference`` refers to the edits in the order they were given (A first).
    ``tie_kind`` is set only for ties. ``score_a``/``score_b`` are the rater's
    own (normalised) scores when known, NaN otherwise.
    """

    preference: Preference
    strength: int = 1
    tie_kind: TieKind | None = None
    notes: str = ""
    score_a: float = math.nan
    score_b: float = math.nan

    def __post_init__(self) -> None:
        if self.preference not in PREFERENCES:
            raise RaterError(f"judgment preference must be 'a', 'b' or 'tie', got {self.preference!r}")
        if self.strength not in STRENGTHS:
            raise RaterError(f"judgment strength must be 1, 2 or 3, got {self.strength!r}")
        if self.tie_kind is not None and self.tie_kind not in TIE_KINDS:
            raise RaterError(f"judgment tie_kind must be 'both_good', 'both_bad' or None, got {self.tie_kind!r}")
        self.preference = Preference(self.preference)
        self.tie_kind = None if self.tie_kind is None else TieKind(self.tie_kind)


@runtime_checkable
class Rater(Protocol):
    """Anything that can compare two edits of a song; ``rate`` (1-4 stars) is optional."""

    name: str

    def judge(self, song: SongAnalysis, edit_a: Edit, edit_b: Edit) -> Judgment: ...


def strength_from_gap(gap: float) -> int:
    """1 slight, 2 moderate, 3 strong, from a normalised score gap (see module docstring)."""
    gap = abs(gap)
    return 1 if gap < STRENGTH_THRESHOLDS[0] else 2 if gap < STRENGTH_THRESHOLDS[1] else 3


def stars_from_score(score: float) -> int:
    """1-4 stars from a normalised score: below, between and above the typical quartiles."""
    return 1 + int(np.searchsorted(STAR_THRESHOLDS, score, side="right"))


@dataclass
class SimulatedRater:
    """A rater with a taste and a noise model; reproducible from ``seed``.

    Examples
    --------
    >>> from rl_editor.raters import TASTES
    >>> rater = SimulatedRater("alice", TASTES["musician"], NoiseModel(mistake=0.1), seed=3)
    >>> rater.judge(song, edit_a, edit_b).preference  # doctest: +SKIP
    'a'
    """

    name: str
    taste: Taste
    noise: NoiseModel = field(default_factory=NoiseModel)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.noise.myopia < 1.0 and not getattr(self.taste, "supports_myopia", False):
            raise RaterError(f"taste {getattr(self.taste, 'name', self.taste)!r} does not support myopia; use myopia=1")
        self._rng = np.random.default_rng(self.seed)

    def _score(self, song: SongAnalysis, edit: Edit) -> float:
        if self.noise.myopia < 1.0:
            return float(self.taste.score(song, edit, myopia=self.noise.myopia))  # type: ignore[call-arg]
        return float(self.taste.score(song, edit))

    def _score_and_terms(self, song: SongAnalysis, edit: Edit) -> tuple[float, dict[str, float] | None]:
        both = getattr(self.taste, "score_and_explain", None)
        if both is not None:
            return both(song, edit.actions, self.noise.myopia)
        return self._score(song, edit), None

    def judge(self, song: SongAnalysis, edit_a: Edit, edit_b: Edit) -> Judgment:
        """Compare two edits of ``song`` (A is the first); see the module docstring for the steps."""
        noise, rng = self.noise, self._rng
        (s_a, terms_a), (s_b, terms_b) = self._score_and_terms(song, edit_a), self._score_and_terms(song, edit_b)
        gap = s_a - s_b
        if abs(gap) < noise.tie_threshold:
            kind = TieKind.BOTH_GOOD if (s_a + s_b) / 2.0 > 0.0 else TieKind.BOTH_BAD
            notes = f"both {'good' if kind == TieKind.BOTH_GOOD else 'weak'}, hard to tell apart"
            return Judgment(Preference.TIE, 1, kind, notes, s_a, s_b)
        a, b = Preference.A, Preference.B
        if abs(gap) < UNSURE_GAP and rng.random() < noise.position_bias:
            choice = a
        elif math.isinf(noise.beta):
            choice = a if gap > 0 else b
        else:
            p_a = 1.0 / (1.0 + math.exp(-max(min(noise.beta * gap, 50.0), -50.0)))
            choice = a if rng.random() < p_a else b
        if rng.random() < noise.mistake:
            choice = b if choice == a else a
        agrees = (choice == a) == (gap > 0)
        strength = strength_from_gap(gap) if agrees else 1
        return Judgment(choice, strength, None, self._notes(terms_a, terms_b, choice), s_a, s_b)

    def rate(self, song: SongAnalysis, edit: Edit) -> int:
        """1-4 stars for one edit (1 poor, 2 okay, 3 good, 4 excellent)."""
        score = self._score(song, edit)
        if not math.isinf(self.noise.beta):
            u = self._rng.uniform(1e-9, 1 - 1e-9)
            score += math.log(u / (1 - u)) / max(self.noise.beta, 1e-9)
        stars = stars_from_score(score)
        if self._rng.random() < self.noise.mistake:
            stars = 5 - stars
        return stars

    @staticmethod
    def _notes(terms_a: dict[str, float] | None, terms_b: dict[str, float] | None, choice: str) -> str:
        """A short reason: the criterion that most favours the chosen side."""
        if terms_a is None or terms_b is None:
            return ""
        sign = 1.0 if choice == "a" else -1.0
        diffs = {k: sign * (terms_a[k] - terms_b.get(k, 0.0)) for k in terms_a}
        if not diffs:
            return ""
        best = max(diffs, key=lambda k: diffs[k])
        if diffs[best] <= 0:
            return f"{choice.upper()} by a hair"
        label = CRITERION_LABELS.get(best, best.replace("_", " "))
        return f"{choice.upper()}: {label}"
