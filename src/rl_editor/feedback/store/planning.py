"""Tasks: comparison, rating and gold tasks from a manifest, and priorities from a ranking of pairs.

Which pairs and how many raters each are decided by the pure functions of
:mod:`rl_editor.feedback.tasks`; the broken edits of gold pairs are rendered by
:mod:`rl_editor.feedback.gold`. This module stores the result, adding only what
is missing, so it is safe to run on every server start.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any, cast

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from rl_editor.feedback.models import Task
from rl_editor.feedback.settings import DEFAULT_CAMPAIGN
from rl_editor.feedback.store.campaigns import ensure_campaign, known_edit_pair, size_campaign
from rl_editor.feedback.store.catalog import add_edit, register_manifest
from rl_editor.feedback.store.database import Database
from rl_editor.feedback.store.meta import GOLD_PER_RATER, set_meta
from rl_editor.feedback.tasks import TaskConfig, new_task, overlap_targets, pair_key, plan_pairs
from rl_editor.generate.manifest import Manifest, SongEntry


def _new_song_tasks(song: SongEntry, config: TaskConfig, rng: random.Random) -> list[Task]:
    """A song's comparison tasks (most different pairs first), then its rating tasks."""
    pairs = plan_pairs(song.candidates, config.pairs_per_song)
    if config.votes_per_pair is not None:
        targets = [config.votes_per_pair] * len(pairs)
    else:
        targets = overlap_targets(len(pairs), config.raters_per_pair, config.overlap_share, rng)
    tasks = [
        new_task(config.campaign, song.song_id, a.edit_id, b.edit_id, target_raters=target)
        for (a, b), target in zip(pairs, targets)
    ]
    rated = rng.sample(song.candidates, min(config.ratings_per_song, len(song.candidates)))
    rating_target = config.votes_per_pair or max(1, config.raters_per_pair)
    tasks += [new_task(config.campaign, song.song_id, cand.edit_id, target_raters=rating_target) for cand in rated]
    return tasks


def _has_gold_tasks(session: Session) -> bool:
    return bool(session.scalar(select(func.count(Task.id)).where(Task.is_gold.is_(True))))


class TaskPlanner:
    """Making and reprioritising tasks."""

    def __init__(self, db: Database):
        self.db = db

    def has_tasks(self) -> bool:
        """Whether any task exists (a server starting on a filled database makes none)."""
        with self.db.transaction(readonly=True) as session:
            return session.scalar(select(Task.id).limit(1)) is not None

    def create_tasks_from_manifest(self, manifest: Manifest, config: TaskConfig | None = None) -> int:
        """Make comparison (and rating, and gold) tasks for every song; returns how many are new.

        Running it again adds only what is missing, so it is safe to call on every start.
        """
        from tqdm.auto import tqdm

        config = config or TaskConfig()
        rng = random.Random(config.seed)
        created = 0
        with self.db.transaction() as session:
            self.db.one_registrar_at_a_time(session)
            ensure_campaign(session, config.campaign)
            stored = size_campaign(session, config.campaign, config.votes_per_pair, config.rater_quota)
            config = replace(config, votes_per_pair=stored.votes_per_pair)  # later tasks follow the campaign
            set_meta(session, GOLD_PER_RATER, str(int(config.gold_per_rater)))
            existing = set(session.scalars(select(Task.pair_key).where(Task.campaign == config.campaign)).all())
            register_manifest(session, manifest)
            for song in tqdm(manifest.songs, desc="tasks", unit="song", disable=len(manifest.songs) < 20):
                for task in _new_song_tasks(song, config, rng):
                    if task.pair_key not in existing:
                        existing.add(task.pair_key)
                        session.add(task)
                        created += 1
        return created + self._add_gold_tasks(manifest, config)

    def _add_gold_tasks(self, manifest: Manifest, config: TaskConfig) -> int:
        """Render broken edits and make gold pairs (once per database); returns how many were made.

        Gold pairs put a manifest candidate against the same candidate with
        off-beat cuts; the intact one is the right answer (see :mod:`rl_editor.feedback.gold`).
        """
        from rl_editor.feedback.gold import render_gold_edits  # decoding and rendering load on first use

        if config.gold_per_rater <= 0 or not manifest.songs:
            return 0
        with self.db.transaction(readonly=True) as session:
            if _has_gold_tasks(session):
                return 0
        made = render_gold_edits(manifest, config.gold_per_rater, random.Random(config.seed + 1))
        with self.db.transaction() as session:
            self.db.one_registrar_at_a_time(session)
            if _has_gold_tasks(session):
                return 0  # another process made them meanwhile
            root = manifest.root.resolve()
            for gold in made:
                add_edit(
                    session, gold.edit_id, gold.song_id, gold.path, gold.actions, gold.duration_seconds, "gold", root
                )
                session.flush()
                session.add(
                    new_task(
                        config.campaign, gold.song_id, gold.intact_edit_id, gold.edit_id, gold=True, target_raters=0
                    )
                )
        return len(made)

    def reprioritize_campaign(self, campaign: str, priorities: dict[tuple[str, str], float]) -> int:
        """Give a campaign's pair tasks new priorities, keyed by ``(edit_id_a, edit_id_b)`` (either order).

        Every other non-gold task of the campaign goes to priority 0, so the
        ranking replaces the previous one. One transaction; returns how many
        tasks got a ranked priority.
        """
        rows = [{"key": pair_key("pair", a, b), "priority": float(p)} for (a, b), p in priorities.items()]
        campaign_tasks = and_(Task.campaign == campaign, Task.is_gold.is_(False))
        with self.db.transaction() as session:
            session.execute(update(Task).where(campaign_tasks).values(priority=0.0))
            if not rows:
                return 0
            ranked = (
                update(Task.__table__)
                .where(
                    Task.__table__.c.campaign == campaign,
                    Task.__table__.c.is_gold.is_(False),
                    Task.__table__.c.pair_key == bindparam("key"),
                )
                .values(priority=bindparam("priority"))
            )
            session.connection().execute(ranked, rows)
            return int(session.scalar(select(func.count(Task.id)).where(campaign_tasks, Task.priority > 0)) or 0)

    def set_task_priorities(
        self, priorities: dict[tuple[str, str], float], campaign: str | None = None, create_missing: bool = False
    ) -> int:
        """Set the priority of pair tasks keyed by ``(edit_id_a, edit_id_b)`` (either order).

        With ``create_missing`` a ranked pair without a task becomes a new task
        in ``campaign`` (default ``collect``; both edits must be known). Returns
        how many tasks were updated or created.
        """
        campaign_name = campaign or DEFAULT_CAMPAIGN
        changed = 0
        with self.db.transaction() as session:
            for (edit_a, edit_b), priority in priorities.items():
                query = update(Task).where(Task.pair_key == pair_key("pair", edit_a, edit_b), Task.is_gold.is_(False))
                if campaign is not None:
                    query = query.where(Task.campaign == campaign)
                count = cast(CursorResult[Any], session.execute(query.values(priority=float(priority)))).rowcount
                if count == 0 and create_missing:
                    ensure_campaign(session, campaign_name)
                    a, _ = known_edit_pair(session, edit_a, edit_b, "ranking names")
                    session.add(new_task(campaign_name, a.song_id, edit_a, edit_b, priority=priority))
                    count = 1
                changed += count
        return changed
