"""Tastes: deterministic scorings of an edit, the noiseless half of a simulated rater.

A taste turns ``(song, edit)`` into one number, higher is better. The named
tastes in :data:`TASTES` are built from musical criteria, each in [0, 1]
(1 is best), computed from the song's beat grid and per-beat features:

- ``bar_aligned``: share of splices that fall on a bar line (``splice.py``'s ``on_bar_line``).
- ``smooth_splices``: mean splice quality (``splice.py``'s weighted quality).
- ``worst_splice``: quality of the edit's worst splice (one bad jump ruins a listen).
- ``few_splices``: ``exp(-splices per minute of output / 2)``.
- ``length``: ``exp(-((keep_share - target) / width)^2 / 2)`` with ``keep_share`` the
  edit's duration over the song's.
- ``strong_kept``: share of the song's strongest beats (top 40 % by beat strength) still played.
- ``energy``: mean beat-strength percentile of the played beats (chorus-heavy edits score high).
- ``no_repeats``: ``exp(-repeated beats / 3)``; a repeated beat is an audible stutter.

Content criteria say *which* material an edit keeps, whatever its length
(each a share or a mean percentile within the song, so songs compare):

- ``calm``: ``1 - energy`` (a listener who wants background music: the loud parts go).
- ``intro_kept`` / ``cold_start``: share of the intro (the first section, 4-16 bars)
  still played / cut (a radio edit starts where the song takes off).
- ``outro_kept``: share of the outro (the last section, 4-16 bars) still played.
- ``first_occurrences``: half the share of first-heard sections kept plus half the
  share of reprised sections (a section label heard before) cut.
- ``melodic``: mean melodic-material percentile of the played beats (harmonic rather
  than percussive, tonal rather than noisy).

Beat strength mixes the structure, loudness and onset feature groups:
``0.5 * section_energy_rank + 0.3 * clip((rms_relative_db + 12) / 18, 0, 1) + 0.2 * onset_mean``,
turned into a percentile within the song.

Scores are normalised per song so that typical gaps are O(1): each taste scores
48 reference edits of the song (:func:`sample_edits`, seeded by the song id),
and a score is ``(raw - median) / (IQR / 1.349)`` over those. So 0 is a typical
edit of this song, about half of typical edits score above 0, and the quartiles
of typical edits sit at -0.67 and +0.67. The calibration is cached on the song.

Myopia (see :class:`~rl_editor.raters.simulated.NoiseModel`) discounts what
happens early in the edit by ``gamma ** (played beats from the end of the edit)``:
each splice's badness (``1 - quality``, ``1 - on_bar_line``) is multiplied by it,
and ``energy`` becomes the mean weighted by it; so a myopic listener judges
mostly by the end. ``length``, ``few_splices``, ``strong_kept`` and ``no_repeats`` are global.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from rl_editor.audio.content import content_regions, melodic_strength
from rl_editor.audio.feature_layout import feature_index
from rl_editor.audio.song import SongAnalysis
from rl_editor.audio.splice import splice_components
from rl_editor.edit import CUT, KEEP, REPEAT, Edit, beat_sequence, validate_actions
from rl_editor.errors import RlEditorError

N_REFERENCE_EDITS = 48
STRONG_BEAT_PERCENTILE = 0.6
ROBUST_STD_PER_IQR = 1.349

CRITERION_LABELS: dict[str, str] = {
    "bar_aligned": "bar-aligned cuts",
    "smooth_splices": "smoother splices",
    "worst_splice": "no jarring splice",
    "few_splices": "fewer cuts",
    "length": "a better length",
    "strong_kept": "keeping the strongest sections",
    "energy": "more of the high-energy parts",
    "no_repeats": "no awkward repeats",
    "calm": "leaving out the loudest parts",
    "intro_kept": "keeping the intro",
    "cold_start": "starting where the song takes off",
    "outro_kept": "keeping the ending",
    "first_occurrences": "cutting the reprises, keeping first statements",
    "melodic": "keeping the melodic material",
}
CONTENT_CRITERIA: tuple[str, ...] = (
    "energy",
    "calm",
    "intro_kept",
    "cold_start",
    "outro_kept",
    "first_occurrences",
    "melodic",
)


class RaterError(RlEditorError):
    """A rater, taste or rater spec that cannot be used as asked."""


@runtime_checkable
class Taste(Protocol):
    """What every taste offers: a deterministic score, one edit or many at once."""

    name: str

    def score(self, song: SongAnalysis, edit: Edit) -> float: ...

    def score_batch(self, song: SongAnalysis, actions_list: list[np.ndarray]) -> np.ndarray: ...


def beat_strength(song: SongAnalysis) -> np.ndarray:
    """Shape (n_beats,): each beat's strength as a percentile within the song (0-1, 1 strongest)."""

    def compute() -> np.ndarray:
        f = song.features
        raw = (
            0.5 * f[:, feature_index("section_energy_rank")]
            + 0.3 * np.clip((f[:, feature_index("rms_relative_db")] + 12.0) / 18.0, 0.0, 1.0)
            + 0.2 * f[:, feature_index("onset_mean")]
        ).astype(np.float64)
        order = np.argsort(np.argsort(raw, kind="stable"), kind="stable")
        return (order + 0.5) / max(len(raw), 1)

    return song.derived("rater_beat_strength", compute)


