"""Figures of a reward model on judged pairs: calibration, accuracy, likelihood, and the split by song."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from rl_editor.formats import Strength
from rl_editor.reward.losses import OUTCOME_TIE, davidson_log_probabilities
from rl_editor.reward.model import Calibration, davidson_probabilities


def fit_calibration(gaps: np.ndarray, outcomes: np.ndarray, init: Calibration | None = None) -> Calibration:
    """Fit the Davidson ``scale`` and tie propensity to gaps and outcomes by maximum likelihood."""
    gaps_t = torch.as_tensor(np.asarray(gaps, dtype=np.float32))
    out_t = torch.as_tensor(np.asarray(outcomes)).long()
    init = init or Calibration()

    # Bounded parameters (log scale in (-7, 7), log nu in (-10, 5)): separable data, where every
    # outcome follows the gap's sign, or data without a single tie, would send them to infinity.
    def to_free(value: float, low: float, high: float) -> float:
        inside = (min(max(value, low + 1e-3), high - 1e-3) - low) / (high - low)
        return math.log(inside / (1.0 - inside))

    def bounded(free: torch.Tensor, low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.sigmoid(free)

    scale_free = torch.tensor(to_free(math.log(max(init.scale, 1e-3)), -7.0, 7.0), requires_grad=True)
    nu_free = torch.tensor(to_free(float(init.log_nu), -10.0, 5.0), requires_grad=True)
    opt = torch.optim.LBFGS([scale_free, nu_free], max_iter=50, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        log_scale = bounded(scale_free, -7.0, 7.0)
        logp = davidson_log_probabilities(gaps_t * log_scale.exp(), bounded(nu_free, -10.0, 5.0))
        loss = -logp.gather(1, out_t[:, None]).mean() + 1e-3 * log_scale**2
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        log_scale, log_nu = bounded(scale_free, -7.0, 7.0), bounded(nu_free, -10.0, 5.0)
    return Calibration(scale=float(log_scale.exp().clamp(1e-3, 1e3)), log_nu=float(log_nu))


def preference_metrics(
    gaps: np.ndarray, outcomes: np.ndarray, strengths: np.ndarray, calibration: Calibration, n_bins: int = 10
) -> dict[str, Any]:
    """Figures of a reward model's score gaps on judged pairs (training or validation split).

    Returns
    -------
    dict
        ``accuracy`` (non-tie pairs, a zero gap counts half), ``log_likelihood``
        (mean log-probability of the observed outcome, ties included),
        ``accuracy_by_strength`` ({1, 2, 3} -> accuracy), ``ece`` (expected
        calibration error of P(A beats B | no tie) over ``n_bins`` bins), ``n``.
    """
    gaps = np.asarray(gaps, dtype=np.float64)
    outcomes = np.asarray(outcomes)
    strengths = np.asarray(strengths)
    probs = davidson_probabilities(gaps, calibration)
    loglik = float(np.mean(np.log(probs[np.arange(len(gaps)), outcomes] + 1e-12))) if len(gaps) else float("nan")
    decided = outcomes != OUTCOME_TIE
    sign = np.where(outcomes[decided] == 0, 1.0, -1.0)
    correct = np.where(gaps[decided] == 0, 0.5, (np.sign(gaps[decided]) == sign).astype(float))
    by_strength = {
        int(s): float(correct[strengths[decided] == s].mean()) for s in Strength if np.any(strengths[decided] == s)
    }
    p_a = probs[decided, 0] / (probs[decided, 0] + probs[decided, 1])
    confidence = np.maximum(p_a, 1 - p_a)
    hit = ((p_a >= 0.5) == (sign > 0)).astype(float)
    ece = 0.0
    bins = np.minimum(((confidence - 0.5) * 2 * n_bins).astype(int), n_bins - 1)
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            ece += in_bin.mean() * abs(hit[in_bin].mean() - confidence[in_bin].mean())
    return {
        "accuracy": float(correct.mean()) if correct.size else float("nan"),
        "log_likelihood": loglik,
        "accuracy_by_strength": by_strength,
        "ece": float(ece),
        "n": int(len(gaps)),
    }


def split_by_song(song_ids: Sequence[str] | np.ndarray, val_frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of training and validation pairs; validation songs get about ``val_frac`` of the pairs."""
    song_ids = np.asarray(song_ids)
    all_idx = np.arange(len(song_ids))
    songs = sorted(set(song_ids.tolist()))
    if val_frac <= 0 or len(songs) < 2:
        return all_idx, all_idx[:0]
    rng = np.random.default_rng(seed)
    order = rng.permutation(songs)
    target = val_frac * len(song_ids)
    val_songs: list[str] = []
    held = 0
    for song in order[:-1]:  # always leave one song to train on
        if held >= target:
            break
        val_songs.append(song)
        held += int(np.sum(song_ids == song))
    is_val = np.isin(song_ids, val_songs)
    return all_idx[~is_val], all_idx[is_val]
