"""Judgments out and in: preference pairs (``rl_editor.preferences``) and absolute ratings.

Exported paths are as the manifest names them, and each pair carries its song's
``song_path``, so reward training needs no manifest. Imported pairs keep their
``client_id`` (or one derived from their content), so importing a file twice
stores nothing the second time.

Each judgment carries ``listening``: the seconds its rater played of each
version, ``{"a_s": .., "b_s": .., "original_s": ..}`` with ``a_s`` for the
exported ``edit_a`` (``null`` values for judgments made without the record).
Files without it import as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from rl_editor.feedback.models import EditRecord, Judgment, SongRecord
from rl_editor.feedback.settings import DEFAULT_CAMPAIGN
from rl_editor.feedback.store.campaigns import ensure_campaign
from rl_editor.feedback.store.catalog import add_edit
from rl_editor.feedback.store.database import Database
from rl_editor.feedback.store.errors import ConflictError, InvalidJudgmentError
from rl_editor.feedback.store.views import RATING_LABELS, ImportSummary, edit_view
from rl_editor.formats import Preference, Strength
from rl_editor.preferences import EditRef, Listening, PreferencePair

# extra keys an export computes from the judgment's own columns; an import does not keep them as extras
_COMPUTED_EXTRA = {
    "tie_kind",
    "presented_order",
    "time_spent_ms",
    "campaign",
    "client_id",
    "judgment_id",
    "is_gold",
    "listening",
}
CLIENT_ID_MAX_CHARS = 100


def _edit_ref(row: EditRecord) -> EditRef:
    return EditRef(
        path=row.path,
        actions=json.loads(row.actions_json),
        duration_seconds=float(row.duration_seconds),
        edit_id=row.edit_id,
    )


def listening_of(j: Judgment) -> dict[str, float | None]:
    """A stored judgment's listening record as exported (``a_s`` is its ``edit_a``)."""
    return Listening(a_s=j.listened_a_s, b_s=j.listened_b_s, original_s=j.listened_original_s).model_dump()


def pair_from_rows(j: Judgment, a: EditRecord, b: EditRecord, song_path: str | None = None) -> PreferencePair:
    """The preference pair of a stored pair judgment and its two edits."""
    extra: dict[str, Any] = json.loads(j.extra_json or "{}")
    if song_path and not extra.get("song_path"):
        extra["song_path"] = song_path
    extra.update(
        {
            "tie_kind": j.tie_kind,
            "presented_order": j.presented_order,
            "time_spent_ms": j.time_spent_ms,
            "campaign": j.campaign,
            "client_id": j.client_id,
            "listening": listening_of(j),
        }
    )
    if j.task_id is not None:
        extra["task_id"] = j.task_id
    if j.is_gold:
        extra["is_gold"] = True
    return PreferencePair(
        song_id=j.song_id,
        edit_a=_edit_ref(a),
        edit_b=_edit_ref(b),
        preference=Preference(str(j.preference)),
        strength=Strength(int(j.strength or 1)),
        rater=j.rater_name,
        timestamp=j.created_at,
        notes=j.notes or "",
        **extra,
    )


