"""Jump costs: how far the music after a jump differs from what would have followed.

An editor (or DJ) jumps between points that sound alike: leaving the song after
beat ``i`` and entering at beat ``j`` goes unheard when what follows ``j``
sounds like what would have followed ``i`` (beat ``i + 1`` on), and what led to
``i`` sounds like what led to ``j``. Wenner et al. ("Scalable Music:
Automatic Music Retargeting and Synthesis", Eurographics 2013) build their
jump graph on exactly this comparison of the music around the two points. Here
it is made from the per-beat features of a :class:`SongAnalysis` and its
structure (:mod:`rl_editor.audio.structure`), so it needs no audio:

- ``timbre``: cosine distance of the z-scored MFCC means (without c0) over the
  bar after ``j`` and the bar after ``i`` (and over the bars before), mapped to [0, 1];
- ``harmony``: cosine distance of the chroma means over the same spans;
- ``loudness``: ``1 - exp(-|dB difference| / 6)`` of the same spans;
- ``label``: 1 when ``j`` lies in a section with another label than the one
  ``i + 1`` lies in (a jump from a verse into a chorus where a verse would
  go on is heard as a change of section);
- ``position``: 1 when ``j`` sits at another place in its section, counted
  in bars modulo 4, than ``i + 1`` does (the 4-bar phrase position).

``cost`` is their weighted mean (``JumpCostConfig``), 0 for the natural
continuation ``j = i + 1``. Per-beat tables are computed once per analysis
(``analysis.derived``), after which a cost is a few dot products, so a whole
(phrases x phrases) grid costs milliseconds.

Example
-------
>>> costs = jump_cost(analysis, exit_beats, entry_beats)  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from rl_editor.audio.feature_layout import GROUP_SLICES, feature_index
from rl_editor.audio.song import SongAnalysis
from rl_editor.audio.structure import song_structure

JUMPS_VERSION = "2"
LOUDNESS_SCALE_DB = 6.0


@dataclass(frozen=True)
class JumpCostConfig:
    """Weights of the jump-cost components (any scale; they are normalised to sum to 1).

    Attributes
    ----------
    timbre, harmony, loudness, label, position : float
        Weight of each component (see the module docstring).
    context_bars : int
        Bars compared on each side of the jump.
    """

    timbre: float = 0.3
    harmony: float = 0.3
    loudness: float = 0.15
    label: float = 0.15
    position: float = 0.1
    context_bars: int = 1

    def weights(self) -> dict[str, float]:
        names = [f.name for f in fields(self) if f.name != "context_bars"]
        total = sum(getattr(self, name) for name in names)
        return {name: getattr(self, name) / total for name in names}


@dataclass(frozen=True)
class JumpCosts:
    """Per-jump components in [0, 1] (0: sounds like the continuation), arrays of one shape."""

    timbre: np.ndarray
    harmony: np.ndarray
    loudness: np.ndarray
    label: np.ndarray
    position: np.ndarray
    config: JumpCostConfig

    @property
    def cost(self) -> np.ndarray:
        """Weighted mean of the components, in [0, 1]."""
        return sum(w * getattr(self, name) for name, w in self.config.weights().items())


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-8)


def _window_means(per_beat: np.ndarray, width: int, *, ahead: bool) -> np.ndarray:
    """Row ``b``: mean of rows ``b .. b + width - 1`` (``ahead``) or ``b - width + 1 .. b``, clipped to the song."""
    n = len(per_beat)
    cumulative = np.concatenate([np.zeros((1,) + per_beat.shape[1:]), np.cumsum(per_beat, axis=0)])
    b = np.arange(n)
    lo, hi = (b, np.minimum(b + width, n)) if ahead else (np.maximum(b - width + 1, 0), b + 1)
    means: np.ndarray = (cumulative[hi] - cumulative[lo]) / (hi - lo).reshape((-1,) + (1,) * (per_beat.ndim - 1))
    return means


def jump_tables(analysis: SongAnalysis, context_bars: int = 1) -> dict[str, np.ndarray]:
    """Per-beat context tables the costs are read from, computed once per analysis.

    Returns
    -------
    dict
        ``ahead_*`` / ``behind_*`` (timbre and harmony unit rows, loudness in dB)
        over the ``context_bars`` bars from each beat on / up to it;
        ``label`` (section label index of each beat) and ``bar_position``
        (bars since its section started, modulo 4).
    """

    def compute() -> dict[str, np.ndarray]:
        feats = analysis.features.astype(np.float64)
        mfcc = feats[:, GROUP_SLICES["mfcc_mean"]][:, 1:]
        mfcc = (mfcc - mfcc.mean(axis=0)) / (mfcc.std(axis=0) + 1e-6)
        chroma = np.maximum(feats[:, GROUP_SLICES["chroma_mean"]], 0.0)
        loudness = feats[:, feature_index("rms_mean_db")]
        width = max(int(context_bars * analysis.beats_per_bar), 1)
        structure = song_structure(analysis)
        beat = np.arange(analysis.n_beats)
        section = np.searchsorted(structure.section_start_beats, beat, side="right") - 1
        names = sorted(set(structure.section_labels))
        label = np.array([names.index(structure.section_labels[s]) for s in section], dtype=np.int64)
        bar = np.searchsorted(structure.bar_start_beats, beat, side="right") - 1
        section_bar = np.searchsorted(structure.bar_start_beats, structure.section_start_beats)
        tables = {"label": label, "bar_position": (bar - section_bar[section]) % 4}
        for side, ahead in (("ahead", True), ("behind", False)):
            tables[f"{side}_timbre"] = _unit_rows(_window_means(mfcc, width, ahead=ahead))
            tables[f"{side}_harmony"] = _unit_rows(_window_means(chroma, width, ahead=ahead))
            tables[f"{side}_loudness"] = _window_means(loudness, width, ahead=ahead)
        return tables

    return analysis.derived(("jump_tables", JUMPS_VERSION, context_bars), compute)


def jump_components(
    analysis: SongAnalysis, exit_beats: np.ndarray, entry_beats: np.ndarray, config: JumpCostConfig | None = None
) -> JumpCosts:
    """Components of jumping from the end of ``exit_beats[k]`` to the start of ``entry_beats[k]``.

    Parameters
    ----------
    analysis : SongAnalysis
    exit_beats, entry_beats : array of int, same shape
        Last beat played before each jump, first beat played after it.
    config : JumpCostConfig, optional

    Returns
    -------
    JumpCosts
        Arrays of the inputs' shape; ``.cost`` is their weighted mean.
    """
    config = config or JumpCostConfig()
    t = jump_tables(analysis, config.context_bars)
    n = analysis.n_beats
    i = np.asarray(exit_beats, dtype=np.int64)
    j = np.asarray(entry_beats, dtype=np.int64)
    after_i = np.minimum(i + 1, n - 1)
    before_j = np.maximum(j - 1, 0)

    def distance(name: str) -> np.ndarray:
        ahead = np.einsum("...d,...d->...", t[f"ahead_{name}"][j], t[f"ahead_{name}"][after_i])
        behind = np.einsum("...d,...d->...", t[f"behind_{name}"][i], t[f"behind_{name}"][before_j])
        return 0.5 * ((1.0 - ahead) + (1.0 - behind))

    loud_gap = 0.5 * (
        np.abs(t["ahead_loudness"][j] - t["ahead_loudness"][after_i])
        + np.abs(t["behind_loudness"][i] - t["behind_loudness"][before_j])
    )
    return JumpCosts(
        timbre=np.clip(0.5 * distance("timbre"), 0.0, 1.0),
        harmony=np.clip(distance("harmony"), 0.0, 1.0),
        loudness=1.0 - np.exp(-loud_gap / LOUDNESS_SCALE_DB),
        label=(t["label"][j] != t["label"][after_i]).astype(np.float64),
        position=(t["bar_position"][j] != t["bar_position"][after_i]).astype(np.float64),
        config=config,
    )


def jump_cost(
    analysis: SongAnalysis, exit_beats: np.ndarray, entry_beats: np.ndarray, config: JumpCostConfig | None = None
) -> np.ndarray:
    """Cost in [0, 1] of each jump (0: the music goes on as it would have); see :func:`jump_components`."""
    return jump_components(analysis, exit_beats, entry_beats, config).cost


def seam_cost(analysis: SongAnalysis, exit_beats: np.ndarray, entry_beats: np.ndarray) -> np.ndarray:
    """How much more a jump changes the sound at its seam than the song does from beat to beat.

    What the listener hears across the seam is the exit beat's tail (its last
    232 ms) followed by the entry beat's head (its first 232 ms):
    ``SongAnalysis.beat_edges``. The cost is the mean over timbre (Euclidean
    distance of the MFCCs, c0 included, so level counts) and harmony (cosine
    distance of the chroma) of ``log(change / median change across the song's
    own beat boundaries)``. 0 is as smooth as the song's median boundary; the
    natural continuation scores what its own boundary does.

    Parameters
    ----------
    analysis : SongAnalysis
    exit_beats, entry_beats : array of int, same shape
        Last beat played before each jump, first beat played after it.

    Returns
    -------
    ndarray of float, the inputs' shape
    """

    def compute() -> dict[str, np.ndarray]:
        edges = analysis.beat_edges.astype(np.float64)
        n_mfcc = GROUP_SLICES["mfcc_mean"].stop - GROUP_SLICES["mfcc_mean"].start
        heads, tails = edges[:, 0], edges[:, 1]
        tables = {
            "head_mfcc": heads[:, :n_mfcc],
            "tail_mfcc": tails[:, :n_mfcc],
            "head_chroma": _unit_rows(np.maximum(heads[:, n_mfcc:], 0.0)),
            "tail_chroma": _unit_rows(np.maximum(tails[:, n_mfcc:], 0.0)),
        }
        natural_timbre = np.linalg.norm(tables["head_mfcc"][1:] - tables["tail_mfcc"][:-1], axis=1)
        natural_harmony = 1.0 - np.einsum("ij,ij->i", tables["head_chroma"][1:], tables["tail_chroma"][:-1])
        tables["timbre_scale"] = np.array(max(float(np.median(natural_timbre)), 1e-6))
        tables["harmony_scale"] = np.array(max(float(np.median(natural_harmony)), 1e-6))
        return tables

    t = analysis.derived(("seam_tables", JUMPS_VERSION), compute)
    i = np.asarray(exit_beats, dtype=np.int64)
    j = np.asarray(entry_beats, dtype=np.int64)
    timbre = np.linalg.norm(t["head_mfcc"][j] - t["tail_mfcc"][i], axis=-1) / t["timbre_scale"]
    harmony = (1.0 - np.einsum("...d,...d->...", t["head_chroma"][j], t["tail_chroma"][i])) / t["harmony_scale"]
    cost: np.ndarray = 0.5 * (np.log(np.maximum(timbre, 1e-3)) + np.log(np.maximum(harmony, 1e-3)))
    return cost


JUMP_WEIGHT_IN_SPLICE_COST = 0.5


def splice_point_cost(analysis: SongAnalysis, exit_beats: np.ndarray, entry_beats: np.ndarray) -> np.ndarray:
    """What choosing between splice points minimises: :func:`seam_cost` plus half :func:`jump_cost`.

    The seam says how abrupt the change is where the two sides meet, the jump
    cost whether the music then goes on as it would have (the bar after the
    entry against the bar that would have followed, its section and phrase
    position). The seam, measured on each beat's edges, weighs most: it is
    what a listener hears at the splice.
    """
    cost: np.ndarray = seam_cost(analysis, exit_beats, entry_beats) + JUMP_WEIGHT_IN_SPLICE_COST * jump_cost(
        analysis, exit_beats, entry_beats
    )
    return cost


__all__ = [
    "JumpCostConfig",
    "JumpCosts",
    "jump_components",
    "jump_cost",
    "jump_tables",
    "seam_cost",
    "splice_point_cost",
]
