"""Judged pairs as tensors for reward training, and the songs they refer to.

Songs for the pairs are found, in order: in ``analyses`` when given (keyed by
``song_id``); else from the pair's ``song_path`` extra key (absolute, or
relative to ``config.manifest``'s folder, else to ``config.base_dir``, which
``rl-editor train-reward`` sets to the preference file's folder); else from the
manifest's entry for the ``song_id``. Each song is analysed once (cached).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rl_editor.audio.song import SongAnalysis
from rl_editor.preferences import PreferencePair
from rl_editor.reward.features import CONTEXT_DIM, edit_context, play_counts
from rl_editor.reward.losses import pair_outcome
from rl_editor.reward.model import LearnedRewardModel
from rl_editor.reward.train_config import RewardTrainConfig, RewardTrainingError


def resolve_analyses(pairs: Sequence[PreferencePair], config: RewardTrainConfig) -> dict[str, SongAnalysis]:
    """Analyse each song the pairs refer to (see the module docstring for where songs are looked up)."""
    from rl_editor.audio.load import load_songs

    manifest = None
    if config.manifest:
        from rl_editor.generate.manifest import Manifest

        manifest = Manifest.load(config.manifest)
    base = Path(config.base_dir) if config.base_dir else Path.cwd()
    paths: dict[str, Path] = {}
    for index, pair in enumerate(pairs):
        if pair.song_id in paths:
            continue
        song_path = pair.song_path
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
    return dict(zip(paths, load_songs(paths.items(), progress=config.progress), strict=True))


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
    weight: torch.Tensor  # rater weights
    song_ids: list[str]  # per pair


def build_pair_data(
    pairs: Sequence[PreferencePair], analyses: dict[str, SongAnalysis], rater_weights: dict[str, float] | None = None
) -> PairData:
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
    return scores[: len(pairs)] - scores[len(pairs) :]