def _sha256_hex(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def import_client_id(pair: PreferencePair, index: int = 0) -> str:
    """The entry's own ``client_id``, else one derived from its content.

    Raises :class:`InvalidJudgmentError` (naming entry ``index``) for a client id longer than the
    store keeps: cutting it would make distinct judgments that share a prefix look like one.
    """
    given = pair.client_id
    if isinstance(given, str) and given:
        if len(given) > CLIENT_ID_MAX_CHARS:
            raise InvalidJudgmentError(
                f"entry {index}: client_id has {len(given)} characters, at most "
                f"{CLIENT_ID_MAX_CHARS} are kept; shorten it (nothing was imported)"
            )
        return given
    return "import-" + _sha256_hex(pair.to_json())[:48]


def derived_edit_id(song_id: str, side: EditRef) -> str:
    """An id for an imported edit that has none: its song, path and actions hashed."""
    return f"{song_id}~{_sha256_hex([song_id, side.path, list(map(int, side.actions))])[:16]}"


def _imported_judgment(pair: PreferencePair, client_id: str, campaign: str, edit_ids: list[str]) -> Judgment:
    extra = pair.extra
    spent = pair.time_spent_ms
    listening = pair.listening or Listening()
    return Judgment(
        client_id=client_id,
        task_id=None,
        assignment_id=None,
        rater_id=None,
        rater_name=pair.rater,
        campaign=campaign,
        kind="pair",
        song_id=pair.song_id,
        edit_a=edit_ids[0],
        edit_b=edit_ids[1],
        is_gold=bool(pair.is_gold),
        preference=pair.preference,
        tie_kind=pair.tie_kind,
        strength=pair.strength,
        rating=None,
        notes=pair.notes,
        presented_order=pair.presented_order,
        time_spent_ms=int(spent) if isinstance(spent, (int, float)) and not isinstance(spent, bool) else None,
        created_at=pair.timestamp,
        source="import",
        listened_a_s=listening.a_s,
        listened_b_s=listening.b_s,
        listened_original_s=listening.original_s,
        extra_json=json.dumps({k: v for k, v in extra.items() if k not in _COMPUTED_EXTRA}),
    )


class Exchange:
    """Exporting and importing judgments."""

    def __init__(self, db: Database):
        self.db = db

    def export_pairs(self, campaign: str | None = None, include_gold: bool = False) -> list[PreferencePair]:
        """Pairwise judgments in the preference pair format (paths as in the manifest)."""
        edit_a, edit_b = aliased(EditRecord), aliased(EditRecord)
        query = (
            select(Judgment, edit_a, edit_b, SongRecord.audio_path)
            .join(edit_a, edit_a.edit_id == Judgment.edit_a)
            .join(edit_b, edit_b.edit_id == Judgment.edit_b)
            .outerjoin(SongRecord, SongRecord.song_id == Judgment.song_id)
            .where(Judgment.kind == "pair")
            .order_by(Judgment.id)
        )
        if campaign is not None:
            query = query.where(Judgment.campaign == campaign)
        if not include_gold:
            query = query.where(Judgment.is_gold.is_(False))
        with self.db.transaction(readonly=True) as session:
            return [pair_from_rows(j, a, b, song_path) for j, a, b, song_path in session.execute(query).all()]

    def export_ratings(self, campaign: str | None = None) -> list[dict[str, Any]]:
        """Absolute ratings (1-4) as JSON-ready dicts."""
        query = (
            select(Judgment, EditRecord)
            .join(EditRecord, EditRecord.edit_id == Judgment.edit_a)
            .where(Judgment.kind == "rating")
            .order_by(Judgment.id)
        )
        if campaign is not None:
            query = query.where(Judgment.campaign == campaign)
        with self.db.transaction(readonly=True) as session:
            return [
                {
                    "song_id": j.song_id,
                    "edit": edit_view(e).__dict__,
                    "rating": j.rating,
                    "rating_label": RATING_LABELS.get(j.rating or 0),
                    "rater": j.rater_name,
                    "timestamp": j.created_at,
                    "notes": j.notes,
                    "campaign": j.campaign,
                    "task_id": j.task_id,
                    "time_spent_ms": j.time_spent_ms,
                    "listening": listening_of(j),
                }
                for j, e in session.execute(query).all()
            ]

    def import_pairs_detailed(self, pairs: Iterable[PreferencePair]) -> ImportSummary:
        """Store preference pairs (e.g. from another server) in one transaction; counts new and known ones.

        Each entry's client id is its ``client_id`` key if present (at most
        :data:`CLIENT_ID_MAX_CHARS` characters, else :class:`InvalidJudgmentError`
        and nothing is imported), else derived from the entry's content. Raises :class:`ConflictError` (naming the
        entry) when an edit id is already stored with other actions.
        """
        pairs = list(pairs)
        client_ids = [import_client_id(pair, index) for index, pair in enumerate(pairs)]  # all checked first
        summary = ImportSummary(0, 0)
        with self.db.transaction() as session:
            seen: set[str] = set()
            for index, (pair, client_id) in enumerate(zip(pairs, client_ids)):
                if (
                    client_id in seen
                    or session.scalars(select(Judgment.id).where(Judgment.client_id == client_id)).first() is not None
                ):
                    summary.skipped_existing += 1
                    continue
                seen.add(client_id)
                campaign = pair.campaign or DEFAULT_CAMPAIGN
                ensure_campaign(session, campaign)
                edit_ids = self._add_imported_edits(session, index, pair)
                session.add(_imported_judgment(pair, client_id, campaign, edit_ids))
                session.flush()
                summary.imported += 1
        return summary

    @staticmethod
    def _add_imported_edits(session: Session, index: int, pair: PreferencePair) -> list[str]:
        ids = []
        for side in (pair.edit_a, pair.edit_b):
            edit_id = side.edit_id or derived_edit_id(pair.song_id, side)
            try:
                add_edit(session, edit_id, pair.song_id, side.path, side.actions, side.duration_seconds, "imported")
            except ConflictError as exc:
                raise ConflictError(f"entry {index}: {exc}") from None
            ids.append(edit_id)
        return ids
