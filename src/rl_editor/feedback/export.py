"""Preference files in and out: JSON (the preference pair format) and CSV.

Exported ``edit_a``/``edit_b`` paths are exactly as in the manifest, i.e.
relative to the manifest's folder (resolve them with ``Manifest.resolve``).
Extra keys: ``tie_kind``, ``presented_order`` (``ab``: edit_a was shown as A),
``time_spent_ms``, ``listening`` (seconds the rater played of ``edit_a``,
``edit_b`` and the original: ``{"a_s", "b_s", "original_s"}``; CSV columns
``listened_a_s``, ``listened_b_s``, ``listened_original_s``), ``campaign``,
``task_id``, ``client_id``, and ``edit_id`` on each side.
A screened export (``screening``, :mod:`rl_editor.feedback.screening`)
leaves out flagged raters and gives each judgment its rater's ``weight``.

CSV cells of text that a spreadsheet would run as a formula (starting with
``=``, ``+``, ``-``, ``@``, tab or carriage return, e.g. a rater's note) get a
leading apostrophe, as OWASP advises against CSV injection; numbers are
written as they are.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from rl_editor.feedback.screening import ScreenedPairs, ScreeningReport
from rl_editor.feedback.storage import FeedbackError, FeedbackStore
from rl_editor.io_utils import write_text_atomic
from rl_editor.preferences import Listening, PreferencePair, load_preferences, save_preferences

CSV_COLUMNS = (
    "song_id",
    "edit_a_id",
    "edit_a_path",
    "edit_b_id",
    "edit_b_path",
    "preference",
    "strength",
    "tie_kind",
    "rater",
    "timestamp",
    "presented_order",
    "time_spent_ms",
    "campaign",
    "task_id",
    "client_id",
    "notes",
    "edit_a_actions",
    "edit_b_actions",
    "edit_a_duration_seconds",
    "edit_b_duration_seconds",
    "listened_a_s",
    "listened_b_s",
    "listened_original_s",
    "weight",
)


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """``value`` with a leading apostrophe if it is text a spreadsheet would read as a formula; numbers unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def pairs_to_csv(pairs: list[PreferencePair]) -> str:
    """One row per judgment (CRLF line ends); actions are JSON lists in their cells; text cells are spreadsheet-safe."""
    buffer = io.StringIO()
    # RFC 4180 line ends: the writer then also quotes cells holding a lone carriage return
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for p in pairs:
        writer.writerow({column: spreadsheet_safe(value) for column, value in _csv_row(p).items()})
    return buffer.getvalue()


def _csv_row(p: PreferencePair) -> dict[str, Any]:
    return {
        "song_id": p.song_id,
        "edit_a_id": p.edit_a.edit_id or "",
        "edit_a_path": p.edit_a.path,
        "edit_b_id": p.edit_b.edit_id or "",
        "edit_b_path": p.edit_b.path,
        "preference": p.preference,
        "strength": p.strength,
        "tie_kind": p.tie_kind or "",
        "rater": p.rater,
        "timestamp": p.timestamp,
        "presented_order": p.presented_order or "",
        "time_spent_ms": "" if p.time_spent_ms is None else p.time_spent_ms,
        "campaign": p.campaign or "",
        "task_id": p.task_id or "",
        "client_id": p.client_id or "",
        "notes": p.notes,
        "edit_a_actions": json.dumps(p.edit_a.actions),
        "edit_b_actions": json.dumps(p.edit_b.actions),
        "edit_a_duration_seconds": p.edit_a.duration_seconds,
        "edit_b_duration_seconds": p.edit_b.duration_seconds,
        **_listening_cells(p.listening),
        "weight": p.weight,
    }


RATING_CSV_COLUMNS = (
    "song_id",
    "edit_id",
    "edit_path",
    "rating",
    "rating_label",
    "rater",
    "timestamp",
    "campaign",
    "task_id",
    "time_spent_ms",
    "notes",
    "edit_actions",
    "edit_duration_seconds",
    "listened_a_s",
    "listened_original_s",
)


