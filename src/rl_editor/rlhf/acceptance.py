"""Keep a fine-tuned policy only where the learned reward is confident it improves on its start.

Fine-tuning changes two things: the policy's weights (which material goes) and
its preferred length (:func:`~rl_editor.rlhf.finetune.preferred_length`). Once a
first iteration has moved the length where the raters want it, later ones
often have little left to gain, and a change the reward model merely guesses
at is as likely to lose as to win with people. So each combination of
{previous, new} weights and {previous, new} length is scored on the training
songs by every member of the reward ensemble, as a gain over the previous
policy in units of the spread of all scores of each song, and a change is
kept only when the lower confidence bound of its gain is above zero: the mean
over members and songs, less ``confidence`` standard errors from both the
members' disagreement and the song-to-song spread. This is safe policy
improvement (Thomas et al. 2015, "High-Confidence Policy Improvement"; Laroche
et al. 2019, "Safe Policy Improvement with Baseline Bootstrapping") with the
reward ensemble as the estimate; the winner is the combination with the
highest bound, and the previous policy when none is above zero.

The decision and every combination's figures go into the checkpoint's metrics
(``acceptance``), and the loop and its report say when a policy was kept.

Example
-------
>>> decision = choose_improvement(reference, trainer, ensemble, songs, previous_target=0.74,  # doctest: +SKIP
...                               new_target=0.5)
>>> decision.weights, decision.target, decision.changed
('new', 0.5, True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rl_editor.audio.song import SongAnalysis
from rl_editor.config import config_to_json
from rl_editor.rlhf.finetune import song_seeds

ACCEPT_TEMPERATURES: tuple[float, ...] = (0.3, 0.5, 0.7)


@dataclass(frozen=True)
class Combination:
    """One candidate policy: which weights, which length, and its predicted gain over the previous policy.

    Attributes
    ----------
    weights : str
        ``"previous"``, ``"new"`` (after PPO) or ``"distilled"`` (after best-of-N distillation alone).
    target : float
        Preferred length (share of the song).
    gain : float
        Mean gain over members and songs, in units of the spread of all scores of a song.
    lower_bound : float
        ``gain`` less ``confidence`` standard errors.
    """

    weights: str
    target: float
    gain: float
    lower_bound: float


@dataclass(frozen=True)
class Acceptance:
    """What fine-tuning keeps: the chosen weights and length, and every combination's figures."""

    weights: str
    target: float
    previous_target: float
    confidence: float
    combinations: tuple[Combination, ...]

    @property
    def changed(self) -> bool:
        return self.weights != "previous" or abs(self.target - self.previous_target) > 1e-9

    def summary(self) -> str:
        """One line: what was kept and why."""
        return acceptance_text(self.record())

    def record(self) -> dict[str, Any]:
        """The decision as the checkpoint's metrics keep it (``acceptance``): the fields plus ``changed``."""
        return {**config_to_json(self), "changed": self.changed}


def recorded_acceptance(policy_path: str | Path) -> dict[str, Any] | None:
    """The decision a fine-tuned policy checkpoint recorded (:meth:`Acceptance.record`), or None when the file
    is missing or fine-tuning did not check (an iteration-1 policy, ``safe_improvement`` off)."""
    from rl_editor.registry import load_model_file

    if not Path(policy_path).is_file():
        return None
    recorded: dict[str, Any] | None = load_model_file(policy_path)[1].metrics.get("acceptance")
    return recorded or None


def best_change(acceptance: dict[str, Any]) -> dict[str, Any] | None:
    """The change with the highest lower bound in an :meth:`Acceptance.record`: the one kept, or, when the
    previous policy stayed, the best one refused (None when there was nothing to change)."""
    options = [
        c
        for c in acceptance["combinations"]
        if (c["weights"], c["target"]) != ("previous", acceptance["previous_target"])
    ]
    return max(options, key=lambda c: c["lower_bound"], default=None)


def acceptance_text(acceptance: dict[str, Any]) -> str:
    """One line from an :meth:`Acceptance.record` (as a checkpoint's metrics keep it)."""
    best = best_change(acceptance)
    if best is None:
        return "kept the previous policy (nothing to compare)"
    figures = f"gain {best['gain']:+.2f}, lower bound {best['lower_bound']:+.2f}"
    if not acceptance["changed"]:
        return (
            f"kept the previous policy: no change is confidently better by the reward model (best: "
            f"{best['weights']} weights at length {best['target']:.2f}, {figures})"
        )
    return (
        f"kept the {acceptance['weights']} weights at length {acceptance['target']:.2f} "
        f"(previous length {acceptance['previous_target']:.2f}): {figures}"
    )


