"""Songs and edits as manifests register them: where their audio is, and what it was when registered.

An edit id names one edit for good: registering it again with other actions
(or for another song) is a conflict, and registering it from a manifest in
another folder moves it only to a file with the content it was registered with.

A song must be an audio file inside the song library (the folder the organiser
chose, :func:`~rl_editor.feedback.store.meta.stored_song_library`; before any
choice, the first registered manifest's folder becomes it): a manifest naming
anything else is refused whole, before anything of it is stored.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from rl_editor.audio.io import AUDIO_SUFFIXES
from rl_editor.feedback.audio_files import fingerprint, fingerprint_columns, stored_fingerprint
from rl_editor.feedback.models import EditRecord, SongRecord
from rl_editor.feedback.store.database import Database
from rl_editor.feedback.store.errors import ConflictError, SongLibraryError
from rl_editor.feedback.store.meta import SONG_LIBRARY, set_meta, stored_song_library
from rl_editor.feedback.store.views import EditView, edit_view
from rl_editor.generate.manifest import Manifest, SongEntry

LOG = logging.getLogger("rl_editor.feedback")


def take_fingerprint(row: SongRecord | EditRecord, named: Path, what: str) -> bool:
    """Fingerprint ``named`` for a registered row; whether the row may now point at it.

    A row without a fingerprint takes the file's; a fingerprinted row accepts
    only a file with its registered content (moved, or touched). A file that
    changed is logged and left out: the row keeps its registration, and the
    server refuses to serve it until the registered content is back.
    """
    registered = stored_fingerprint(row)
    found = fingerprint(named, known=registered)
    if registered is not None and (found is None or found.content_sha256 != registered.content_sha256):
        LOG.warning("%s: %s is missing or differs from the registered audio; keeping the registration", what, named)
        return False
    for key, value in fingerprint_columns(found).items():
        setattr(row, key, value)
    return True


def add_edit(
    session: Session,
    edit_id: str,
    song_id: str,
    path: str,
    actions: list[int],
    duration_seconds: float,
    kind: str,
    root: Path | None = None,
) -> None:
    """Record an edit once; the same id with other actions (or another song) is a :class:`ConflictError`.

    Parameters
    ----------
    path : str
        The edit's audio, relative to ``root`` (the manifest folder); imported edits have no root and no audio.
    kind : str
        ``candidate``, ``gold`` or ``imported``.

    Registering an edit again from a manifest in another folder (moved) updates where its audio is.
    """
    actions_json = json.dumps([int(a) for a in actions])
    row = session.get(EditRecord, edit_id)
    if row is None:
        found = fingerprint(root / path) if root is not None else None
        session.add(
            EditRecord(
                edit_id=edit_id,
                song_id=song_id,
                path=path,
                actions_json=actions_json,
                duration_seconds=float(duration_seconds),
                kind=kind,
                root=str(root) if root is not None else None,
                **fingerprint_columns(found),
            )
        )
        return
    if row.song_id != song_id or row.actions_json != actions_json:
        raise ConflictError(
            f"edit {edit_id!r} is already stored with other actions or another song; "
            "edit ids must identify one edit (regenerate the candidates, or use another --db)"
        )
    if root is not None and take_fingerprint(row, root / path, f"song {song_id}: edit {edit_id}"):
        row.root, row.path = str(root), path


def add_song(session: Session, manifest: Manifest, song: SongEntry, library: Path) -> None:
    """Record (or move) a song's original audio and beat grid, as ``manifest`` names them.

    A song registered earlier moves only to a file with the content it was registered with, inside ``library``
    (a registered song whose file now resolves elsewhere is logged and keeps its registration).
    """
    named = manifest.resolve(song.song)
    values = dict(
        audio_path=str(named),
        duration_seconds=float(song.duration_seconds),
        beats_json=json.dumps([float(t) for t in song.beats]),
        downbeats_json=json.dumps([float(t) for t in song.downbeats]),
    )
    structure = song.extra.get("structure")
    if isinstance(structure, dict):  # older manifests have none; a song keeps what it had
        values["structure_json"] = json.dumps(structure)
    row = session.get(SongRecord, song.song_id)
    if row is None:
        check_song_in_library(manifest, song, library)
        session.add(SongRecord(song_id=song.song_id, **values, **fingerprint_columns(fingerprint(named))))
    elif not named.is_relative_to(library):
        LOG.warning(
            "song %s: %s lies outside the song library %s; keeping the registration", song.song_id, named, library
        )
    elif take_fingerprint(row, named, f"song {song.song_id}"):
        for key, value in values.items():
            setattr(row, key, value)


def song_library(session: Session, manifest: Manifest) -> Path:
    """The folder ``manifest``'s songs must lie in: the chosen library; else the folder ``rl-editor generate
    --songs`` read them from, when every song records the same one; else the manifest's folder. That folder
    then becomes the library (kept when the registration commits)."""
    chosen = stored_song_library(session)
    if chosen is not None:
        return chosen
    library = generated_from(manifest) or manifest.root.resolve()
    set_meta(session, SONG_LIBRARY, str(library))
    return library


def generated_from(manifest: Manifest) -> Path | None:
    """The one songs folder recorded by ``generate`` in every song entry of ``manifest``, or None."""
    from rl_editor.generate.candidates import SONGS_DIR_KEY

    recorded = {song.extra.get(SONGS_DIR_KEY) for song in manifest.songs}
    if len(recorded) != 1:
        return None
    folder = recorded.pop()
    return Path(folder).resolve() if isinstance(folder, str) and folder else None


def songs_common_folder(manifest: Manifest) -> Path:
    """The deepest folder holding every song of ``manifest`` (for tools that made the manifest themselves)."""
    folders = [manifest.resolve(song.song).parent for song in manifest.songs]
    return Path(os.path.commonpath(folders)) if folders else manifest.root.resolve()


def check_song_in_library(manifest: Manifest, song: SongEntry, library: Path) -> None:
    """Raise :class:`SongLibraryError` unless ``song`` names an audio file (by suffix) inside ``library``.

    The path is checked after following symlinks, so a link inside the library to a file elsewhere is refused too.
    """
    named = manifest.resolve(song.song)
    if not named.is_relative_to(library):
        raise SongLibraryError(
            f"song {song.song_id!r}: {song.song!r} lies outside the song library {library}; "
            "move it there or choose its folder with `rl-editor serve --songs DIR` "
            "(nothing was registered)"
        )
    if named.suffix.lower() not in AUDIO_SUFFIXES:
        raise SongLibraryError(
            f"song {song.song_id!r}: {song.song!r} is not an audio file "
            f"({', '.join(s.lstrip('.') for s in AUDIO_SUFFIXES)}); nothing was registered"
        )


def register_manifest(session: Session, manifest: Manifest) -> None:
    """Record every song and candidate of ``manifest`` inside ``session``'s transaction.

    Raises :class:`SongLibraryError`, before recording anything, when a song not registered yet is not audio
    inside the song library.
    """
    root = manifest.root.resolve()
    library = song_library(session, manifest)
    for song in manifest.songs:
        if session.get(SongRecord, song.song_id) is None:
            check_song_in_library(manifest, song, library)
    for song in manifest.songs:
        add_song(session, manifest, song, library)
        for cand in song.candidates:
            add_edit(session, cand.edit_id, song.song_id, cand.path, cand.actions, cand.duration, "candidate", root)
    session.flush()


class EditCatalog:
    """Registering a manifest's songs and edits, and looking an edit up."""

    def __init__(self, db: Database):
        self.db = db

    def register_edits(self, manifest: Manifest) -> None:
        """Record every song and candidate of ``manifest`` (where their audio is), without making tasks.

        Idempotent; evaluation campaigns use it so their edits never become training tasks.
        Raises :class:`ConflictError` when an edit id is already stored with other actions.
        """
        with self.db.transaction() as session:
            self.db.one_registrar_at_a_time(session)
            register_manifest(session, manifest)

    def song_structure(self, song_id: str) -> dict | None:
        """A song's structure as its manifest gave it (bars, phrases, labelled sections), or ``None``."""
        with self.db.transaction(readonly=True) as session:
            stored = session.scalar(select(SongRecord.structure_json).where(SongRecord.song_id == song_id))
        return json.loads(stored) if stored else None

    def edit(self, edit_id: str) -> EditView | None:
        """A stored edit, or ``None``."""
        with self.db.transaction(readonly=True) as session:
            row = session.get(EditRecord, edit_id)
            return edit_view(row) if row is not None else None
