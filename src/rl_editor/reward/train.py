"""Train a reward ensemble on judged pairs.

Songs for the pairs are found as :mod:`rl_editor.reward.pair_data` says (in
``analyses``, else from the pair's ``song_path``, else from the manifest).
Settings and the report live in :mod:`rl_editor.reward.train_config`, the
figures in :mod:`rl_editor.reward.metrics`; their names are importable from
here too.

Validation pairs are split off by song (no song on both sides), so the
figures say how the model does on songs it never trained on. Each member
trains on a bootstrap resample of the training pairs with its own seed, stops
early on the validation log-likelihood and keeps its best epoch. Because the
validation split chooses the epoch, its figures are slightly optimistic: they
are validation figures (used for early stopping), not those of an untouched
test set.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from rl_editor.audio.song import SongAnalysis
from rl_editor.config import config_to_json
from rl_editor.io_utils import read_json
from rl_editor.preferences import PreferencePair
from rl_editor.registry import ModelMeta, new_version, sha256_of_json
from rl_editor.reward.losses import LOSSES, bradley_terry_loss, mse_margin_loss, ordinal_loss
from rl_editor.reward.metrics import fit_calibration, preference_metrics, split_by_song
from rl_editor.reward.model import Calibration, LearnedRewardModel, RewardEnsemble
from rl_editor.reward.pair_data import PairData, build_pair_data, edit_scores, pair_gaps, resolve_analyses
from rl_editor.reward.train_config import RewardTrainConfig, RewardTrainingError, TrainReport

__all__ = [
    "PairData",
    "RewardTrainConfig",
    "RewardTrainingError",
    "TrainReport",
    "build_pair_data",
    "edit_scores",
    "fit_calibration",
    "format_epoch_line",
    "load_rater_weights",
    "pair_gaps",
    "preference_metrics",
    "resolve_analyses",
    "reward_meta",
    "split_by_song",
    "train_reward_model",
]


# ---------------------------------------------------------------- training


def _member_loss(
    model: LearnedRewardModel,
    loss_params: torch.Tensor,
    data: PairData,
    batch: torch.Tensor,
    weights: torch.Tensor,
    config: RewardTrainConfig,
) -> torch.Tensor:
    gap = pair_gaps(model, data, batch)
    if config.loss == "bt":
        return bradley_terry_loss(
            gap, data.outcome[batch], data.strength[batch], loss_params, weights, config.strength_weights
        )
    if config.loss == "bt-ordinal":
        return ordinal_loss(gap, data.signed_strength[batch], loss_params, weights)
    return mse_margin_loss(gap, data.signed_strength[batch], weights)


def _gaps(model: LearnedRewardModel, data: PairData, rows: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return pair_gaps(model, data, torch.as_tensor(rows, dtype=torch.long)).numpy()


def _train_member(
    model: LearnedRewardModel,
    loss_params: torch.Tensor,
    data: PairData,
    train_rows: np.ndarray,
    val_rows: np.ndarray,
    pair_weights: np.ndarray,
    config: RewardTrainConfig,
    seed: int,
    on_epoch: Callable[[dict[str, Any]], None],
) -> int:
    """Train one member in place; returns its best epoch (weights restored to it)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    params = list(model.parameters()) + ([loss_params] if config.loss != "mse-margin" else [])
    opt = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    active = train_rows[pair_weights[train_rows] > 0]
    best_ll, best_epoch, best_state, stale = -np.inf, 0, None, 0
    outcomes = data.outcome.numpy()
    strengths = data.strength.numpy()
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = rng.permutation(active)
        total, count = 0.0, 0
        for start in range(0, len(order), config.batch_size):
            batch = torch.as_tensor(order[start : start + config.batch_size], dtype=torch.long)
            loss = _member_loss(model, loss_params, data, batch, torch.as_tensor(pair_weights[batch.numpy()]), config)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
            count += len(batch)
        model.eval()
        line: dict[str, Any] = {"epoch": epoch, "loss": total / max(count, 1)}
        if len(val_rows):
            calibration = fit_calibration(_gaps(model, data, train_rows), outcomes[train_rows])
            metrics = preference_metrics(
                _gaps(model, data, val_rows), outcomes[val_rows], strengths[val_rows], calibration
            )
            line.update({f"val_{k}": v for k, v in metrics.items()})
            score = metrics["log_likelihood"]
        else:
            score = -line["loss"]
        on_epoch(line)
        if score > best_ll + 1e-4:
            best_ll, best_epoch, stale = score, epoch, 0
            best_state = (copy.deepcopy(model.state_dict()), loss_params.detach().clone())
        else:
            stale += 1
            if stale >= config.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state[0])
        loss_params.data.copy_(best_state[1])
    return best_epoch


