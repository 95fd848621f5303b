"""What the server sent of each task's audio, and the listening claims it can back.

Every audio request of a rater's task records the bytes it asked for (the
whole file, or its HTTP ranges), merged per task, rater and part (``a``, ``b``
as shown, ``original``). A web judgment may then claim to have heard no more of
a part than the share of its bytes the server sent, as seconds of the part's
duration (:func:`check_claims`): a client cannot claim listening it never
fetched. Bytes are a bound, not proof: a client that fetched a file may still
not have played it.
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.responses import FileResponse

from rl_editor.feedback.models import ServedAudio, utc_now
from rl_editor.feedback.store.database import Database
from rl_editor.feedback.store.errors import InvalidJudgmentError
from rl_editor.preferences import Listening

CLAIM_SLACK_S = 1.0  # seconds a claim may exceed what was sent (file headers, rounding)
CLAIM_SLACK_SHARE = 0.02  # and this share of the part's duration
PART_NAMES = {"a": "A", "b": "B", "original": "the original"}

Ranges = list[tuple[int, int]]


def requested_ranges(range_header: str | None, size_bytes: int) -> Ranges:
    """The half-open byte ranges a request for a file of ``size_bytes`` is answered with.

    No ``Range`` header: the whole file. A header the response refuses (400, 416): nothing.
    Parsed as Starlette's :class:`FileResponse` parses it, so the record matches what is sent.
    """
    if not range_header:
        return [(0, size_bytes)]
    try:
        ranges = FileResponse._parse_range_header(range_header, size_bytes)
    except Exception:  # malformed or unsatisfiable: the response carries no audio
        return []
    return [(int(start), int(end)) for start, end in ranges] if ranges else [(0, size_bytes)]


def merge_ranges(ranges: Ranges) -> Ranges:
    """Sorted, non-overlapping ranges covering the same bytes."""
    merged: Ranges = []
    for start, end in sorted(r for r in ranges if r[1] > r[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def sent_seconds(row: ServedAudio) -> float:
    """Seconds of a part the server sent: its duration times the share of its bytes sent."""
    if not row.size_bytes:
        return 0.0
    covered = sum(end - start for start, end in json.loads(row.ranges_json))
    return float(row.duration_s) * min(1.0, covered / row.size_bytes)


def check_claims(session: Session, task_id: str, rater_id: int, record: Listening | None) -> None:
    """Raise :class:`InvalidJudgmentError` when ``record`` (A/B as shown) claims more of a part than was sent."""
    if record is None:
        return
    rows = {
        r.part: r
        for r in session.scalars(
            select(ServedAudio).where(ServedAudio.task_id == task_id, ServedAudio.rater_id == rater_id)
        )
    }
    for part, name in PART_NAMES.items():
        claimed = getattr(record, f"{part}_s")
        if not claimed:
            continue
        row = rows.get(part)
        sent = sent_seconds(row) if row is not None else 0.0
        slack = CLAIM_SLACK_S + CLAIM_SLACK_SHARE * (float(row.duration_s) if row is not None else 0.0)
        if claimed > sent + slack:
            raise InvalidJudgmentError(
                f"the listening record claims {claimed:.1f} s of {name}, but the server has "
                f"sent {sent:.1f} s of it; play it before judging"
            )


class ServedAudioLog:
    """Recording the bytes sent of each task part."""

    def __init__(self, db: Database):
        self.db = db

    def record(
        self, task_id: str, rater_id: int, part: str, size_bytes: int, duration_s: float, ranges: Ranges
    ) -> None:
        """Add ``ranges`` to what was sent of one part of a rater's task."""
        if not ranges:
            return
        for attempt in range(2):  # two first requests of one part at once: the second insert retries as an update
            try:
                with self.db.transaction() as session:
                    self._add(session, task_id, rater_id, part, size_bytes, duration_s, ranges)
                return
            except IntegrityError:
                if attempt == 1:
                    raise

    @staticmethod
    def _add(
        session: Session, task_id: str, rater_id: int, part: str, size_bytes: int, duration_s: float, ranges: Ranges
    ) -> None:
        row = session.scalars(
            select(ServedAudio)
            .where(ServedAudio.task_id == task_id, ServedAudio.rater_id == rater_id, ServedAudio.part == part)
            .with_for_update()
        ).first()
        if row is None:
            session.add(
                ServedAudio(
                    task_id=task_id,
                    rater_id=rater_id,
                    part=part,
                    size_bytes=size_bytes,
                    duration_s=float(duration_s),
                    ranges_json=json.dumps(merge_ranges(ranges)),
                    first_served_at=utc_now(),
                )
            )
            return
        known = [(int(a), int(b)) for a, b in json.loads(row.ranges_json)] if row.size_bytes == size_bytes else []
        row.size_bytes, row.duration_s = size_bytes, float(duration_s)
        row.ranges_json = json.dumps(merge_ranges([*known, *ranges]))
