"""SQLAlchemy tables of the feedback store.

The schema itself is created and changed only by the Alembic migrations in
``migrations/`` (the same ones for SQLite and PostgreSQL); these classes must
match them (``tests/feedback/test_migrations.py`` checks that).

Timestamps are UTC ISO 8601 strings, so both databases store them alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utc_now() -> str:
    """Current time as UTC ISO 8601 with milliseconds, e.g. ``2026-01-02T03:04:05.678+00:00``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def utc_in(seconds: float) -> str:
    """UTC ISO 8601 time ``seconds`` from now."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


class Base(DeclarativeBase):
    # every model here maps one Table (SQLAlchemy types __table__ as any FromClause)
    __table__: ClassVar[Table]


class Rater(Base):
    """A person (or bot) with a personal link; only the token's sha256 is kept.

    The link stops working at ``expires_at``, once ``revoked_at`` is set (a new
    link clears it), and while ``deactivated_at`` is set (migration 0006).
    """

    __tablename__ = "raters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    held_out: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[str] = mapped_column(String(40), default=utc_now)
    expires_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    revoked_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    deactivated_at: Mapped[str | None] = mapped_column(String(40), nullable=True)


class AdminToken(Base):
    """An organiser's token; it stops working at ``expires_at`` or once ``revoked_at`` is set (0006)."""

    __tablename__ = "admin_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[str] = mapped_column(String(40), default=utc_now)
    expires_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    revoked_at: Mapped[str | None] = mapped_column(String(40), nullable=True)


