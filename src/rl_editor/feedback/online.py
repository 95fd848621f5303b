"""Online pair selection: while a campaign runs, ask first about the pairs the reward ensemble is least sure of.

Every ``every_judgments`` new judgments in the campaign, a reward ensemble is
retrained on the campaign's judgments so far (:func:`rl_editor.reward.train_reward_model`)
and the campaign's pairs that still need votes are reordered by its
uncertainty, with the loop's own chooser
(:func:`rl_editor.reward.select.choose_informative_pairs`: ensemble
disagreement or BALD, spread over candidates, mixed with a share of random
pairs, songs taking turns). The order becomes the tasks' ``priority``, which
``/api/next`` follows (highest first).

It runs in a background thread of the server (``rl-editor serve
--online-selection K``, :class:`OnlineSelection`) or once on demand
(``rl-editor tasks prioritize --reward-model FILE`` or ``--retrain``,
:func:`prioritize_campaign`). Songs are analysed once per process (and from
the analysis cache on disk).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rl_editor.feedback.settings import DEFAULT_CAMPAIGN
from rl_editor.feedback.store.errors import FeedbackError
from rl_editor.generate.manifest import Candidate, Manifest, SongEntry

if TYPE_CHECKING:
    from rl_editor.audio.song import SongAnalysis
    from rl_editor.feedback.storage import FeedbackStore
    from rl_editor.reward.model import RewardEnsemble

LOG = logging.getLogger("rl_editor.feedback")


@dataclass
class OnlineSelectionConfig:
    """How the open pairs of a campaign are reordered (``serve``/``tasks prioritize`` flags map one to one).

    Attributes
    ----------
    campaign : str
        The campaign whose pairs are reordered.
    every_judgments : int
        Retrain and reorder after this many new judgments (the server's ``K``).
    method : str
        ``"disagreement"`` or ``"bald"`` (:mod:`rl_editor.reward.select`).
    random_share : float
        Share of questions that are random pairs instead of the most uncertain ones.
    max_per_edit : int or None
        Spread the most uncertain pairs: no candidate in more than this many before the others.
    min_differing_s : float
        Never ask first about pairs whose audio differs for this many seconds or less.
    min_pairs : int
        Judged pairs needed before an ensemble is trained (fewer: the order is left as it is).
    members, epochs : int
        Ensemble size and training epochs per member.
    seed : int
        Seed of training and of the random share.
    poll_seconds : float
        How often the background thread counts the campaign's judgments.
    """

    campaign: str = DEFAULT_CAMPAIGN
    every_judgments: int = 25
    method: str = "disagreement"
    random_share: float = 0.2
    max_per_edit: int | None = 2
    min_differing_s: float = 0.0
    min_pairs: int = 10
    members: int = 3
    epochs: int = 20
    seed: int = 0
    poll_seconds: float = 2.0


def registered_songs(store: FeedbackStore, song_ids: set[str], what: str) -> dict[str, SongEntry]:
    """Manifest entries (no candidates) of registered songs: ``song`` is the absolute audio path.

    Raises :class:`FeedbackError` (starting with ``what``) for a song without registered audio.
    """
    from sqlalchemy import select

    from rl_editor.feedback.models import SongRecord

    with store.transaction(readonly=True) as session:
        rows = session.scalars(select(SongRecord).where(SongRecord.song_id.in_(sorted(song_ids)))).all()
    entries = {
        r.song_id: SongEntry(
            song=r.audio_path,
            song_id=r.song_id,
            duration_seconds=float(r.duration_seconds),
            beats=json.loads(r.beats_json),
            downbeats=json.loads(r.downbeats_json),
        )
        for r in rows
    }
    missing = sorted(song_ids - set(entries))
    if missing:
        raise FeedbackError(
            f"{what}: song {missing[0]!r} has no registered audio; register its manifest "
            "(rl-editor tasks create --manifest) first"
        )
    return entries


def campaign_manifest(store: FeedbackStore, campaign: str) -> tuple[Manifest, set[frozenset[str]]]:
    """The songs and edits of a campaign's pairs that still need votes, as a manifest (from the database),
    and those pairs (each a set of two edit ids)."""
    from sqlalchemy import select

    from rl_editor.feedback.models import EditRecord, Task

    with store.transaction(readonly=True) as session:
        tasks = session.execute(
            select(Task.edit_a, Task.edit_b).where(
                Task.campaign == campaign,
                Task.kind == "pair",
                Task.is_gold.is_(False),
                Task.n_assigned < Task.target_raters,
            )
        ).all()
        edit_ids = sorted({t.edit_a for t in tasks} | {t.edit_b for t in tasks if t.edit_b})
        edits = session.scalars(
            select(EditRecord).where(EditRecord.edit_id.in_(edit_ids)).order_by(EditRecord.edit_id)
        ).all()
    by_song: dict[str, list[Candidate]] = {}
    for edit in edits:
        by_song.setdefault(edit.song_id, []).append(
            Candidate(
                edit_id=edit.edit_id,
                temperature=0.0,
                path=edit.path,
                duration=float(edit.duration_seconds),
                actions=[int(a) for a in json.loads(edit.actions_json)],
                policy=edit.kind,
                seed=0,
            )
        )
    songs = registered_songs(store, set(by_song), f"campaign {campaign!r}")
    for song_id, candidates in by_song.items():
        songs[song_id].candidates = candidates
    open_pairs = {frozenset((t.edit_a, t.edit_b)) for t in tasks}
    return Manifest(root=Path("/"), songs=[songs[s] for s in sorted(songs)]), open_pairs


class SongAnalyses:
    """Analyses of the songs pairs are about, each made once (:func:`rl_editor.audio.analyze_song`)."""

    def __init__(self, known: dict[str, SongAnalysis] | None = None) -> None:
        self.by_id: dict[str, SongAnalysis] = dict(known or {})

    def of(self, manifest: Manifest) -> dict[str, SongAnalysis]:
        """Analyses of every song of ``manifest`` (``song`` is an absolute audio path), keyed by song id."""
        from rl_editor.audio import analyze_song

        for entry in manifest.songs:
            if entry.song_id not in self.by_id:
                self.by_id[entry.song_id] = analyze_song(entry.song, song_id=entry.song_id)
        return {entry.song_id: self.by_id[entry.song_id] for entry in manifest.songs}


def retrain_ensemble(
    store: FeedbackStore, config: OnlineSelectionConfig, analyses: SongAnalyses, init: RewardEnsemble | None = None
) -> RewardEnsemble | None:
    """A reward ensemble trained on the campaign's judged pairs (gold left out); ``None`` below ``min_pairs``."""
    from rl_editor.reward.train import RewardTrainConfig, train_reward_model

    pairs = store.export_pairs(campaign=config.campaign)
    if len(pairs) < config.min_pairs:
        return None
    songs = registered_songs(store, {p.song_id for p in pairs}, f"campaign {config.campaign!r}")
    known = analyses.of(Manifest(root=Path("/"), songs=list(songs.values())))
    train_config = RewardTrainConfig(members=config.members, epochs=config.epochs, seed=config.seed)
    ensemble, _ = train_reward_model(pairs, train_config, analyses=known, init=init)
    return ensemble


def pair_priorities(
    manifest: Manifest, ensemble: RewardEnsemble, analyses: dict[str, SongAnalysis], config: OnlineSelectionConfig
) -> dict[tuple[str, str], float]:
    """``{(edit_a, edit_b): priority}`` for every audible pair of ``manifest``'s candidates, the first asked
    highest (in asking order).

    The asking order is :func:`~rl_editor.reward.select.choose_informative_pairs`'s.
    """
    from rl_editor.reward.select import choose_informative_pairs

    order = choose_informative_pairs(
        manifest,
        ensemble,
        None,
        analyses,
        np.random.default_rng(config.seed),
        method=config.method,
        min_differing_s=config.min_differing_s,
        max_per_edit=config.max_per_edit,
        random_share=config.random_share,
    )
    return {(a.edit_id, b.edit_id): float(len(order) - k) for k, (_, a, b) in enumerate(order)}


def prioritize_campaign(
    store: FeedbackStore, ensemble: RewardEnsemble, config: OnlineSelectionConfig, analyses: SongAnalyses | None = None
) -> int:
    """Reorder the campaign's pairs that still need votes by ``ensemble``'s uncertainty; returns how many were set.

    Pairs the chooser leaves out (inaudible ones) and pairs with all their votes get priority 0.
    """
    manifest, open_pairs = campaign_manifest(store, config.campaign)
    if not manifest.songs:
        return 0
    known = (analyses or SongAnalyses()).of(manifest)
    ranked = [pair for pair in pair_priorities(manifest, ensemble, known, config) if frozenset(pair) in open_pairs]
    return store.reprioritize_campaign(config.campaign, {pair: float(len(ranked) - k) for k, pair in enumerate(ranked)})


def retrain_and_prioritize(
    store: FeedbackStore,
    config: OnlineSelectionConfig,
    analyses: SongAnalyses | None = None,
    init: RewardEnsemble | None = None,
) -> tuple[RewardEnsemble | None, int]:
    """Retrain on the campaign's judgments, then reorder its open pairs; ``(ensemble, pairs set)``.

    With fewer than ``config.min_pairs`` judged pairs nothing is trained, and
    ``init`` (if given) orders the pairs instead.
    """
    analyses = analyses or SongAnalyses()
    ensemble = retrain_ensemble(store, config, analyses, init) or init
    if ensemble is None:
        return None, 0
    return ensemble, prioritize_campaign(store, ensemble, config, analyses)


class OnlineSelection:
    """The server's background thread: every ``every_judgments`` judgments, retrain and reorder.

    Parameters
    ----------
    store : FeedbackStore
    config : OnlineSelectionConfig
    init : RewardEnsemble, optional
        Fine-tuned from on each retraining, and used to order pairs before enough are judged.
    """

    def __init__(self, store: FeedbackStore, config: OnlineSelectionConfig, init: RewardEnsemble | None = None):
        if config.every_judgments < 1:
            raise FeedbackError(f"--online-selection must be at least 1 judgment, got {config.every_judgments}")
        self.store = store
        self.config = config
        self.init = init
        self.analyses = SongAnalyses()
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="online-selection", daemon=True)
        self._judged_at_last_round = -config.every_judgments  # the first check reorders at once if it can

    def start(self) -> OnlineSelection:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        """Ask the thread to stop and wait for a round in progress to finish."""
        self._stop.set()
        self._thread.join(timeout_s)

    def step(self) -> bool:
        """One check: retrain and reorder when enough new judgments came in; whether it did."""
        judged = self.store.campaign_judgment_count(self.config.campaign)
        if judged - self._judged_at_last_round < self.config.every_judgments:
            return False
        ensemble, changed = retrain_and_prioritize(self.store, self.config, self.analyses, self.init)
        if ensemble is None:
            return False
        self._judged_at_last_round = judged
        self.rounds += 1
        LOG.info("online selection: %d judgments in %s, reordered %d open pairs", judged, self.config.campaign, changed)
        return True

    def _run(self) -> None:
        import torch

        torch.set_num_threads(1)  # the request threads keep the other core
        while not self._stop.wait(self.config.poll_seconds):
            try:
                self.step()
            except Exception:  # a failed round must not stop the server; the next one tries again
                LOG.exception("online selection: a round failed")