def ratings_to_csv(ratings: list[dict[str, Any]]) -> str:
    """One row per 1-4 star rating (as :meth:`FeedbackStore.export_ratings` gives them); text cells spreadsheet-safe."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=RATING_CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for r in ratings:
        edit, listening = r["edit"], r.get("listening") or {}
        row = {
            "song_id": r["song_id"],
            "edit_id": edit["edit_id"],
            "edit_path": edit["path"],
            "rating": r["rating"],
            "rating_label": r["rating_label"],
            "rater": r["rater"],
            "timestamp": r["timestamp"],
            "campaign": r["campaign"],
            "task_id": r["task_id"] or "",
            "time_spent_ms": "" if r["time_spent_ms"] is None else r["time_spent_ms"],
            "notes": r["notes"] or "",
            "edit_actions": json.dumps(edit["actions"]),
            "edit_duration_seconds": edit["duration_seconds"],
            "listened_a_s": "" if listening.get("a_s") is None else listening["a_s"],
            "listened_original_s": "" if listening.get("original_s") is None else listening["original_s"],
        }
        writer.writerow({column: spreadsheet_safe(value) for column, value in row.items()})
    return buffer.getvalue()


def write_ratings(out: Path, ratings: list[dict[str, Any]], as_csv: bool = False) -> None:
    """Write 1-4 star ratings to ``out`` as JSON (a list, as ``/api/admin/ratings.json`` gives it) or CSV."""
    out = Path(out)
    if out.is_dir():
        raise FeedbackError(f"{out}: is a folder; give the file to write (e.g. {out / 'ratings.json'})")
    write_text_atomic(out, ratings_to_csv(ratings) if as_csv else json.dumps(ratings, indent=2))


def _listening_cells(listening: Listening | None) -> dict[str, Any]:
    """The CSV cells of a pair's listening record (empty when it has none)."""
    record = listening.model_dump() if listening is not None else {}
    return {f"listened_{key}": "" if record.get(key) is None else record[key] for key in ("a_s", "b_s", "original_s")}


def export_file(
    store: FeedbackStore,
    out: Path,
    campaign: str | None = None,
    as_csv: bool = False,
    include_gold: bool = False,
    screening: ScreeningReport | None = None,
) -> int:
    """Write the store's pairwise judgments to ``out`` (JSON, or CSV); returns how many.

    With ``screening`` the judgments are screened first (:meth:`ScreeningReport.apply`).
    """
    screened = select_export_pairs(store, campaign, include_gold, screening)
    write_pairs(out, screened.pairs, as_csv)
    return len(screened.pairs)


def select_export_pairs(
    store: FeedbackStore,
    campaign: str | None = None,
    include_gold: bool = False,
    screening: ScreeningReport | None = None,
) -> ScreenedPairs:
    """The judgments an export writes, screened by ``screening`` when given (nothing dropped otherwise)."""
    pairs = store.export_pairs(campaign=campaign, include_gold=include_gold)
    return screening.apply(pairs) if screening is not None else ScreenedPairs(pairs, 0)


def write_pairs(out: Path, pairs: list[PreferencePair], as_csv: bool = False) -> None:
    """Write judgments to ``out`` as the preference JSON format, or CSV."""
    out = Path(out)
    if out.is_dir():
        raise FeedbackError(f"{out}: is a folder; give the file to write (e.g. {out / 'preferences.json'})")
    if as_csv:
        write_text_atomic(out, pairs_to_csv(pairs))
    else:
        save_preferences(out, pairs)


def import_file(store: FeedbackStore, path: Path) -> tuple[int, int]:
    """Validate a whole preference file, then import it in one transaction.

    Returns ``(imported, already_present)``. A malformed file raises
    ``PreferenceFormatError`` naming the entry and field, and imports nothing.
    """
    pairs = load_preferences(path)
    summary = store.import_pairs_detailed(pairs)
    return summary.imported, summary.skipped_existing
