"""The candidate manifest: which edits exist for which song, and where their audio is.

``manifest.json`` is a list with one entry per song::

    {"song": "songs/a.wav", "song_id": "a", "duration_seconds": 181.2,
     "beats": [0.52, 1.01, ...], "downbeats": [0.52, 2.48, ...],
     "candidates": [{"edit_id": "a-t0.1-0-5f3a9c21", "temperature": 0.1, "path": "a/a-t0.1-0-5f3a9c21.wav",
                     "duration": 140.3, "actions": [0, 1, ...], "policy": "policy-...", "seed": 7}]}

Paths are relative to the manifest's folder, so the folder can be moved;
:meth:`Manifest.resolve` turns one into an absolute path.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rl_editor.errors import RlEditorError
from rl_editor.io_utils import read_json, write_json_atomic


class ManifestError(RlEditorError):
    """A manifest that cannot be read or does not follow the format."""


@dataclass
class Candidate:
    edit_id: str
    temperature: float
    path: str
    duration: float
    actions: list[int]
    policy: str
    seed: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        return {**extra, **data}


@dataclass
class SongEntry:
    song: str
    song_id: str
    duration_seconds: float
    beats: list[float]
    downbeats: list[float]
    candidates: list[Candidate] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.extra,
            "song": self.song,
            "song_id": self.song_id,
            "duration_seconds": self.duration_seconds,
            "beats": self.beats,
            "downbeats": self.downbeats,
            "candidates": [c.to_json() for c in self.candidates],
        }


_CANDIDATE_FIELDS = ("edit_id", "temperature", "path", "duration", "actions", "policy", "seed")
_SONG_FIELDS = ("song", "song_id", "duration_seconds", "beats", "downbeats", "candidates")
_ACTION_VALUES = (0, 1, 2)


def _shown(value: Any, limit: int = 40) -> str:
    """A short one-line rendering of a bad value for an error message."""
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require_fields(obj: Any, fields: tuple[str, ...], where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ManifestError(f"{where}: must be an object, got {_shown(obj)}")
    for key in fields:
        if key not in obj:
            raise ManifestError(f"{where}: missing field {key!r}")
    return obj


def _text(obj: dict[str, Any], key: str, where: str, allow_empty: bool = False) -> str:
    value = obj[key]
    if not isinstance(value, str) or not (value or allow_empty):
        raise ManifestError(f"{where}.{key}: must be a non-empty string, got {_shown(value)}")
    return value


def _number(obj: dict[str, Any], key: str, where: str, unit: str = "") -> float:
    value = obj[key]
    if not _is_number(value):
        raise ManifestError(f"{where}.{key}: must be a number{unit}, got {_shown(value)}")
    return float(value)


def _integer(obj: dict[str, Any], key: str, where: str) -> int:
    value = obj[key]
    if not _is_int(value):
        raise ManifestError(f"{where}.{key}: must be an integer, got {_shown(value)}")
    return value


def _list(obj: dict[str, Any], key: str, where: str, what: str) -> list[Any]:
    value = obj[key]
    if not isinstance(value, list):
        raise ManifestError(f"{where}.{key}: must be a list of {what}, got {_shown(value)}")
    return value


def _times(obj: dict[str, Any], key: str, where: str) -> list[float]:
    values = _list(obj, key, where, "times in seconds")
    for i, value in enumerate(values):
        if not _is_number(value):
            raise ManifestError(f"{where}.{key}[{i}]: must be a time in seconds, got {_shown(value)}")
    return [float(v) for v in values]


def _actions(obj: dict[str, Any], where: str) -> list[int]:
    values = _list(obj, "actions", where, "0 (keep), 1 (cut) or 2 (repeat)")
    for i, value in enumerate(values):
        if not _is_int(value) or value not in _ACTION_VALUES:
            raise ManifestError(f"{where}.actions[{i}]: must be 0 (keep), 1 (cut) or 2 (repeat), got {_shown(value)}")
    return list(values)


def _candidate_from_json(obj: Any, where: str) -> Candidate:
    obj = _require_fields(obj, _CANDIDATE_FIELDS, where)
    extra = {k: v for k, v in obj.items() if k not in _CANDIDATE_FIELDS}
    return Candidate(
        edit_id=_text(obj, "edit_id", where), temperature=_number(obj, "temperature", where),
        path=_text(obj, "path", where), duration=_number(obj, "duration", where, " of seconds"),
        actions=_actions(obj, where), policy=_text(obj, "policy", where, allow_empty=True), seed=_integer(obj, "seed", where),
        extra=extra,
    )


def _song_from_json(obj: Any, where: str) -> SongEntry:
    obj = _require_fields(obj, _SONG_FIELDS, where)
    song_id = _text(obj, "song_id", where)
    where = f"{where} (song {song_id!r})"
    song = _text(obj, "song", where)
    duration_seconds = _number(obj, "duration_seconds", where, " of seconds")
    beats, downbeats = _times(obj, "beats", where), _times(obj, "downbeats", where)
    raw_candidates = _list(obj, "candidates", where, "candidate objects")
    candidates = [_candidate_from_json(c, f"{where}.candidates[{k}]") for k, c in enumerate(raw_candidates)]
    extra = {k: v for k, v in obj.items() if k not in _SONG_FIELDS}
    return SongEntry(song=song, song_id=song_id, duration_seconds=duration_seconds, beats=beats,
                     downbeats=downbeats, candidates=candidates, extra=extra)


@dataclass
class Manifest:
    """All songs and their candidate edits; ``root`` is the folder holding ``manifest.json``."""

    root: Path
    songs: list[SongEntry] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.root / "manifest.json"

    def resolve(self, relative_path: str) -> Path:
        """Absolute path of a file named in the manifest."""
        return (self.root / relative_path).resolve()

    def song(self, song_id: str) -> SongEntry:
        for entry in self.songs:
            if entry.song_id == song_id:
                return entry
        raise ManifestError(f"{self.path}: no song {song_id!r}")

    def candidate(self, edit_id: str) -> tuple[SongEntry, Candidate]:
        for entry in self.songs:
            for cand in entry.candidates:
                if cand.edit_id == edit_id:
                    return entry, cand
        raise ManifestError(f"{self.path}: no candidate {edit_id!r}")

    @classmethod
    def load(cls, path: str | Path) -> Manifest:
        """Read ``manifest.json`` (or the folder holding it)."""
        path = Path(path)
        if path.is_dir():
            path = path / "manifest.json"
        data = read_json(path, ManifestError, "manifest")
        if not isinstance(data, list):
            raise ManifestError(f"{path}: must hold a JSON list of songs")
        songs = [_song_from_json(obj, f"{path} entry {i}") for i, obj in enumerate(data)]
        return cls(root=path.parent.resolve(), songs=songs)

    def save(self) -> None:
        """Write ``manifest.json`` atomically, so a stopped run always leaves a valid file."""
        write_json_atomic(self.path, [s.to_json() for s in self.songs], indent=1)
