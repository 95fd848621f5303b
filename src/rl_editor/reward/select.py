"""Choose which pairs to ask raters about: those the reward ensemble is least sure of.

Every pair of candidates of the same song is a possible question. Its priority
is either

- ``"disagreement"`` (default): the standard deviation over ensemble members of
  P(A beats B) = sigmoid(scale * (score_a - score_b)); or
- ``"bald"``: the expected information gain about the model (BALD), entropy
  of the members' mean outcome distribution (A, B, tie) minus the mean of the
  members' entropies.

``rl-editor select-pairs`` writes the ranking as JSON
``[{"song_id", "edit_a", "edit_b", "score"}]`` (edit ids), which the feedback
server's ``rl-editor tasks prioritize --ranking FILE`` uses to order its queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.special import expit

from rl_editor.audio.song import SongAnalysis
from rl_editor.config import config_to_json
from rl_editor.errors import RlEditorError
from rl_editor.generate.manifest import Candidate, Manifest, SongEntry
from rl_editor.io_utils import write_json_atomic
from rl_editor.reward.model import RewardEnsemble, davidson_probabilities

METHODS = ("disagreement", "bald")


class PairSelectionError(RlEditorError):
    """Candidates or settings pair selection cannot use."""


@dataclass
class RankedPair:
    """One question to ask: two candidate edits of a song, and how useful the answer would be."""

    song_id: str
    edit_a: str
    edit_b: str
    score: float


def pair_uncertainty(
    member_scores: np.ndarray,
    index_a: np.ndarray,
    index_b: np.ndarray,
    ensemble: RewardEnsemble,
    method: str = "disagreement",
) -> np.ndarray:
    """Priority of each pair ``(index_a[k], index_b[k])`` given members' scores (n_members, n_edits)."""
    if method not in METHODS:
        raise PairSelectionError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    gaps = member_scores[:, index_a] - member_scores[:, index_b]
    if method == "disagreement":
        p_a = expit(ensemble.calibration.scale * gaps)
        return p_a.std(axis=0)
    probs = davidson_probabilities(gaps, ensemble.calibration)  # (members, pairs, 3)

    def entropy(p: np.ndarray) -> np.ndarray:
        return -(p * np.log(np.clip(p, 1e-12, 1.0))).sum(axis=-1)

    return entropy(probs.mean(axis=0)) - entropy(probs).mean(axis=0)