def _share(mask: np.ndarray, of: np.ndarray, empty: float) -> float:
    return float(mask[of].mean()) if of.any() else empty


def _weighted_mean(values: np.ndarray, weights: np.ndarray, empty: float) -> float:
    if values.size == 0 or weights.sum() <= 0:
        return empty
    return float(np.sum(values * weights) / np.sum(weights))


def edit_criteria(
    song: SongAnalysis,
    actions: np.ndarray,
    *,
    target_keep_share: float = 0.6,
    length_width: float = 0.12,
    myopia: float = 1.0,
) -> dict[str, float]:
    """All criteria of one edit, each in [0, 1] with 1 best (see the module docstring).

    Parameters
    ----------
    song : SongAnalysis
    actions : array of int, shape (n_beats,)
    target_keep_share : float
        Edit duration over song duration the ``length`` criterion likes best.
    length_width : float
        Tolerance of the ``length`` criterion (a Gaussian's standard deviation, in keep share).
    myopia : float
        Per-beat discount of earlier material (1 = none).
    """
    actions = validate_actions(actions, song.n_beats)
    seq = beat_sequence(actions)
    n_out = seq.size
    pos_weights = myopia ** np.arange(n_out - 1, -1, -1, dtype=np.float64) if n_out else np.zeros(0)
    jumps = np.flatnonzero(seq[1:] != seq[:-1] + 1)
    if jumps.size:
        comps = splice_components(song, seq[jumps], seq[jumps + 1])
        quality = comps.quality
        # a myopic listener forgets early flaws: each splice's badness is discounted
        splice_w = pos_weights[jumps + 1]
        bar_aligned = 1.0 - float(np.sum(splice_w * (1.0 - comps.on_bar_line))) / jumps.size
        smooth = 1.0 - float(np.sum(splice_w * (1.0 - quality))) / jumps.size
        worst = 1.0 - float(np.max(splice_w * (1.0 - quality)))
    else:
        bar_aligned = smooth = worst = 1.0
    durations = song.beat_durations_s
    out_seconds = float(durations[seq].sum()) if n_out else 0.0
    keep_share = out_seconds / max(song.duration_seconds, 1e-9)
    strength = beat_strength(song)
    strong = strength >= STRONG_BEAT_PERCENTILE
    played = actions != CUT
    strong_kept = float(played[strong].mean()) if strong.any() else 1.0
    energy = _weighted_mean(strength[seq], pos_weights, 0.0)
    n_repeats = int(np.sum(actions == REPEAT))
    minutes = max(out_seconds / 60.0, 1e-3)
    regions = content_regions(song)
    intro_kept = _share(played, regions.intro, 1.0)
    first_kept = _share(played, ~regions.reprise, 1.0)
    reprise_cut = _share(~played, regions.reprise, 0.5)
    return {
        "bar_aligned": bar_aligned,
        "smooth_splices": smooth,
        "worst_splice": worst,
        "few_splices": float(np.exp(-(jumps.size / minutes) / 2.0)),
        "length": float(np.exp(-0.5 * ((keep_share - target_keep_share) / length_width) ** 2)),
        "strong_kept": strong_kept,
        "energy": energy,
        "no_repeats": float(np.exp(-n_repeats / 3.0)),
        "calm": 1.0 - energy if n_out else 0.0,
        "intro_kept": intro_kept,
        "cold_start": 1.0 - intro_kept,
        "outro_kept": _share(played, regions.outro, 1.0),
        "first_occurrences": 0.5 * first_kept + 0.5 * reprise_cut,
        "melodic": _weighted_mean(melodic_strength(song)[seq], pos_weights, 0.0),
    }


