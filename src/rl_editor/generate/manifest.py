"""The candidate manifest: which edits exist for which song, and where their audio is.

``manifest.json`` is a list with one entry per song::

    {"song": "songs/a.wav", "song_id": "a", "duration_seconds": 181.2,
     "beats": [0.52, 1.01, ...], "downbeats": [0.52, 2.48, ...],
     "candidates": [{"edit_id": "a-t0.1-0", "temperature": 0.1, "path": "a/a-t0.1-0.wav",
                     "duration": 140.3, "actions": [0, 1, ...], "policy": "policy-...", "seed": 7}]}

Paths are relative to the manifest's folder, so the folder can be moved;
:meth:`Manifest.resolve` turns one into an absolute path.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rl_editor.errors import RlEditorError


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


def _candidate_from_json(obj: Any, where: str) -> Candidate:
    if not isinstance(obj, dict):
        raise ManifestError(f"{where}: must be an object")
    for key in _CANDIDATE_FIELDS:
        if key not in obj:
            raise ManifestError(f"{where}: missing field {key!r}")
    extra = {k: v for k, v in obj.items() if k not in _CANDIDATE_FIELDS}
    return Candidate(**{k: obj[k] for k in _CANDIDATE_FIELDS}, extra=extra)


def _song_from_json(obj: Any, where: str) -> SongEntry:
    if not isinstance(obj, dict):
        raise ManifestError(f"{where}: must be an object")
    for key in _SONG_FIELDS:
        if key not in obj:
            raise ManifestError(f"{where}: missing field {key!r}")
    candidates = [_candidate_from_json(c, f"{where}.candidates[{k}]") for k, c in enumerate(obj["candidates"])]
    extra = {k: v for k, v in obj.items() if k not in _SONG_FIELDS}
    return SongEntry(
        song=obj["song"], song_id=obj["song_id"], duration_seconds=float(obj["duration_seconds"]),
        beats=list(obj["beats"]), downbeats=list(obj["downbeats"]), candidates=candidates, extra=extra,
    )


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
    def load(cls, path: str | Path) -> "Manifest":
        """Read ``manifest.json`` (or the folder holding it)."""
        path = Path(path)
        if path.is_dir():
            path = path / "manifest.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ManifestError(f"{path}: no such manifest") from None
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
        if not isinstance(data, list):
            raise ManifestError(f"{path}: must hold a JSON list of songs")
        songs = [_song_from_json(obj, f"{path} entry {i}") for i, obj in enumerate(data)]
        return cls(root=path.parent.resolve(), songs=songs)

    def save(self) -> None:
        """Write ``manifest.json`` atomically, so a stopped run always leaves a valid file."""
        self.root.mkdir(parents=True, exist_ok=True)
        payload = json.dumps([s.to_json() for s in self.songs], indent=1)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".manifest.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(payload)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