def train_reward_model(
    pairs: Sequence[PreferencePair],
    config: RewardTrainConfig | None = None,
    analyses: dict[str, SongAnalysis] | None = None,
    init: RewardEnsemble | None = None,
) -> tuple[RewardEnsemble, TrainReport]:
    """Train (or fine-tune) a reward ensemble on judged pairs.

    Parameters
    ----------
    pairs : list of PreferencePair
        Judgments; each side's ``actions`` must match its song's beat count.
    config : RewardTrainConfig
    analyses : dict of song_id -> SongAnalysis, optional
        Songs of the pairs; looked up from the pairs otherwise (module docstring).
    init : RewardEnsemble, optional
        Start from these members (fine-tuning); its input normalisation is kept.

    Returns
    -------
    ensemble : RewardEnsemble
        With ``meta`` unset; :func:`reward_meta` builds one for saving.
    report : TrainReport
    """
    config = config or RewardTrainConfig()
    if config.loss not in LOSSES:
        raise RewardTrainingError(f"loss must be one of {', '.join(LOSSES)}, got {config.loss!r}")
    if not pairs:
        raise RewardTrainingError("no preference pairs to train on")
    if config.members < 1 or config.epochs < 1:
        raise RewardTrainingError("members and epochs must be at least 1")
    if analyses is None:
        analyses = resolve_analyses(pairs, config)
    data = build_pair_data(pairs, analyses, config.rater_weights)
    train_rows, val_rows = split_by_song(data.song_ids, config.val_frac, config.seed)
    rater_w = data.weight.numpy()
    if not np.any(rater_w[train_rows] > 0):
        raise RewardTrainingError("every training pair has rater weight 0; check the rater weights file")
    train_songs = sorted({data.song_ids[i] for i in train_rows})
    val_songs = sorted({data.song_ids[i] for i in val_rows})
    train_beats = torch.cat([torch.from_numpy(analyses[s].features) for s in train_songs]).numpy()
    train_contexts = torch.cat([data.context[data.edit_a[train_rows]], data.context[data.edit_b[train_rows]]]).numpy()

    history: list[dict[str, Any]] = []
    members, best_epochs = [], []
    davidson_log_nus = []
    bar = tqdm(
        total=config.members * config.epochs,
        desc="train reward",
        unit="epoch",
        disable=not config.progress,
        file=sys.stderr,
    )
    for k in range(config.members):
        seed = config.seed * 1000 + k
        torch.manual_seed(seed)
        if init is not None:
            model = copy.deepcopy(init.members[k % len(init.members)])
        else:
            model = LearnedRewardModel(hidden=config.hidden)
            model.set_normalization(train_beats, train_contexts)
        # the loss's own parameters: Davidson's log tie propensity, or the ordinal thresholds
        loss_params = torch.tensor([-1.0] if config.loss != "bt-ordinal" else [-1.0, 0.0, 0.0], requires_grad=True)
        if init is not None and config.loss == "bt":
            loss_params.data.fill_(init.calibration.log_nu)
        weights = rater_w.copy()
        if config.bootstrap and config.members > 1:
            boot = np.random.default_rng(seed).choice(train_rows, size=len(train_rows), replace=True)
            counts = np.bincount(boot, minlength=len(weights)).astype(np.float32)
            weights = weights * counts
        weights = weights.astype(np.float32)

        def on_epoch(line: dict[str, Any], member: int = k) -> None:
            line = {"member": member + 1, **line}
            history.append(line)
            bar.update(1)
            if config.progress:
                bar.write(format_epoch_line(line, config), file=sys.stderr)

        best_epochs.append(
            _train_member(model, loss_params, data, train_rows, val_rows, weights, config, seed, on_epoch)
        )
        members.append(model)
        davidson_log_nus.append(loss_params[0].item() if config.loss == "bt" else -1.0)
        bar.total = bar.n + (config.members - k - 1) * config.epochs
        bar.refresh()
    bar.close()

    ensemble = RewardEnsemble(members)
    mean_gaps = np.mean([_gaps(m, data, np.arange(len(pairs))) for m in members], axis=0)
    outcomes, strengths = data.outcome.numpy(), data.strength.numpy()
    ensemble.calibration = fit_calibration(
        mean_gaps[train_rows], outcomes[train_rows], Calibration(1.0, float(np.mean(davidson_log_nus)))
    )
    report = TrainReport(
        n_train=int(len(train_rows)),
        n_val=int(len(val_rows)),
        train_songs=train_songs,
        val_songs=val_songs,
        best_epochs=best_epochs,
        history=history,
        train_metrics=preference_metrics(
            mean_gaps[train_rows], outcomes[train_rows], strengths[train_rows], ensemble.calibration
        ),
        val_metrics=(
            preference_metrics(mean_gaps[val_rows], outcomes[val_rows], strengths[val_rows], ensemble.calibration)
            if len(val_rows)
            else {}
        ),
    )
    return ensemble, report