def sample_edits(song: SongAnalysis, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Varied plausible edits of ``song`` without a policy: reference and test material.

    Each edit aims at a keep share drawn from U(0.35, 1). Six in ten cut whole bars
    (each bar cut with probability ``1 - keep share``); the rest cut runs of 1-8
    beats starting anywhere (often off the bar line). Three in ten also repeat 1-4
    kept beats. The first and last beats are always kept.

    Returns
    -------
    list of int8 arrays, each of shape (n_beats,)
    """
    n_beats = song.n_beats
    bar_starts = np.flatnonzero(song.beat_in_bar == 0)
    if bar_starts.size == 0 or bar_starts[0] != 0:
        bar_starts = np.concatenate([[0], bar_starts])
    bar_ends = np.append(bar_starts[1:], n_beats)
    edits = []
    for _ in range(n):
        keep = rng.uniform(0.35, 1.0)
        actions = np.full(n_beats, KEEP, dtype=np.int8)
        if rng.random() < 0.6:
            for start, end in zip(bar_starts, bar_ends):
                if rng.random() > keep:
                    actions[start:end] = CUT
        else:
            target_cut = int(round((1.0 - keep) * n_beats))
            for _attempt in range(4 * n_beats):
                if np.sum(actions == CUT) >= target_cut:
                    break
                first = int(rng.integers(0, n_beats))
                actions[first : first + int(rng.integers(1, 9))] = CUT
        if rng.random() < 0.3:
            kept = np.flatnonzero(actions == KEEP)
            if kept.size:
                picks = rng.choice(kept, size=min(kept.size, int(rng.integers(1, 5))), replace=False)
                actions[picks] = REPEAT
        if n_beats:
            actions[0] = actions[-1] = KEEP
        edits.append(actions)
    return edits


class CalibratedTaste:
    """Base of the built-in tastes: a raw scoring, normalised per song (module docstring).

    Subclasses implement :meth:`raw_score` and :meth:`explain`.
    """

    name: str
    supports_myopia: bool

    def raw_score(self, song: SongAnalysis, actions: np.ndarray, myopia: float = 1.0) -> float:
        raise NotImplementedError

    def explain(self, song: SongAnalysis, actions: np.ndarray, myopia: float = 1.0) -> dict[str, float]:
        """Named contributions to the raw score (used for a judgment's notes)."""
        raise NotImplementedError

    def score_and_explain(
        self, song: SongAnalysis, actions: np.ndarray, myopia: float = 1.0
    ) -> tuple[float, dict[str, float]]:
        """Normalised score and the named contributions, computing the criteria once."""
        terms = self.explain(song, actions, myopia)
        return float(self.normalise(song, self._raw_from_terms(song, actions, terms, myopia))), terms

    def _raw_from_terms(self, song: SongAnalysis, actions: np.ndarray, terms: dict[str, float], myopia: float) -> float:
        return self.raw_score(song, actions, myopia)

    def calibration(self, song: SongAnalysis) -> tuple[float, float]:
        """``(median, scale)`` of the raw score over the song's reference edits (cached)."""

        def compute() -> tuple[float, float]:
            rng = np.random.default_rng(zlib.crc32(song.song_id.encode("utf-8")))
            raw = np.array([self.raw_score(song, a) for a in sample_edits(song, N_REFERENCE_EDITS, rng)])
            median = float(np.median(raw))
            q25, q75 = np.percentile(raw, [25, 75])
            scale = float(q75 - q25) / ROBUST_STD_PER_IQR
            if not np.isfinite(scale) or scale <= 1e-9:
                scale = float(raw.std()) or 1.0
            return median, scale

        # the weights too, not just the name
        return song.derived(("rater_taste_calibration", repr(self)), compute)

    def normalise(self, song: SongAnalysis, raw: np.ndarray | float) -> np.ndarray | float:
        median, scale = self.calibration(song)
        return (np.asarray(raw, dtype=np.float64) - median) / scale

    def score(self, song: SongAnalysis, edit: Edit | np.ndarray, myopia: float = 1.0) -> float:
        """Normalised score of one edit (0 = a typical edit of this song; gaps O(1))."""
        actions = edit.actions if isinstance(edit, Edit) else np.asarray(edit)
        return float(self.normalise(song, self.raw_score(song, actions, myopia)))

    def score_batch(self, song: SongAnalysis, actions_list: list[np.ndarray], myopia: float = 1.0) -> np.ndarray:
        """Normalised scores of many edits of one song, shape (len(actions_list),)."""
        raw = np.array([self.raw_score(song, np.asarray(a), myopia) for a in actions_list], dtype=np.float64)
        return np.asarray(self.normalise(song, raw), dtype=np.float64).reshape(len(actions_list))


@dataclass
class CriteriaTaste(CalibratedTaste):
    """A weighted sum of the criteria of :func:`edit_criteria`.

    Parameters
    ----------
    name : str
    weights : dict of str to float
        Criterion name to weight; criteria not named count 0.
    target_keep_share, length_width : float
        Passed to :func:`edit_criteria`.
    description : str
        One line shown by ``rl-editor synth-prefs --help`` and in reports.
    signature : str, optional
        The criterion that sets this taste apart (benchmarks report it old -> new).
    """

    name: str
    weights: dict[str, float]
    target_keep_share: float = 0.6
    length_width: float = 0.12
    description: str = ""
    signature: str | None = None
    supports_myopia: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(CRITERION_LABELS)
        if unknown:
            raise RaterError(
                f"taste {self.name!r}: unknown criteria {sorted(unknown)}; known: {sorted(CRITERION_LABELS)}"
            )
        if self.signature is not None and self.signature not in self.weights:
            raise RaterError(f"taste {self.name!r}: signature {self.signature!r} is not one of its criteria")

    def explain(self, song: SongAnalysis, actions: np.ndarray, myopia: float = 1.0) -> dict[str, float]:
        crit = edit_criteria(
            song, actions, target_keep_share=self.target_keep_share, length_width=self.length_width, myopia=myopia
        )
        return {name: w * crit[name] for name, w in self.weights.items()}

    def raw_score(self, song: SongAnalysis, actions: np.ndarray, myopia: float = 1.0) -> float:
        return float(sum(self.explain(song, actions, myopia).values()))

    def _raw_from_terms(self, song: SongAnalysis, actions: np.ndarray, terms: dict[str, float], myopia: float) -> float:
        return float(sum(terms.values()))


@dataclass
class DenseTaste(CalibratedTaste):
    """The policy's dense reward as a taste: ``score_edit(song, actions)["total"]``.

    Used for bootstrap ("v8") preferences; it does not support myopia.
    """

    name: str = "dense"
    description: str = "the policy's dense reward (splice quality, bar lines, length near 75 %)"
    supports_myopia: bool = field(default=False, init=False)

    def explain(self, song: SongAnalysis, actions: np.ndarray, myopia: float = 1.0) -> dict[str, float]:
        from rl_editor.policy.dense_reward import score_edit

        terms = score_edit(song, np.asarray(actions))
        return {k: float(v) for k, v in terms.items() if k != "total"}

    def raw_score(self, song: SongAnalysis, actions: np.ndarray, myopia: float = 1.0) -> float:
        from rl_editor.policy.dense_reward import score_edit

        return float(score_edit(song, np.asarray(actions))["total"])

    def _raw_from_terms(self, song: SongAnalysis, actions: np.ndarray, terms: dict[str, float], myopia: float) -> float:
        return float(sum(terms.values()))  # score_edit's total is the sum of its terms


def _criteria_taste(
    name: str, keep_share: float, width: float, description: str, signature: str | None = None, **weights: float
) -> CriteriaTaste:
    return CriteriaTaste(
        name=name,
        weights=weights,
        target_keep_share=keep_share,
        length_width=width,
        description=description,
        signature=signature,
    )


CONTENT_KEEP_SHARE = 0.75  # content tastes want the dense reward's default length: only what is kept differs
# a mean percentile of the played beats moves by about 0.1 between edits of one length, a share of a region by
# up to 1: weighted so that either outweighs a splice's quality, as what goes is what these listeners hear first
CONTENT_WEIGHT = {"energy": 12.0, "calm": 12.0, "melodic": 12.0}
CONTENT_SHARE_WEIGHT = 4.0


def _content_taste(name: str, description: str, **content: float) -> CriteriaTaste:
    """A taste at the default length that differs from the other content tastes only in what it keeps."""
    # length weighs enough that no gain in material pays for leaving the default length by more than ~0.1
    weights = {"length": 6.0, "smooth_splices": 1.0, "bar_aligned": 1.0, "no_repeats": 1.0}
    weights.update({k: CONTENT_WEIGHT.get(k, CONTENT_SHARE_WEIGHT) * v for k, v in content.items()})
    return CriteriaTaste(
        name=name,
        weights=weights,
        target_keep_share=CONTENT_KEEP_SHARE,
        length_width=0.12,
        description=description,
        signature=next(iter(content)),
    )


# name, target keep share, length width, description, criterion weights
TASTES: dict[str, Taste] = {
    taste.name: taste
    for taste in (
        DenseTaste(),
        _criteria_taste(
            "musician",
            0.6,
            0.12,
            "bar-aligned smooth cuts, keeps the strongest sections, about 60 % of the length, no stutters",
            "strong_kept",
            bar_aligned=3.0,
            smooth_splices=2.0,
            length=2.0,
            strong_kept=2.5,
            no_repeats=1.5,
        ),
        _criteria_taste(
            "radio",
            0.4,
            0.1,
            "short (about 40 % of the length) and chorus-heavy",
            "energy",
            length=2.5,
            energy=3.0,
            strong_kept=1.0,
            smooth_splices=1.0,
            bar_aligned=0.5,
        ),
        _criteria_taste(
            "purist",
            0.95,
            0.1,
            "keeps almost everything and hates any audible splice",
            "few_splices",
            length=2.0,
            worst_splice=3.0,
            few_splices=3.0,
            smooth_splices=1.0,
            no_repeats=1.0,
        ),
        _criteria_taste(
            "brief",
            0.45,
            0.2,
            "a short edit (about 45 % of the length) made of whole phrases, keeping the loudest sections, no stutters",
            "strong_kept",
            length=3.0,
            few_splices=2.0,
            strong_kept=2.0,
            no_repeats=2.0,
            bar_aligned=1.0,
        ),
        _criteria_taste(
            "complete",
            0.95,
            0.15,
            "nearly the whole song (about 95 %), only the weakest material trimmed, smoothly",
            "energy",
            length=3.0,
            smooth_splices=2.0,
            worst_splice=1.5,
            energy=1.0,
        ),
        _content_taste("energetic", "about 75 % of the song, keeping its loudest, busiest material", energy=1.0),
        _content_taste("background", "about 75 % of the song for background listening: the loudest parts go", calm=1.0),
        _content_taste(
            "cold_open",
            "about 75 % of the song, radio style: the intro goes, it starts where the song takes off",
            cold_start=1.0,
        ),
        _content_taste(
            "bookends",
            "about 75 % of the song, keeping the intro and the ending; the middle is trimmed",
            intro_kept=0.5,
            outro_kept=0.5,
        ),
        _content_taste(
            "first_takes", "about 75 % of the song: reprised sections go, first statements stay", first_occurrences=1.0
        ),
        _content_taste(
            "melodic", "about 75 % of the song, keeping the melodic material over the percussive", melodic=1.0
        ),
    )
}
CONTENT_TASTES: tuple[str, ...] = ("energetic", "background", "cold_open", "bookends", "first_takes", "melodic")