def rank_song_pairs(
    analysis: SongAnalysis, actions: np.ndarray, ensemble: RewardEnsemble, method: str = "disagreement"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs ``i < j`` of one song's candidate edits with their priority.

    Returns
    -------
    index_a, index_b, score : ndarray
        Candidate indices and priorities, unsorted.
    """
    scores = ensemble.member_scores(analysis, actions)
    index_a, index_b = np.triu_indices(len(actions), k=1)
    return index_a, index_b, pair_uncertainty(scores, index_a, index_b, ensemble, method)


def spread_top(ranked: Sequence[RankedPair], budget: int | None, max_per_edit: int | None) -> list[RankedPair]:
    """The first ``budget`` pairs of ``ranked`` (best first) using no edit more than ``max_per_edit`` times.

    Without a cap, a batch of questions tends to pile onto the one or two
    edits the ensemble is most confused about; spreading them asks about more
    of the candidates per round. Pairs skipped for the cap go after the others.
    """
    if max_per_edit is None:
        return list(ranked) if budget is None else list(ranked[:budget])
    used: dict[tuple[str, str], int] = {}
    chosen, deferred = [], []
    for pair in ranked:
        key_a, key_b = (pair.song_id, pair.edit_a), (pair.song_id, pair.edit_b)
        if used.get(key_a, 0) < max_per_edit and used.get(key_b, 0) < max_per_edit:
            chosen.append(pair)
            used[key_a] = used.get(key_a, 0) + 1
            used[key_b] = used.get(key_b, 0) + 1
        else:
            deferred.append(pair)
    ordered = chosen + deferred
    return ordered if budget is None else ordered[:budget]


def select_pairs(
    manifest: Manifest,
    ensemble: RewardEnsemble,
    budget: int | None,
    analyses: dict[str, SongAnalysis] | None = None,
    method: str = "disagreement",
    exclude: Sequence[tuple[str, str]] = (),
    max_per_edit: int | None = None,
) -> list[RankedPair]:
    """Rank candidate pairs of every song of a manifest, most useful first.

    Parameters
    ----------
    manifest : Manifest
    ensemble : RewardEnsemble
    budget : int or None
        How many pairs to return (None: all).
    analyses : dict of song_id -> SongAnalysis, optional
        Analyses of the manifest's songs; analysed from their audio otherwise.
    method : str
        ``"disagreement"`` or ``"bald"`` (module docstring).
    exclude : sequence of (edit_id, edit_id)
        Pairs already judged, in either order.
    max_per_edit : int, optional
        Use no candidate in more than this many of the top pairs (:func:`spread_top`).

    Returns
    -------
    list of RankedPair
    """
    if budget is not None and budget < 0:
        raise PairSelectionError(f"budget must be non-negative, got {budget}")
    skip = {frozenset(p) for p in exclude}
    ranked: list[RankedPair] = []
    for entry in manifest.songs:
        if len(entry.candidates) < 2:
            continue
        if analyses is not None and entry.song_id in analyses:
            analysis = analyses[entry.song_id]
        else:
            from rl_editor.audio import analyze_song

            analysis = analyze_song(manifest.resolve(entry.song), song_id=entry.song_id)
        lengths = {len(c.actions) for c in entry.candidates}
        if lengths != {analysis.n_beats}:
            raise PairSelectionError(
                f"{manifest.path}: song {entry.song_id!r} has candidates with {sorted(lengths)} actions but "
                f"{analysis.n_beats} beats; regenerate the candidates for this analysis"
            )
        actions = np.asarray([c.actions for c in entry.candidates], dtype=np.int8)
        index_a, index_b, score = rank_song_pairs(analysis, actions, ensemble, method)
        for a, b, s in zip(index_a, index_b, score):
            ids = (entry.candidates[a].edit_id, entry.candidates[b].edit_id)
            if frozenset(ids) in skip:
                continue
            ranked.append(RankedPair(entry.song_id, ids[0], ids[1], float(s)))
    ranked.sort(key=lambda p: p.score, reverse=True)
    return spread_top(ranked, budget, max_per_edit)


def choose_informative_pairs(
    manifest: Manifest,
    ensemble: RewardEnsemble,
    n_pairs: int | None,
    analyses: dict[str, SongAnalysis],
    rng: np.random.Generator,
    method: str = "disagreement",
    min_differing_s: float = 0.0,
    max_per_edit: int | None = None,
    random_share: float = 0.5,
) -> list:
    """Pairs to ask about: each song's most uncertain audible pairs mixed with random ones, songs taking turns.

    Within a song, pairs are ranked by the ensemble's uncertainty (``method``)
    and spread over its candidates (no candidate in more than ``max_per_edit``
    pairs before the others have had theirs, :func:`spread_top`); pairs whose
    audio differs for ``min_differing_s`` seconds or less are never asked.
    ``random_share`` of each song's questions are random pairs instead: an
    ensemble that agrees confidently can agree on the wrong thing (a bootstrap
    model trained on the dense reward is sure about lengths a rater may judge
    the other way), and only questions it did not choose can show that.
    Songs then take turns, so every song gets questions (diversity across
    songs), as with random pairs (:func:`rl_editor.raters.synth.choose_pairs`).

    Returns
    -------
    list of (SongEntry, Candidate, Candidate)
        In asking order, the side shown as A random.
    """
    from rl_editor.raters.synth import audible_pairs, interleave_songs

    pools: list[list[tuple[SongEntry, Candidate, Candidate]]] = []
    for entry in manifest.songs:
        analysis = analyses[entry.song_id]
        candidates = audible_pairs(entry, analysis.beat_durations_s, min_differing_s)
        if not candidates:
            pools.append([])
            continue
        index = {c.edit_id: k for k, c in enumerate(entry.candidates)}
        actions = np.asarray([c.actions for c in entry.candidates], dtype=np.int8)
        scores = ensemble.member_scores(analysis, actions)
        ia = np.array([index[a.edit_id] for _, a, _ in candidates])
        ib = np.array([index[b.edit_id] for _, _, b in candidates])
        priority = pair_uncertainty(scores, ia, ib, ensemble, method)
        order = np.argsort(-priority, kind="stable")
        ranked_pairs = [
            RankedPair(entry.song_id, candidates[k][1].edit_id, candidates[k][2].edit_id, float(priority[k]))
            for k in order
        ]
        by_ids = {(c[1].edit_id, c[2].edit_id): c for c in candidates}
        informative = [by_ids[(r.edit_a, r.edit_b)] for r in spread_top(ranked_pairs, None, max_per_edit)]
        shuffled = [candidates[k] for k in rng.permutation(len(candidates))]
        pools.append(list(reversed(_mix(informative, shuffled, random_share, rng))))  # consumed from the end
    return interleave_songs(pools, n_pairs, rng)


def _mix(informative: list, shuffled: list, random_share: float, rng: np.random.Generator) -> list:
    """One asking order of the same pairs: each next question is a random one with probability
    ``random_share``, else the most informative one not asked yet."""
    sources, positions = (informative, shuffled), [0, 0]
    order: list = []
    asked: set = set()
    while len(order) < len(informative):
        k = int(rng.random() < random_share)
        source = sources[k]
        while positions[k] < len(source) and _key(source[positions[k]]) in asked:
            positions[k] += 1
        if positions[k] == len(source):
            k = 1 - k
            continue
        pair = source[positions[k]]
        asked.add(_key(pair))
        order.append(pair)
    return order


def _key(pair: tuple) -> tuple[str, str]:
    return pair[1].edit_id, pair[2].edit_id


def save_ranking(path: str | Path, ranked: Sequence[RankedPair]) -> Path:
    """Write the ranking JSON atomically."""
    return write_json_atomic(path, [config_to_json(p) for p in ranked], indent=1)
