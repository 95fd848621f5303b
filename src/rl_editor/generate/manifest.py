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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from rl_editor.errors import RlEditorError
from rl_editor.formats import Actions, AnyText, Integer, Number, OpenFormatModel, Seconds, Text, Times, read_format
from rl_editor.io_utils import read_json, write_json_atomic


class ManifestError(RlEditorError):
    """A manifest that cannot be read or does not follow the format."""


class Candidate(OpenFormatModel):
    """One candidate edit of a song; keys beyond these (``k``, ``target``, ...) are kept in ``extra``."""

    edit_id: Text
    temperature: Number
    path: Text
    duration: Seconds
    actions: Actions
    policy: AnyText
    seed: Integer

    positional_fields = ("edit_id", "temperature", "path", "duration", "actions", "policy", "seed", "extra")


class SongEntry(OpenFormatModel):
    """One song of the manifest and its candidates; keys beyond these (``structure``, ...) are kept in ``extra``."""

    song: Text
    song_id: Text
    duration_seconds: Seconds
    beats: Times
    downbeats: Times
    candidates: list[Candidate] = Field(default_factory=list)

    positional_fields = ("song", "song_id", "duration_seconds", "beats", "downbeats", "candidates", "extra")


def _song_label(obj: Any) -> str:
    """`` (song 'a')`` for an entry with a usable song id, so errors name the song."""
    song_id = obj.get("song_id") if isinstance(obj, dict) else None
    return f" (song {song_id!r})" if isinstance(song_id, str) and song_id else ""


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
        songs = [
            read_format(SongEntry, obj, where=f"{path} entry {i}", error=ManifestError, label=_song_label)
            for i, obj in enumerate(data)
        ]
        return cls(root=path.parent.resolve(), songs=songs)

    def save(self) -> None:
        """Write ``manifest.json`` atomically, so a stopped run always leaves a valid file."""
        write_json_atomic(self.path, [s.to_json() for s in self.songs], indent=1)
