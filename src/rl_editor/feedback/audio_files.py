"""Which audio files the feedback server may serve: fingerprints taken at registration, checked on request.

When a manifest is registered, each song and edit file is fingerprinted
(:func:`fingerprint`: the path after following symlinks, its sha256, size and
mtime). A request is served only when the file still resolves inside the
folder it was registered from (or inside a configured media root) and still
has the registered content (:meth:`AudioVerifier.servable_path`). Hashing a
big file on every request would be slow, so a check that found the content
right is remembered per ``(resolved path, size, mtime_ns)`` and repeated only
when one of those changes.

Served audio may also be asked for compressed: :class:`CompressedAudioCache` keeps an
Ogg/Vorbis copy of each file (encoded once, on disk), a tenth of a WAV's size.
"""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rl_editor.io_utils import file_sha256


@dataclass(frozen=True)
class FileFingerprint:
    """What an audio file was when registered.

    Attributes
    ----------
    resolved_path : str
        Absolute path after following every symlink.
    content_sha256 : str
        Hex sha256 of the content.
    size_bytes : int
        File size in bytes.
    mtime_ns : int
        Modification time in nanoseconds (``os.stat().st_mtime_ns``).
    """

    resolved_path: str
    content_sha256: str
    size_bytes: int
    mtime_ns: int

    def same_file_state(self, resolved: Path, stat: os.stat_result) -> bool:
        """Whether ``resolved`` with ``stat`` looks exactly as fingerprinted (path, size and mtime)."""
        return (str(resolved), stat.st_size, stat.st_mtime_ns) == (self.resolved_path, self.size_bytes, self.mtime_ns)


def fingerprint(path: Path, known: FileFingerprint | None = None) -> FileFingerprint | None:
    """Fingerprint of the file ``path`` names, or ``None`` when it is missing or not a regular file.

    Parameters
    ----------
    path : Path
        The file as a manifest names it (it may be a symlink).
    known : FileFingerprint, optional
        An earlier fingerprint: when the file still has its resolved path, size
        and mtime, its hash is reused instead of reading the file again.
    """
    try:
        resolved = path.resolve(strict=True)
        stat = resolved.stat()
    except (OSError, RuntimeError):
        return None
    if not resolved.is_file():
        return None
    if known is not None and known.same_file_state(resolved, stat):
        return known
    return FileFingerprint(str(resolved), file_sha256(resolved), stat.st_size, stat.st_mtime_ns)


def fingerprint_columns(found: FileFingerprint | None) -> dict[str, str | int | None]:
    """The ``AudioFingerprint`` column values of ``found`` (all ``None`` for a missing file)."""
    if found is None:
        return dict(resolved_path=None, content_sha256=None, size_bytes=None, mtime_ns=None)
    return dict(
        resolved_path=found.resolved_path,
        content_sha256=found.content_sha256,
        size_bytes=found.size_bytes,
        mtime_ns=found.mtime_ns,
    )


def stored_fingerprint(row) -> FileFingerprint | None:
    """The fingerprint kept on a song or edit row, or ``None`` when it was registered without one."""
    if not row.content_sha256 or not row.resolved_path:
        return None
    return FileFingerprint(row.resolved_path, row.content_sha256, int(row.size_bytes or 0), int(row.mtime_ns or 0))


@dataclass(frozen=True)
class AudioFile:
    """One servable file as the database records it.

    Attributes
    ----------
    song_id : str
        The song it belongs to (named in the log when it is refused).
    named_path : Path
        The path as registered (absolute; may be a symlink).
    folder : Path
        The folder it must still resolve inside.
    registered : FileFingerprint or None
        Its fingerprint at registration (``None`` for rows older than fingerprints).
    """

    song_id: str
    named_path: Path
    folder: Path
    registered: FileFingerprint | None


