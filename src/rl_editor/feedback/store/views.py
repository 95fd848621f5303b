"""What the feedback store hands out and takes in: plain dataclasses, no database rows."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row

from rl_editor.feedback.models import EditRecord
from rl_editor.preferences import PREFERENCES, Listening
from rl_editor.preferences import TIE_KINDS as TIE_KINDS  # the one judgment vocabulary, re-exported

PREFERENCE_CHOICES = PREFERENCES

RATING_LABELS = {1: "Poor", 2: "Okay", 3: "Good", 4: "Excellent"}


@dataclass
class RaterInfo:
    """A rater as the admin sees them; ``status`` is ``active``, ``deactivated``, ``revoked`` or ``expired``."""

    id: int
    name: str
    held_out: bool
    created_at: str
    status: str = "active"
    expires_at: str | None = None


@dataclass
class EditView:
    """One side of a task as stored (path relative to the manifest folder)."""

    edit_id: str
    song_id: str
    path: str
    actions: list[int]
    duration_seconds: float
    kind: str


@dataclass
class SongView:
    """The song of a task: its length and beat grid (seconds)."""

    song_id: str
    duration_seconds: float
    beats: list[float]
    downbeats: list[float]


@dataclass
class TaskView:
    """An assigned task as one rater sees it: ``edits`` are in the order presented (A, then B)."""

    task_id: str
    kind: str
    song_id: str
    campaign: str
    presented_order: str
    edits: list[EditView]
    song: SongView | None = None


@dataclass
class JudgmentIn:
    """A submission as the rater made it: ``preference`` refers to what they saw as A/B."""

    client_id: str
    task_id: str
    preference: str | None = None
    tie_kind: str | None = None
    strength: int | None = None
    rating: int | None = None
    notes: str = ""
    time_spent_ms: int | None = None
    listening: Listening | None = None  # seconds played per version, A/B as the rater saw them


@dataclass
class ImportSummary:
    imported: int
    skipped_existing: int
    details: list[str] = field(default_factory=list)


def edit_view(row: EditRecord | Row[Any]) -> EditView:
    """The view of a stored edit (``row`` may be an ORM object or a Core row of the ``edits`` table)."""
    return EditView(
        edit_id=row.edit_id,
        song_id=row.song_id,
        path=row.path,
        actions=json.loads(row.actions_json),
        duration_seconds=float(row.duration_seconds),
        kind=row.kind,
    )
