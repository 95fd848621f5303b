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

Extra keys are kept in ``extra`` and written back out (for example
``tie_kind``, ``presented_order``, ``time_spent_ms``, ``edit_id``).

An optional ``"weight"`` (a non-negative number, default 1) is how much the
judgment counts in reward training; screened exports set it to the rater's
reliability weight (:mod:`rl_editor.feedback.screening`). It is written only
when it is not 1.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rl_editor.errors import RlEditorError
from rl_editor.io_utils import write_json_atomic

# The judgment vocabulary every stage shares: the tie kinds a rater may give (both edits good, both bad).
TIE_KINDS: tuple[str, ...] = ("both_good", "both_bad")

PREFERENCES = ("a", "b", "tie")
STRENGTHS = (1, 2, 3)
_PAIR_KEYS = {"song_id", "edit_a", "edit_b", "preference", "strength", "rater", "timestamp", "notes"}
_OPTIONAL_PAIR_KEYS = {"notes", "weight"}
_EDIT_KEYS = {"path", "actions", "duration_seconds"}


class PreferenceFormatError(RlEditorError, ValueError):
    """A preference file or entry that does not follow the preference pair format."""


@dataclass
class EditRef:
    """One side of a comparison: where the edit's audio is and what it did."""

    path: str
    actions: list[int]
    duration_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {**self.extra, "path": self.path, "actions": list(map(int, self.actions)),
                "duration_seconds": float(self.duration_seconds)}


@dataclass
class PreferencePair:
    """One judgment: which of two edits of one song a rater preferred, and how strongly."""

    song_id: str
    edit_a: EditRef
    edit_b: EditRef
    preference: str
    strength: int
    rater: str
    timestamp: str
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    weight: float = 1.0

    @property
    def signed_strength(self) -> int:
        """+strength if A won, -strength if B won, 0 for a tie (the regression target)."""
        return {"a": self.strength, "b": -self.strength, "tie": 0}[self.preference]

    def to_json(self) -> dict[str, Any]:
        return {
            **self.extra,
            "song_id": self.song_id,
            "edit_a": self.edit_a.to_json(),
            "edit_b": self.edit_b.to_json(),
            "preference": self.preference,
            "strength": int(self.strength),
            "rater": self.rater,
            "timestamp": self.timestamp,
            "notes": self.notes,
            **({"weight": float(self.weight)} if self.weight != 1.0 else {}),
        }


def _edit_from_json(obj: Any, where: str) -> EditRef:
    if not isinstance(obj, dict):
        raise PreferenceFormatError(f"{where}: must be an object with path, actions, duration_seconds")
    missing = _EDIT_KEYS - obj.keys()
    if missing:
        raise PreferenceFormatError(f"{where}: missing field {sorted(missing)[0]!r}")
    if not isinstance(obj["path"], str):
        raise PreferenceFormatError(f"{where}.path: must be a string")
    actions = obj["actions"]
    if not isinstance(actions, list) or not all(isinstance(a, int) and not isinstance(a, bool) and a in (0, 1, 2) for a in actions):
        raise PreferenceFormatError(f"{where}.actions: must be a list of 0 (keep), 1 (cut), 2 (repeat)")
    duration = obj["duration_seconds"]
    if not isinstance(duration, (int, float)) or isinstance(duration, bool) or duration < 0:
        raise PreferenceFormatError(f"{where}.duration_seconds: must be a non-negative number")
    extra = {k: v for k, v in obj.items() if k not in _EDIT_KEYS}
    return EditRef(path=obj["path"], actions=list(actions), duration_seconds=float(duration), extra=extra)


def pair_from_json(obj: Any, index: int = 0) -> PreferencePair:
    """Validate one entry; errors name the entry index and the field."""
    where = f"entry {index}"
    if not isinstance(obj, dict):
        raise PreferenceFormatError(f"{where}: must be an object")
    missing = (_PAIR_KEYS - _OPTIONAL_PAIR_KEYS) - obj.keys()
    if missing:
        raise PreferenceFormatError(f"{where}: missing field {sorted(missing)[0]!r}")
    if not isinstance(obj["song_id"], str) or not obj["song_id"]:
        raise PreferenceFormatError(f"{where}.song_id: must be a non-empty string")
    if obj["preference"] not in PREFERENCES:
        raise PreferenceFormatError(f"{where}.preference: must be 'a', 'b' or 'tie', got {obj['preference']!r}")
    strength = obj["strength"]
    if isinstance(strength, bool) or strength not in STRENGTHS:
        raise PreferenceFormatError(f"{where}.strength: must be 1, 2 or 3, got {strength!r}")
    if not isinstance(obj["rater"], str) or not obj["rater"]:
        raise PreferenceFormatError(f"{where}.rater: must be a non-empty string")
    if not isinstance(obj["timestamp"], str):
        raise PreferenceFormatError(f"{where}.timestamp: must be an ISO 8601 string")
    notes = obj.get("notes", "")
    if notes is None:
        notes = ""
    if not isinstance(notes, str):
        raise PreferenceFormatError(f"{where}.notes: must be a string")
    weight = obj.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
        raise PreferenceFormatError(f"{where}.weight: must be a non-negative number, got {weight!r}")
    edit_a = _edit_from_json(obj["edit_a"], f"{where}.edit_a")
    edit_b = _edit_from_json(obj["edit_b"], f"{where}.edit_b")
    extra = {k: v for k, v in obj.items() if k not in _PAIR_KEYS | _OPTIONAL_PAIR_KEYS}
    return PreferencePair(
        song_id=obj["song_id"], edit_a=edit_a, edit_b=edit_b, preference=obj["preference"],
        strength=int(strength), rater=obj["rater"], timestamp=obj["timestamp"], notes=notes, extra=extra,
        weight=float(weight),
    )


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
        raise PreferenceFormatError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    try:
        return parse_preferences(data)
    except PreferenceFormatError as exc:
        raise PreferenceFormatError(f"{path}: {exc}") from None


def save_preferences(path: str | Path, pairs: Iterable[PreferencePair]) -> None:
    """Write pairs as JSON atomically (a crash never leaves half a file)."""
    write_json_atomic(path, [p.to_json() for p in pairs], indent=2)
