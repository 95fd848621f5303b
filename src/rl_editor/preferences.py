"""Preference pairs: the one judgment type every stage exchanges.

The JSON form (the "Preference Pair Dataset" of the human-feedback pipeline design)::

    [{"song_id": "song_001",
      "edit_a": {"path": "...", "actions": [0, 1, ...], "duration_seconds": 215},
      "edit_b": {"path": "...", "actions": [...], "duration_seconds": 230},
      "preference": "a",            # "a" | "b" | "tie"
      "strength": 2,                # 1 slight | 2 moderate | 3 strong
      "rater": "user_123",
      "timestamp": "2025-12-06T15:30:00",
      "notes": "..."}]

Keys rl-editor adds are typed optional fields, written only when given:
``tie_kind``, ``presented_order``, ``time_spent_ms``, ``campaign``,
``task_id``, ``client_id``, ``song_path``, ``is_gold``, ``listening`` on a pair and
``edit_id`` on an edit. Other keys (from other tools) are kept and written
back; :attr:`PreferencePair.extra` shows every key beyond the design's.

An optional ``"weight"`` (a non-negative number, default 1) is how much the
judgment counts in reward training; screened exports set it to the rater's
reliability weight (:mod:`rl_editor.feedback.screening`). It is written only
when it is not 1.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from rl_editor.errors import RlEditorError
from rl_editor.formats import (
    Actions,
    AnyText,
    FormatModel,
    NonNegativeSeconds,
    OpenFormatModel,
    Preference,
    PresentedOrder,
    Strength,
    Text,
    TieKind,
    read_format,
)
from rl_editor.io_utils import write_json_atomic

# The judgment vocabulary every stage shares (see rl_editor.formats).
TIE_KINDS: tuple[str, ...] = tuple(TieKind)
PREFERENCES: tuple[str, ...] = tuple(Preference)
STRENGTHS: tuple[int, ...] = tuple(Strength)


class PreferenceFormatError(RlEditorError, ValueError):
    """A preference file or entry that does not follow the preference pair format."""


def _not_a_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("format", "must be 1, 2 or 3", {"got": value})
    return value


TIME_SPENT_MS_MAX = 2**31 - 1  # fits the 32-bit column a feedback store keeps it in (about 24 days)


def _time_spent_ms(value: Any) -> Any:
    """``time_spent_ms``: ``None``, or a finite number of milliseconds from 0 to :data:`TIME_SPENT_MS_MAX`."""
    if value is None:
        return None
    finite = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not finite or not 0 <= value <= TIME_SPENT_MS_MAX:
        raise PydanticCustomError(
            "format", "must be a finite number of milliseconds from 0 to {most}", {"most": TIME_SPENT_MS_MAX}
        )
    return value


def _notes(value: Any) -> Any:
    return "" if value is None else value


class _JudgmentFormat(OpenFormatModel):
    """Others write preference files too: keys rl-editor does not know are kept and written back."""

    @property
    def extra(self) -> Mapping[str, Any]:  # type: ignore[override]
        """Read-only view of every key beyond the design's: the typed optional ones given, and unknown ones."""
        fields = type(self).model_fields
        given = {k: getattr(self, k) for k in self.model_fields_set if k in fields and fields[k].default is None}
        return MappingProxyType({**(self.__pydantic_extra__ or {}), **given})


class EditRef(_JudgmentFormat):
    """One side of a comparison: where the edit's audio is and what it did."""

    path: AnyText
    actions: Actions
    duration_seconds: NonNegativeSeconds
    edit_id: str | None = None

    positional_fields = ("path", "actions", "duration_seconds", "extra")


class Listening(FormatModel):
    """Seconds of each version the rater played before judging (``a_s`` is ``edit_a``'s, whatever order they heard)."""

    a_s: NonNegativeSeconds | None = None
    b_s: NonNegativeSeconds | None = None
    original_s: NonNegativeSeconds | None = None

    def swapped(self) -> Listening:
        """The record with A and B exchanged (to or from the order a rater saw)."""
        return Listening(a_s=self.b_s, b_s=self.a_s, original_s=self.original_s)


class PreferencePair(_JudgmentFormat):
    """One judgment: which of two edits of one song a rater preferred, and how strongly."""

    song_id: Text
    edit_a: EditRef
    edit_b: EditRef
    preference: Preference
    strength: Annotated[Strength, BeforeValidator(_not_a_bool)]
    rater: Text
    timestamp: AnyText
    notes: Annotated[AnyText, BeforeValidator(_notes)] = ""
    tie_kind: TieKind | None = None
    presented_order: PresentedOrder | None = None
    time_spent_ms: Annotated[int | float | None, BeforeValidator(_time_spent_ms)] = None
    campaign: str | None = None
    task_id: str | None = None
    client_id: str | None = None
    song_path: str | None = None
    is_gold: bool | None = None
    listening: Listening | None = None
    weight: Annotated[float, BeforeValidator(_not_a_bool), Field(ge=0, allow_inf_nan=False)] = 1.0

    positional_fields = (
        "song_id",
        "edit_a",
        "edit_b",
        "preference",
        "strength",
        "rater",
        "timestamp",
        "notes",
        "extra",
    )
    omitted_at_default = ("weight",)  # a weight of 1 is not written

    @property
    def signed_strength(self) -> int:
        """+strength if A won, -strength if B won, 0 for a tie (the regression target)."""
        return {Preference.A: int(self.strength), Preference.B: -int(self.strength), Preference.TIE: 0}[self.preference]


def pair_from_json(obj: Any, index: int = 0) -> PreferencePair:
    """Validate one entry; errors name the entry index and the field."""
    return read_format(PreferencePair, obj, where=f"entry {index}", error=PreferenceFormatError)


def parse_preferences(data: Any) -> list[PreferencePair]:
    """Validate a whole decoded file; raises on the first bad entry, returning nothing partial."""
    if not isinstance(data, list):
        raise PreferenceFormatError("the file must hold a JSON list of preference pairs")
    return [pair_from_json(obj, i) for i, obj in enumerate(data)]


def load_preferences(path: str | Path) -> list[PreferencePair]:
    """Read and validate a preference JSON file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PreferenceFormatError(f"{path}: no such file") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PreferenceFormatError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:
        raise PreferenceFormatError(f"{path}: JSON nested too deeply to read") from None
    try:
        return parse_preferences(data)
    except PreferenceFormatError as exc:
        raise PreferenceFormatError(f"{path}: {exc}") from None


def save_preferences(path: str | Path, pairs: Iterable[PreferencePair]) -> None:
    """Write pairs as JSON atomically (a crash never leaves half a file)."""
    write_json_atomic(path, [p.to_json() for p in pairs], indent=2)