def _member_means(
    policy: Any, ensemble: Any, song: SongAnalysis, target: float, seeds: Sequence[int], temperatures: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Per member, the mean score of the policy's edits of one song (one per seed and temperature, in pairs);
    and every score, shape (members, edits)."""
    edits = np.stack(policy.generate_edits(song, list(temperatures), list(seeds), [target] * len(seeds)))
    scores = np.asarray(ensemble.member_scores(song, edits), dtype=np.float64)
    return scores.mean(axis=1), scores


def lower_bound_of_gain(gains: np.ndarray, confidence: float) -> tuple[float, float]:
    """Mean and lower bound of per-(member, song) gains, shape (members, songs).

    The standard error adds the members' disagreement (spread of the members'
    song-averaged gains) and the songs' spread (of the member-averaged gains over
    the square root of the number of songs).
    """
    gains = np.asarray(gains, dtype=np.float64)
    mean = float(gains.mean())
    member_spread = float(gains.mean(axis=1).std(ddof=1)) if gains.shape[0] > 1 else 0.0
    song_error = float(gains.mean(axis=0).std(ddof=1) / np.sqrt(gains.shape[1])) if gains.shape[1] > 1 else 0.0
    return mean, mean - confidence * float(np.hypot(member_spread, song_error))


def choose_improvement(
    reference: Any,
    trainer: Any,
    ensemble: Any,
    songs: Sequence[SongAnalysis],
    *,
    previous_target: float,
    new_target: float,
    confidence: float = 0.5,
    edits_per_temperature: int = 4,
    temperatures: Sequence[float] = ACCEPT_TEMPERATURES,
    seed: int = 0,
    others: Mapping[str, Any] | None = None,
) -> Acceptance:
    """Score {previous, new, others'} weights × {previous, new} length against the previous policy; keep the best
    sure gain.

    Parameters
    ----------
    reference, trainer : PPOTrainer
        The policy fine-tuning started from, and the fine-tuned one (``"new"``).
    others : mapping of str to PPOTrainer, optional
        Further candidate weights by name (fine-tuning offers ``"distilled"``, its policy before PPO).
    ensemble : RewardEnsemble
        Anything with ``member_scores(analysis, actions_batch) -> (members, batch)``.
    songs : sequence of SongAnalysis
        Songs to score on (the training songs).
    previous_target, new_target : float
        The previous policy's length and the one fine-tuning chose.
    confidence : float
        Standard errors below the mean gain the lower bound sits (0 keeps any mean gain).
    edits_per_temperature : int
        Edits sampled per song and temperature for each combination (the same seeds for all).
    """
    n_edits = edits_per_temperature * len(temperatures)
    policies = {"previous": reference, "new": trainer, **(others or {})}
    options = [(weights, target) for weights in policies for target in (previous_target, new_target)]
    options = list(dict.fromkeys(options))  # the same length twice is one option
    gains: dict[tuple[str, float], list[np.ndarray]] = {o: [] for o in options[1:]}
    for song in songs:
        seeds = song_seeds(f"accept|{song.song_id}", n_edits, seed)
        temps = [t for t in temperatures for _ in range(edits_per_temperature)]
        means, scores = {}, []
        for weights, target in options:
            policy = policies[weights]
            means[weights, target], every = _member_means(policy, ensemble, song, target, seeds, temps)
            scores.append(every)
        # one unit per song: the spread of every score of this song (members, edits and options)
        spread = float(np.concatenate(scores, axis=1).std()) + 1e-9
        for option in options[1:]:
            gains[option].append((means[option] - means[options[0]]) / spread)
    combinations = [Combination("previous", previous_target, 0.0, 0.0)]
    for (weights, target), per_song in gains.items():
        gain, bound = lower_bound_of_gain(np.stack(per_song, axis=1), confidence)
        combinations.append(Combination(weights, target, gain, bound))
    best = max(combinations[1:], key=lambda c: c.lower_bound, default=combinations[0])
    chosen = best if best.lower_bound > 0 else combinations[0]
    return Acceptance(chosen.weights, chosen.target, previous_target, confidence, tuple(combinations))


__all__ = [
    "ACCEPT_TEMPERATURES",
    "Acceptance",
    "Combination",
    "acceptance_text",
    "best_change",
    "choose_improvement",
    "lower_bound_of_gain",
    "recorded_acceptance",
]