def format_epoch_line(line: dict[str, Any], config: RewardTrainConfig) -> str:
    """One human-readable line per member epoch."""
    text = f"member {line['member']}/{config.members} epoch {line['epoch']:>2}/{config.epochs} loss {line['loss']:.4f}"
    if "val_accuracy" in line:
        text += (
            f"  val acc {line['val_accuracy']:.3f} ll {line['val_log_likelihood']:.3f} "
            f"ece {line['val_ece']:.3f} by strength "
            + " ".join(f"{s}:{a:.2f}" for s, a in line["val_accuracy_by_strength"].items())
        )
    return text


def reward_meta(
    pairs: Sequence[PreferencePair],
    config: RewardTrainConfig,
    report: TrainReport,
    init: RewardEnsemble | None = None,
    source: str = "pairs",
    file_sha256: str | None = None,
) -> ModelMeta:
    """Registry metadata: what the ensemble was trained on, its parent and validation figures (``metrics["val"]``).

    The validation split also chose each member's best epoch (early stopping).
    """
    return ModelMeta(
        kind="reward",
        version=new_version("reward"),
        parent=None if init is None else init.version,
        trained_on={
            "source": source,
            "sha256": file_sha256 or sha256_of_json([p.to_json() for p in pairs]),
            "count": len(pairs),
            "raters": sorted({p.rater for p in pairs}),
            "songs": sorted({p.song_id for p in pairs}),
        },
        metrics={
            "val": report.val_metrics,
            "train": report.train_metrics,
            "n_train": report.n_train,
            "n_val": report.n_val,
            "val_songs": report.val_songs,
            "best_epochs": report.best_epochs,
        },
        config={k: v for k, v in config_to_json(config).items() if k != "progress"},
    )


def load_rater_weights(path: str | Path) -> dict[str, float]:
    """Read ``{rater: weight}`` JSON; weights must be non-negative numbers."""
    path = Path(path)
    data = read_json(path, RewardTrainingError, "rater weights file")
    if not isinstance(data, dict):
        raise RewardTrainingError(f"{path}: must hold a JSON object {{rater: weight}}")
    for rater, weight in data.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise RewardTrainingError(f"{path}: weight of rater {rater!r} must be a non-negative number")
    return {str(k): float(v) for k, v in data.items()}
