"""The learned reward model: a score for a whole edit, and an ensemble that says how sure it is.

``LearnedRewardModel`` embeds each played beat's 125 features with a small MLP,
pools the embeddings (count-weighted mean and attention), appends the edit's
statistics (:mod:`rl_editor.reward.features`) and maps that to one score:
``model(features, context)``, where ``features`` is the played-beat sequence,
shape (n_beats, 125) or (batch, n_beats, 125), as the pipeline design calls
it. Without ``context`` (an edit known only as audio) the model scores the
beats alone and marks the context as missing.

``RewardEnsemble`` holds several members (bootstrap resamples, different
seeds); ``score`` returns their mean and standard deviation. It embeds a
song's beats once and pools them with how often each edit plays them, which
gives the same number as the played-beat sequence and scores thousands of
edits per second. :func:`davidson_probabilities` turns score gaps into
tie-aware (Davidson) outcome probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rl_editor.audio.feature_layout import FEATURE_DIM
from rl_editor.audio.song import SongAnalysis
from rl_editor.errors import RlEditorError
from rl_editor.registry import ModelMeta, load_model_file, save_model_file
from rl_editor.reward.features import CONTEXT_DIM, CONTEXT_NAMES, edit_context, play_counts

SCORE_CHUNK = 4096
CONTEXT_STD_FLOOR = 0.05  # edit statistics are shares, rates and logs of order 0.1-10
CONTEXT_Z_LIMIT = 5.0  # standardised edit statistics are clipped here: edits unlike any trained on are not extrapolated


class RewardModelError(RlEditorError):
    """A reward model or its input that cannot be used."""


@dataclass
class RewardModelConfig:
    """Shape of one ensemble member."""

    input_dim: int = FEATURE_DIM
    context_dim: int = CONTEXT_DIM
    hidden: int = 64


class LearnedRewardModel(nn.Module):
    """Score an edit from its played beats' features and its edit statistics.

    Parameters
    ----------
    input_dim : int
        Per-beat feature size (125).
    context_dim : int
        Size of the edit-statistics vector (``features.CONTEXT_DIM``).
    hidden : int
        Width of the beat embedding and of the head.
    """

    # input statistics, registered as buffers in __init__
    feature_mean: torch.Tensor
    feature_std: torch.Tensor
    context_mean: torch.Tensor
    context_std: torch.Tensor

    def __init__(self, input_dim: int = FEATURE_DIM, context_dim: int = CONTEXT_DIM, hidden: int = 64) -> None:
        super().__init__()
        self.config = RewardModelConfig(input_dim, context_dim, hidden)
        self.register_buffer("feature_mean", torch.zeros(input_dim))
        self.register_buffer("feature_std", torch.ones(input_dim))
        self.register_buffer("context_mean", torch.zeros(context_dim))
        self.register_buffer("context_std", torch.ones(context_dim))
        self.beat_encoder = nn.Sequential(nn.Linear(input_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.attention = nn.Linear(hidden, 1)
        self.head = nn.Sequential(nn.Linear(3 * hidden + context_dim + 1, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def set_normalization(self, features: np.ndarray, contexts: np.ndarray) -> None:
        """Standardise inputs with statistics of the training data (kept in the state dict)."""
        for name, data in (("feature", features), ("context", contexts)):
            rows = torch.as_tensor(np.asarray(data, dtype=np.float32))
            getattr(self, f"{name}_mean").copy_(rows.mean(dim=0))
            # an edit statistic that barely varies in the training edits (every candidate kept the intro) must
            # not turn a new edit's ordinary value into a z-score in the hundreds
            floor = CONTEXT_STD_FLOOR if name == "context" else 1e-3
            getattr(self, f"{name}_std").copy_(rows.std(dim=0).clamp_min(floor))

    def encode_beats(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings (..., hidden) and attention logits (...) of beat feature rows (..., 125)."""
        h = self.beat_encoder((features - self.feature_mean) / self.feature_std)
        return h, self.attention(h).squeeze(-1)

    def head_score(self, pooled: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        """Scores (batch,) from pooled beat embeddings (batch, 3*hidden) and raw context (batch, C)."""
        batch = pooled.shape[0]
        if context is None:
            ctx = torch.zeros(batch, self.config.context_dim, dtype=pooled.dtype)
            has = torch.zeros(batch, 1, dtype=pooled.dtype)
        else:
            ctx = ((context - self.context_mean) / self.context_std).clamp(-CONTEXT_Z_LIMIT, CONTEXT_Z_LIMIT)
            has = torch.ones(batch, 1, dtype=pooled.dtype)
        return self.head(torch.cat([pooled, ctx, has], dim=1)).squeeze(-1)

    @staticmethod
    def pool(
        h: torch.Tensor, logits: torch.Tensor, weights: torch.Tensor, n_source: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Count-weighted mean, attention and coverage pooling over the beat axis.

        ``h`` (batch, L, H) or (L, H) shared by the batch, ``logits`` matching,
        ``weights`` (batch, L) play counts (0 for padding), ``n_source`` (batch, 1)
        beats of the source song (coverage = sum over played beats / n_source, so
        "how much of the strong material is still there" is visible).
        Returns (batch, 3H).
        """
        total = weights.sum(dim=1, keepdim=True).clamp_min(1e-6)
        logits = logits.masked_fill(weights <= 0, -1e9)
        shifted = logits - logits.max(dim=-1, keepdim=True).values.detach()
        attn = weights * torch.exp(shifted)
        attn = attn / attn.sum(dim=1, keepdim=True).clamp_min(1e-12)
        n_source = total if n_source is None else n_source
        if h.dim() == 2:
            summed = weights @ h
            return torch.cat([summed / total, attn @ h, summed / n_source], dim=1)
        summed = torch.einsum("bl,blh->bh", weights, h)
        return torch.cat([summed / total, torch.einsum("bl,blh->bh", attn, h), summed / n_source], dim=1)

    def forward(
        self,
        features: torch.Tensor,
        context: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Score played-beat sequences.

        Parameters
        ----------
        features : Tensor or ndarray, shape (n_beats, 125) or (batch, n_beats, 125)
            Features of the beats in playback order (e.g. ``extract_features``
            of an edit's audio, or ``analysis.features[beat_sequence]``).
        context : Tensor, shape (C,) or (batch, C), optional
            Edit statistics from :func:`~rl_editor.reward.features.edit_context`.
        mask : Tensor, shape (batch, n_beats), optional
            1 for real beats, 0 for padding.

        Returns
        -------
        Tensor, shape () or (batch,)
        """
        features = torch.as_tensor(features)
        if context is not None:
            context = torch.as_tensor(context, dtype=self.context_mean.dtype)
        single = features.dim() == 2
        if single:
            features = features.unsqueeze(0)
            context = None if context is None else context.reshape(1, -1)
        features = features.to(self.feature_mean.dtype)
        weights = torch.ones(features.shape[:2]) if mask is None else mask.to(features.dtype)
        h, logits = self.encode_beats(features)
        logits = logits.masked_fill(weights <= 0, -1e9)
        n_source = None
        if context is not None:
            # the context knows what share of the song is played: recover the song's beat count
            plays_per_beat = (
                context[:, CONTEXT_NAMES.index("keep_share")] + 2 * context[:, CONTEXT_NAMES.index("repeat_share")]
            )
            n_source = (weights.sum(dim=1) / plays_per_beat.clamp_min(1e-6))[:, None]
        score = self.head_score(self.pool(h, logits, weights, n_source), context)
        return score[0] if single else score


@dataclass
class Calibration:
    """Maps a score gap to outcome probabilities (Davidson model with ties).

    ``P(a) = e^{d/2} / Z``, ``P(b) = e^{-d/2} / Z``, ``P(tie) = nu / Z`` with
    ``d = scale * (score_a - score_b)``, ``Z`` the sum of the three.
    """

    scale: float = 1.0
    log_nu: float = -1.0


def davidson_probabilities(gap: np.ndarray, calibration: Calibration) -> np.ndarray:
    """Shape (..., 3): probabilities of A wins, B wins, tie for score gaps ``score_a - score_b``."""
    d = calibration.scale * np.asarray(gap, dtype=np.float64)
    logits = np.stack([d / 2, -d / 2, np.full_like(d, calibration.log_nu)], axis=-1)
    logits -= logits.max(axis=-1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=-1, keepdims=True)


class RewardEnsemble:
    """Several reward models whose spread is the uncertainty of a score.

    Parameters
    ----------
    members : list of LearnedRewardModel
    calibration : Calibration
        How score gaps turn into probabilities (fitted after training).
    meta : ModelMeta, optional
        Version, parent, training data and held-out metrics once saved or loaded.
    """

    def __init__(
        self,
        members: Sequence[LearnedRewardModel],
        calibration: Calibration | None = None,
        meta: ModelMeta | None = None,
    ) -> None:
        if not members:
            raise RewardModelError("an ensemble needs at least one member")
        self.members = list(members)
        self.calibration = calibration or Calibration()
        self.meta = meta
        self._song_cache: dict[int, tuple[SongAnalysis, torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self.members)

    @property
    def version(self) -> str | None:
        return None if self.meta is None else self.meta.version

    def _song_table(self, analysis: SongAnalysis) -> torch.Tensor:
        """Per-beat table whose product with play counts gives every member's pooled sums.

        Columns per member: the beat embeddings ``h`` (H), ``exp(logit) * h`` (H)
        and ``exp(logit)`` (1); mean, coverage and attention pooling are all
        linear in the counts given these, so scoring a batch is one matrix product.
        """
        hit = self._song_cache.get(id(analysis))
        if hit is not None and hit[0] is analysis:
            return hit[1]
        feats = torch.from_numpy(analysis.features)
        parts = []
        with torch.no_grad():
            for member in self.members:
                h, logits = member.encode_beats(feats)
                weight = torch.exp(logits - logits.max())
                parts += [h, weight[:, None] * h, weight[:, None]]
        table = torch.cat(parts, dim=1)
        if len(self._song_cache) >= 256:
            self._song_cache.pop(next(iter(self._song_cache)))
        self._song_cache[id(analysis)] = (analysis, table)
        return table

    def member_scores(self, analysis: SongAnalysis, actions_batch: np.ndarray | Sequence[Sequence[int]]) -> np.ndarray:
        """Shape (n_members, batch): every member's score of every edit of one song."""
        actions_batch = np.atleast_2d(np.asarray(actions_batch))
        if actions_batch.shape[1] != analysis.n_beats:
            raise RewardModelError(
                f"edits have {actions_batch.shape[1]} actions but song {analysis.song_id!r} has "
                f"{analysis.n_beats} beats; score edits with the analysis of their own song"
            )
        table = self._song_table(analysis)
        out = np.empty((len(self.members), actions_batch.shape[0]), dtype=np.float32)
        with torch.no_grad():
            for start in range(0, actions_batch.shape[0], SCORE_CHUNK):
                chunk = actions_batch[start : start + SCORE_CHUNK]
                counts = torch.from_numpy(play_counts(chunk))
                context = torch.from_numpy(edit_context(analysis, chunk))
                sums = counts @ table
                total = counts.sum(dim=1, keepdim=True).clamp_min(1e-6)
                col = 0
                for k, member in enumerate(self.members):
                    hidden = member.config.hidden
                    summed = sums[:, col : col + hidden]
                    attended = sums[:, col + hidden : col + 2 * hidden]
                    norm = sums[:, col + 2 * hidden : col + 2 * hidden + 1].clamp_min(1e-12)
                    col += 2 * hidden + 1
                    pooled = torch.cat([summed / total, attended / norm, summed / analysis.n_beats], dim=1)
                    out[k, start : start + len(chunk)] = member.head_score(pooled, context).numpy()
        return out

    def score(
        self, analysis: SongAnalysis, actions_batch: np.ndarray | Sequence[Sequence[int]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation over members of each edit's score, both shape (batch,)."""
        scores = self.member_scores(analysis, actions_batch)
        return scores.mean(axis=0), scores.std(axis=0)

    def score_features(self, features: np.ndarray, context: np.ndarray | None = None) -> tuple[float, float]:
        """Mean and std of the members' scores of one played-beat sequence (n_beats, 125)."""
        x = torch.as_tensor(np.asarray(features, dtype=np.float32))
        c = None if context is None else torch.as_tensor(np.asarray(context, dtype=np.float32))
        with torch.no_grad():
            scores = np.array([float(m(x, c)) for m in self.members])
        return float(scores.mean()), float(scores.std())

    def score_audio_file(self, path: str | Path, song: SongAnalysis | str | Path | None = None) -> tuple[float, float]:
        """Score an edit known only as an audio file.

        With ``song`` (the original's analysis, whose ``path`` must still hold
        the audio, or the original's audio path) the edit's played source beats
        are recovered and the edit is scored exactly like ``score(song, actions)``:
        from the waveform when the edit is a sample-exact render of the song
        (:func:`~rl_editor.audio.align.align_rendered_edit`), else by aligning
        the edit's analysed beats to the song's (:func:`~rl_editor.audio.align.align_to_song`).
        Without ``song``, the edit's own analysed beats are scored without edit
        statistics, a coarser figure.

        Returns
        -------
        (mean, std) : tuple of float
        """
        from rl_editor.audio import analyze_song, load_audio
        from rl_editor.audio.align import align_rendered_edit, align_to_song
        from rl_editor.edit import sequence_counts

        if song is None:
            return self.score_features(analyze_song(path).features)
        original = song if isinstance(song, SongAnalysis) else analyze_song(song)
        sequence = None
        if Path(original.path).is_file():
            edit_clip, source_clip = load_audio(path), load_audio(original.path)
            if edit_clip.sample_rate == source_clip.sample_rate:
                sequence = align_rendered_edit(edit_clip.samples, source_clip.samples, edit_clip.sample_rate, original)
        if sequence is None:
            sequence = align_to_song(analyze_song(path).features, original)
        actions = sequence_counts(original.n_beats, sequence)
        mean, std = self.score(original, actions[None, :])
        return float(mean[0]), float(std[0])

    def state(self) -> dict[str, Any]:
        return {
            "model_config": asdict(self.members[0].config),
            "members": [m.state_dict() for m in self.members],
            "calibration": asdict(self.calibration),
        }

    def save(self, path: str | Path, meta: ModelMeta) -> Path:
        """Write the ensemble as one registry model file (kind ``"reward"``)."""
        if meta.kind != "reward":
            raise RewardModelError(f"reward models are saved with kind 'reward', not {meta.kind!r}")
        self.meta = meta
        return save_model_file(path, self.state(), meta)

    @classmethod
    def from_state(cls, state: dict[str, Any], meta: ModelMeta | None = None) -> RewardEnsemble:
        config = RewardModelConfig(**state["model_config"])
        members = []
        for sd in state["members"]:
            member = LearnedRewardModel(config.input_dim, config.context_dim, config.hidden)
            member.load_state_dict(sd)
            member.eval()
            members.append(member)
        return cls(members, Calibration(**state["calibration"]), meta)


def load_reward_model(path: str | Path) -> RewardEnsemble:
    """Read a reward model file written by :meth:`RewardEnsemble.save` (or ``rl-editor train-reward``)."""
    state, meta = load_model_file(path, kind="reward")
    config = state.get("model_config", {}) if isinstance(state, dict) else {}
    if config.get("context_dim") != CONTEXT_DIM or config.get("input_dim") != FEATURE_DIM:
        raise RewardModelError(
            f"{path}: made for {config.get('input_dim')} beat features and {config.get('context_dim')} edit "
            f"statistics, this version computes {FEATURE_DIM} and {CONTEXT_DIM}; retrain it with rl-editor train-reward"
        )
    try:
        return RewardEnsemble.from_state(state, meta)
    except (KeyError, TypeError, RuntimeError) as exc:
        raise RewardModelError(f"{path}: reward model state is damaged or from another layout ({exc})") from None
