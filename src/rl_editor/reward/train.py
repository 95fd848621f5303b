"""Train a reward ensemble on judged pairs.

Songs for the pairs are found, in order: in ``analyses`` when given (keyed by
``song_id``); else from the pair's ``song_path`` extra key (absolute, or
relative to ``config.manifest``'s folder, else to ``config.base_dir``, which
``rl-editor train-reward`` sets to the preference file's folder); else from the
manifest's entry for the ``song_id``. Each song is analysed once (cached).

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
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from rl_editor.audio.song import SongAnalysis
from rl_editor.errors import RlEditorError
from rl_editor.io_utils import read_json
from rl_editor.preferences import PreferencePair
from rl_editor.registry import ModelMeta, new_version, sha256_of_json
from rl_editor.reward.features import CONTEXT_DIM, edit_context, play_counts
from rl_editor.reward.losses import (
    DEFAULT_STRENGTH_WEIGHTS,
    LOSSES,
    OUTCOME_TIE,
    bradley_terry_loss,
    davidson_log_probabilities,
    mse_margin_loss,
    ordinal_loss,
    pair_outcome,
)
from rl_editor.reward.model import Calibration, LearnedRewardModel, RewardEnsemble, davidson_probabilities


class RewardTrainingError(RlEditorError):
    """Preference data or settings the reward trainer cannot use."""


@dataclass
class RewardTrainConfig:
    """Every knob of reward training; CLI flags map one to one.

    Attributes
    ----------
    epochs : int
        Passes over the training pairs per member.
    loss : str
        ``"bt-ordinal"`` (default: Rao-Kupper with strength thresholds; in
        ``benchmarks/bench_reward_sample_efficiency.py`` the best on unseen songs
        at 200 pairs, level with ``mse-margin`` at 500),
        ``"bt"`` (Davidson Bradley-Terry with strength weights) or
        ``"mse-margin"`` (the pipeline design's v8 regression); see
        :mod:`rl_editor.reward.losses`.
    val_frac : float
        Share of songs (hence pairs) set aside for validation (used for early
        stopping, so not a test set); 0 disables it.
    members : int
        Ensemble size.
    hidden : int
        Width of each member's layers.
    lr, weight_decay : float
        Adam settings.
    batch_size : int
        Pairs per gradient step.
    patience : int
        Epochs without a better validation log-likelihood before a member stops.
    bootstrap : bool
        Resample training pairs with replacement per member.
    strength_weights : tuple of float
        Weight of a pair of strength 1, 2, 3 in the ``bt`` loss.
    rater_weights : dict, optional
        ``{rater: weight}``; raters not listed weigh 1, weight 0 drops a rater.
    manifest : str, optional
        Manifest used to find songs of pairs.
    base_dir : str, optional
        Folder that relative ``song_path`` keys are relative to.
    seed : int
    progress : bool
        Show tqdm bars (song analysis, training) and per-epoch validation lines, on stderr.
    """

    epochs: int = 20
    loss: str = "bt-ordinal"
    val_frac: float = 0.2
    members: int = 5
    hidden: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    batch_size: int = 128
    patience: int = 5
    bootstrap: bool = True
    strength_weights: tuple[float, float, float] = DEFAULT_STRENGTH_WEIGHTS
    rater_weights: dict[str, float] | None = None
    manifest: str | None = None
    base_dir: str | None = None
    seed: int = 0
    progress: bool = False


@dataclass
class TrainReport:
    """What training did: the split, each member's best epoch, per-epoch history and final figures.

    ``val_*`` is the validation split, which also chose each member's best
    epoch (early stopping); it is not an untouched test set.
    """

    n_train: int
    n_val: int
    train_songs: list[str]
    val_songs: list[str]
    best_epochs: list[int]
    history: list[dict[str, Any]] = field(default_factory=list)
    train_metrics: dict[str, Any] = field(default_factory=dict)
    val_metrics: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- data


def resolve_analyses(pairs: Sequence[PreferencePair], config: RewardTrainConfig) -> dict[str, SongAnalysis]:
    """Analyse each song the pairs refer to (see the module docstring for where songs are looked up)."""
    from rl_editor.audio import analyze_song

    manifest = None
    if config.manifest:
        from rl_editor.generate.manifest import Manifest

        manifest = Manifest.load(config.manifest)
    base = Path(config.base_dir) if config.base_dir else Path.cwd()
    paths: dict[str, Path] = {}
    for index, pair in enumerate(pairs):
        if pair.song_id in paths:
            continue
        song_path = pair.extra.get("song_path")
        if song_path:
            path = Path(song_path)
            if not path.is_absolute():
                path = (manifest.root if manifest else base) / path
        elif manifest is not None:
            path = manifest.resolve(manifest.song(pair.song_id).song)
        else:
            raise RewardTrainingError(
                f"entry {index} (song {pair.song_id!r}): no song_path key and no manifest; "
                "pass --manifest so the song's audio can be found"
            )
        if not path.is_file():
            raise RewardTrainingError(f"entry {index}: song file {path} not found")
        paths[pair.song_id] = path
    songs = tqdm(paths.items(), desc="analysing songs", unit="song", disable=not config.progress, file=sys.stderr)
    return {song_id: analyze_song(path, song_id=song_id) for song_id, path in songs}


@dataclass
class PairData:
    """Pairs as tensors: every edit indexes the rows of one table of all songs' beats."""

    beat_table: torch.Tensor  # (n_total_beats, 125)
    beat_index: torch.Tensor  # (n_edits, max_beats) rows of beat_table
    beat_weight: torch.Tensor  # (n_edits, max_beats) play counts, 0 for padding
    context: torch.Tensor  # (n_edits, C)
    n_source: torch.Tensor  # (n_edits, 1) beats of the edit's song
    edit_a: torch.Tensor  # (n_pairs,) edit rows
    edit_b: torch.Tensor
    outcome: torch.Tensor
    strength: torch.Tensor
    signed_strength: torch.Tensor
    weight: torch.Tensor  # rater weight times the judgment's own weight
    song_ids: list[str]  # per pair


def build_pair_data(pairs: Sequence[PreferencePair], analyses: dict[str, SongAnalysis],
                    rater_weights: dict[str, float] | None = None) -> PairData:
    """Turn pairs into tensors (contexts computed per song in one batch)."""
    songs = sorted({p.song_id for p in pairs})
    missing = [s for s in songs if s not in analyses]
    if missing:
        raise RewardTrainingError(f"no analysis for song {missing[0]!r}; pass it in analyses or give its song_path")
    offsets, start = {}, 0
    for s in songs:
        offsets[s] = start
        start += analyses[s].n_beats
    beat_table = torch.from_numpy(np.concatenate([analyses[s].features for s in songs]))
    max_beats = max(analyses[s].n_beats for s in songs)

    by_song: dict[str, list[tuple[int, list[int]]]] = {}
    for index, pair in enumerate(pairs):
        n = analyses[pair.song_id].n_beats
        for side, ref in (("edit_a", pair.edit_a), ("edit_b", pair.edit_b)):
            if len(ref.actions) != n:
                raise RewardTrainingError(
                    f"entry {index}.{side}.actions: {len(ref.actions)} actions but song {pair.song_id!r} "
                    f"has {n} beats; the pair was made for another analysis of the song"
                )
            by_song.setdefault(pair.song_id, []).append((2 * index + (side == "edit_b"), ref.actions))

    n_edits = 2 * len(pairs)
    beat_index = torch.zeros(n_edits, max_beats, dtype=torch.long)
    beat_weight = torch.zeros(n_edits, max_beats)
    context = torch.zeros(n_edits, CONTEXT_DIM)
    n_source = torch.ones(n_edits, 1)
    for song_id, items in by_song.items():
        rows = torch.tensor([r for r, _ in items])
        actions = np.asarray([a for _, a in items], dtype=np.int8)
        n = actions.shape[1]
        beat_index[rows, :n] = offsets[song_id] + torch.arange(n)
        beat_weight[rows, :n] = torch.from_numpy(play_counts(actions))
        context[rows] = torch.from_numpy(edit_context(analyses[song_id], actions))
        n_source[rows] = float(n)
    weights = rater_weights or {}
    return PairData(
        beat_table=beat_table,
        beat_index=beat_index,
        beat_weight=beat_weight,
        context=context,
        n_source=n_source,
        edit_a=torch.arange(0, n_edits, 2),
        edit_b=torch.arange(1, n_edits, 2),
        outcome=torch.tensor([pair_outcome(p) for p in pairs]),
        strength=torch.tensor([p.strength for p in pairs]),
        signed_strength=torch.tensor([p.signed_strength for p in pairs], dtype=torch.float32),
        weight=torch.tensor([float(weights.get(p.rater, 1.0)) * p.weight for p in pairs], dtype=torch.float32),
        song_ids=[p.song_id for p in pairs],
    )


def edit_scores(model: LearnedRewardModel, data: PairData, edits: torch.Tensor) -> torch.Tensor:
    """Scores of the given edit rows of ``data`` (with gradients).

    Every beat of every song is embedded once per call; each edit's play
    counts are scattered into a (batch, all beats) matrix so pooling is one
    matrix product, whatever songs the batch mixes.
    """
    h_all, logits_all = model.encode_beats(data.beat_table)
    counts = torch.zeros(len(edits), data.beat_table.shape[0])
    counts.scatter_add_(1, data.beat_index[edits], data.beat_weight[edits])
    logits = logits_all.expand_as(counts).masked_fill(counts <= 0, -1e9)
    return model.head_score(model.pool(h_all, logits, counts, data.n_source[edits]), data.context[edits])


def pair_gaps(model: LearnedRewardModel, data: PairData, pairs: torch.Tensor) -> torch.Tensor:
    """``score_a - score_b`` for the given pair rows."""
    scores = edit_scores(model, data, torch.cat([data.edit_a[pairs], data.edit_b[pairs]]))
    return scores[: len(pairs)] - scores[len(pairs):]


# ---------------------------------------------------------------- metrics


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


def preference_metrics(gaps: np.ndarray, outcomes: np.ndarray, strengths: np.ndarray,
                       calibration: Calibration, n_bins: int = 10) -> dict[str, Any]:
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
        int(s): float(correct[strengths[decided] == s].mean())
        for s in (1, 2, 3) if np.any(strengths[decided] == s)
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


# ---------------------------------------------------------------- training


def _member_loss(model: LearnedRewardModel, loss_params: torch.Tensor, data: PairData, batch: torch.Tensor,
                 weights: torch.Tensor, config: RewardTrainConfig) -> torch.Tensor:
    gap = pair_gaps(model, data, batch)
    if config.loss == "bt":
        return bradley_terry_loss(gap, data.outcome[batch], data.strength[batch], loss_params, weights,
                                  config.strength_weights)
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
            batch = torch.as_tensor(order[start:start + config.batch_size], dtype=torch.long)
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
            metrics = preference_metrics(_gaps(model, data, val_rows), outcomes[val_rows], strengths[val_rows], calibration)
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
    bar = tqdm(total=config.members * config.epochs, desc="train reward", unit="epoch", disable=not config.progress,
               file=sys.stderr)
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

        best_epochs.append(_train_member(model, loss_params, data, train_rows, val_rows, weights, config, seed, on_epoch))
        members.append(model)
        davidson_log_nus.append(loss_params[0].item() if config.loss == "bt" else -1.0)
        bar.total = bar.n + (config.members - k - 1) * config.epochs
        bar.refresh()
    bar.close()

    ensemble = RewardEnsemble(members)
    mean_gaps = np.mean([_gaps(m, data, np.arange(len(pairs))) for m in members], axis=0)
    outcomes, strengths = data.outcome.numpy(), data.strength.numpy()
    ensemble.calibration = fit_calibration(mean_gaps[train_rows], outcomes[train_rows],
                                           Calibration(1.0, float(np.mean(davidson_log_nus))))
    report = TrainReport(
        n_train=int(len(train_rows)), n_val=int(len(val_rows)), train_songs=train_songs, val_songs=val_songs,
        best_epochs=best_epochs, history=history,
        train_metrics=preference_metrics(mean_gaps[train_rows], outcomes[train_rows], strengths[train_rows],
                                         ensemble.calibration),
        val_metrics=(preference_metrics(mean_gaps[val_rows], outcomes[val_rows], strengths[val_rows],
                                        ensemble.calibration) if len(val_rows) else {}),
    )
    return ensemble, report


def format_epoch_line(line: dict[str, Any], config: RewardTrainConfig) -> str:
    """One human-readable line per member epoch."""
    text = f"member {line['member']}/{config.members} epoch {line['epoch']:>2}/{config.epochs} loss {line['loss']:.4f}"
    if "val_accuracy" in line:
        text += (f"  val acc {line['val_accuracy']:.3f} ll {line['val_log_likelihood']:.3f} "
                 f"ece {line['val_ece']:.3f} by strength "
                 + " ".join(f"{s}:{a:.2f}" for s, a in line["val_accuracy_by_strength"].items()))
    return text


def reward_meta(pairs: Sequence[PreferencePair], config: RewardTrainConfig, report: TrainReport,
                init: RewardEnsemble | None = None, source: str = "pairs",
                file_sha256: str | None = None) -> ModelMeta:
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
        metrics={"val": report.val_metrics, "train": report.train_metrics, "n_train": report.n_train,
                 "n_val": report.n_val, "val_songs": report.val_songs, "best_epochs": report.best_epochs},
        config={k: v for k, v in asdict(config).items() if k != "progress"},
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