class AudioVerifier:
    """Decides whether a registered file may be served now, caching content checks.

    Parameters
    ----------
    media_root : Path, optional
        A folder whose files are served even when they moved out of their registration folder
        (their content must still match).
    """

    def __init__(self, media_root: Path | None = None):
        self.media_root = media_root.resolve() if media_root is not None else None
        self._verified: dict[tuple[str, int, int], str] = {}
        self._lock = threading.Lock()

    def servable_path(self, audio: AudioFile) -> Path | None:
        """The resolved file to serve for ``audio``, or ``None`` when it must not be served.

        ``None`` when the file is gone, resolves outside ``audio.folder`` (and the
        media root), or no longer has the registered content.
        """
        try:
            resolved = audio.named_path.resolve(strict=True)
            stat = resolved.stat()
        except (OSError, RuntimeError):
            return None
        if not resolved.is_file() or not self._inside_allowed_folder(resolved, audio.folder):
            return None
        if audio.registered is None or audio.registered.same_file_state(resolved, stat):
            return resolved
        return resolved if self._content_sha256(resolved, stat) == audio.registered.content_sha256 else None

    def _inside_allowed_folder(self, resolved: Path, folder: Path) -> bool:
        roots = [folder.resolve()] + ([self.media_root] if self.media_root is not None else [])
        return any(resolved.is_relative_to(root) for root in roots)

    def _content_sha256(self, resolved: Path, stat: os.stat_result) -> str:
        key = (str(resolved), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            cached = self._verified.get(key)
        if cached is not None:
            return cached
        digest = file_sha256(resolved)
        with self._lock:
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[key] = digest
        return digest


COMPRESSED_SUFFIXES = (".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac")
"""Files already compressed: served as they are when a compressed copy is asked for."""

ENCODE_BLOCK_FRAMES = 32_768  # libsndfile's Vorbis encoder is fed in blocks (one huge write can crash it)


def default_compressed_cache_dir() -> Path:
    """``$RL_EDITOR_CACHE_DIR/served-audio`` if the variable is set, else ``~/.cache/rl-editor/served-audio``."""
    given = os.environ.get("RL_EDITOR_CACHE_DIR")
    return (Path(given).expanduser() if given else Path.home() / ".cache" / "rl-editor") / "served-audio"


def encode_ogg_vorbis(source: Path, target: Path, compression_level: float = 0.5) -> None:
    """Write ``source`` (any format libsndfile reads) to ``target`` as Ogg/Vorbis, frame for frame.

    Parameters
    ----------
    source : Path
        The audio file to encode.
    target : Path
        Where the Ogg file goes (overwritten).
    compression_level : float
        libsndfile's Vorbis setting: 0 is the best quality, 1 the smallest file (0.5 is about 128 kbit/s
        for stereo music at 44.1 kHz).
    """
    import soundfile as sf

    with (
        sf.SoundFile(source) as reader,
        sf.SoundFile(
            target,
            "w",
            reader.samplerate,
            reader.channels,
            format="OGG",
            subtype="VORBIS",
            compression_level=compression_level,
        ) as writer,
    ):
        for block in reader.blocks(blocksize=ENCODE_BLOCK_FRAMES, dtype="float32", always_2d=True):
            writer.write(block)


class CompressedAudioCache:
    """Ogg/Vorbis copies of the audio files the server hands out, each encoded once and kept on disk.

    A copy is named after the source's resolved path, size and modification time (the
    server verified the source's content just before asking), so a changed file gets a new
    copy. Concurrent requests for one file wait for one encoding.

    Parameters
    ----------
    folder : Path, optional
        Where the copies live (default :func:`default_compressed_cache_dir`).
    compression_level : float
        Passed to :func:`encode_ogg_vorbis`.
    """

    def __init__(self, folder: Path | None = None, compression_level: float = 0.5):
        self.folder = folder if folder is not None else default_compressed_cache_dir()
        self.compression_level = compression_level
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._warming: set[str] = set()
        self._executor: ThreadPoolExecutor | None = None

    def _key(self, source: Path) -> str:
        stat = source.stat()
        blob = f"{source.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:vorbis:{self.compression_level}"
        return hashlib.sha256(blob.encode()).hexdigest()[:40]

    def _lock(self, key: str) -> threading.Lock:
        with self._locks_guard:
            if len(self._locks) > 10_000:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            return self._locks.setdefault(key, threading.Lock())

    def compressed(self, source: Path) -> Path:
        """The Ogg/Vorbis copy of ``source`` (encoded now if there is none yet); ``source`` itself when it is
        already compressed. Raises ``OSError`` or ``RuntimeError`` (libsndfile) when it cannot be encoded."""
        if source.suffix.lower() in COMPRESSED_SUFFIXES:
            return source
        key = self._key(source)
        target = self.folder / f"{key}.ogg"
        if target.is_file():
            return target
        with self._lock(key):
            if target.is_file():
                return target
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(f".{threading.get_ident()}.part")
            try:
                encode_ogg_vorbis(source, partial, self.compression_level)
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
        return target

    def warm(self, sources: list[Path]) -> None:
        """Encode ``sources`` in one background thread, so their first request finds them ready."""
        with self._locks_guard:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audio-encode")
            executor = self._executor
            todo = [s for s in sources if str(s) not in self._warming]
            self._warming.update(str(s) for s in todo)
        for source in todo:
            executor.submit(self._warm_one, source)

    def _warm_one(self, source: Path) -> None:
        try:
            self.compressed(source)
        except Exception:  # noqa: BLE001 - a request for it will encode it again and report the failure
            pass
        finally:
            with self._locks_guard:
                self._warming.discard(str(source))

    def close(self) -> None:
        """Stop the background encoder (waiting for the file it is encoding)."""
        with self._locks_guard:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