class Meta(Base):
    """Store-wide settings kept with the data (e.g. ``gold_per_rater``)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Campaign(Base):
    """A group of tasks; ``held_out_only`` campaigns go only to held-out raters (evaluation).

    Sizing (migration 0005): ``votes_per_pair`` raters judge each pair (empty:
    each task keeps its own ``target_raters``); ``rater_quota`` caps the tasks
    one rater is handed in this campaign, gold pairs included (empty: no cap).
    """

    __tablename__ = "campaigns"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    held_out_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[str] = mapped_column(String(40), default=utc_now)
    votes_per_pair: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rater_quota: Mapped[int | None] = mapped_column(Integer, nullable=True)


class AudioFingerprint:
    """Columns recording what an audio file was when it was registered (migration 0003).

    ``resolved_path`` is the file after following symlinks, ``content_sha256`` its
    content; ``size_bytes`` and ``mtime_ns`` let a check skip re-hashing an unchanged
    file. All are empty for rows registered before fingerprints were kept.
    """

    resolved_path: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    content_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    mtime_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class SongRecord(AudioFingerprint, Base):
    """A song tasks are about: where its original audio is and its beat grid.

    ``audio_path`` is absolute, as the registering manifest names it (songs stay
    where they are; only the edits live in the manifest folder).
    """

    __tablename__ = "songs"
    song_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    audio_path: Mapped[str] = mapped_column(String(1000))
    duration_seconds: Mapped[float] = mapped_column(Float)
    beats_json: Mapped[str] = mapped_column(Text)
    downbeats_json: Mapped[str] = mapped_column(Text)
    structure_json: Mapped[str | None] = mapped_column(Text, nullable=True)  # bars, phrases, sections (0004)


class EditRecord(AudioFingerprint, Base):
    """One edit a task can show: a manifest candidate, a broken gold edit, or an imported one.

    ``path`` is relative to the manifest folder, exactly as in the manifest;
    ``root`` is that folder (absolute), so edits of several manifests (training
    candidates, evaluation campaigns) can share one database. Imported edits
    have no root and no audio.
    """

    __tablename__ = "edits"
    edit_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    song_id: Mapped[str] = mapped_column(String(300), index=True)
    path: Mapped[str] = mapped_column(String(1000))
    actions_json: Mapped[str] = mapped_column(Text)
    duration_seconds: Mapped[float] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(String(20), default="candidate")
    root: Mapped[str | None] = mapped_column(String(1000), nullable=True)


class Task(Base):
    """A pair to compare (``kind='pair'``) or one edit to rate (``kind='rating'``).

    ``target_raters`` is how many raters should judge it (0: any number, used by
    gold pairs); ``n_assigned`` counts handed-out assignments, ``n_judged`` judgments.
    For gold pairs ``edit_a`` is the intact edit, ``edit_b`` the broken one.
    """

    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("campaign", "pair_key", name="uq_tasks_campaign_pair"),
        Index("ix_tasks_schedule", "campaign", "is_gold", "n_assigned"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(100), ForeignKey("campaigns.name"))
    kind: Mapped[str] = mapped_column(String(10))
    pair_key: Mapped[str] = mapped_column(String(700))
    song_id: Mapped[str] = mapped_column(String(300))
    edit_a: Mapped[str] = mapped_column(String(300), ForeignKey("edits.edit_id"))
    edit_b: Mapped[str | None] = mapped_column(String(300), ForeignKey("edits.edit_id"), nullable=True)
    is_gold: Mapped[bool] = mapped_column(Boolean, default=False)
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    target_raters: Mapped[int] = mapped_column(Integer, default=1)
    n_assigned: Mapped[int] = mapped_column(Integer, default=0)
    n_judged: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[str] = mapped_column(String(40), default=utc_now)


class Assignment(Base):
    """A task handed to one rater, with the A/B order they see; one per (task, rater)."""

    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("task_id", "rater_id", name="uq_assignments_task_rater"),
        Index("ix_assignments_rater_open", "rater_id", "judged_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[str] = mapped_column(String(36), ForeignKey("tasks.id"))
    rater_id: Mapped[int] = mapped_column(Integer, ForeignKey("raters.id"))
    presented_order: Mapped[str] = mapped_column(String(2))
    assigned_at: Mapped[str] = mapped_column(String(40), default=utc_now)
    judged_at: Mapped[str | None] = mapped_column(String(40), nullable=True)


class Judgment(Base):
    """One answer. ``preference`` is canonical (``a`` means the task's ``edit_a``).

    ``client_id`` is made by the client (or derived from an imported entry) and
    unique, so a retried submission is recorded once.
    """

    __tablename__ = "judgments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(100), unique=True)
    task_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("tasks.id"), nullable=True)
    assignment_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("assignments.id"), nullable=True, unique=True)
    rater_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("raters.id"), nullable=True)
    rater_name: Mapped[str] = mapped_column(String(200))
    campaign: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    song_id: Mapped[str] = mapped_column(String(300))
    edit_a: Mapped[str] = mapped_column(String(300))
    edit_b: Mapped[str | None] = mapped_column(String(300), nullable=True)
    is_gold: Mapped[bool] = mapped_column(Boolean, default=False)
    preference: Mapped[str | None] = mapped_column(String(3), nullable=True)
    tie_kind: Mapped[str | None] = mapped_column(String(10), nullable=True)
    strength: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    presented_order: Mapped[str | None] = mapped_column(String(2), nullable=True)
    time_spent_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[str] = mapped_column(String(40), default=utc_now)
    source: Mapped[str] = mapped_column(String(10), default="web")
    extra_json: Mapped[str] = mapped_column(Text, default="{}")
    # seconds of each version the rater played (0004); edit_a/edit_b as the task names them, not as shown
    listened_a_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    listened_b_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    listened_original_s: Mapped[float | None] = mapped_column(Float, nullable=True)


class HeadphoneCheck(Base):
    """One attempt at the antiphase headphone check (Woods et al., 2017) by one rater.

    ``trials_json`` holds, per trial, which of the three tones is the quiet one
    (the right answer) and which the antiphase one, drawn by the server;
    ``answers_json``, ``score`` and ``passed`` are set once the rater answers.
    """

    __tablename__ = "headphone_checks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rater_id: Mapped[int] = mapped_column(Integer, ForeignKey("raters.id"), index=True)
    trials_json: Mapped[str] = mapped_column(Text)
    answers_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    passed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    created_at: Mapped[str] = mapped_column(String(40), default=utc_now)
    answered_at: Mapped[str | None] = mapped_column(String(40), nullable=True)


class ServedAudio(Base):
    """The bytes the server sent of one part (``a``/``b`` as shown, ``original``) of a rater's task (0007).

    ``ranges_json`` holds merged half-open ``[start, end)`` byte ranges of a file
    of ``size_bytes``; with ``duration_s`` they bound the seconds a listening
    record may claim of that part.
    """

    __tablename__ = "served_audio"
    __table_args__ = (UniqueConstraint("task_id", "rater_id", "part", name="uq_served_audio_task_rater_part"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[str] = mapped_column(String(36), ForeignKey("tasks.id"))
    rater_id: Mapped[int] = mapped_column(Integer, ForeignKey("raters.id"))
    part: Mapped[str] = mapped_column(String(10))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    duration_s: Mapped[float] = mapped_column(Float)
    ranges_json: Mapped[str] = mapped_column(Text)
    first_served_at: Mapped[str] = mapped_column(String(40), default=utc_now)
