"""Atomic file writes, JSON reads with one-line errors, and file hashes.

Every file rl-editor writes goes through a temporary file in the target's
folder that replaces the target only once it is complete, so a crash or a
full disk never leaves half a file behind, and an old file stays intact when
writing its successor fails. Temporary files are hidden (``.name.XXXXXXXX.tmp``)
and get the ordinary mode of a new file (0o666 less the umask, usually 0o644).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_TEMP_NAME_ATTEMPTS = 100


def _create_temp_beside(path: Path, suffix: str) -> Path:
    """Create an empty, new, hidden file in ``path``'s folder; ``O_EXCL`` so no other writer shares it.

    Unlike ``tempfile.mkstemp`` (always 0o600), the file's mode is 0o666 less the umask.
    """
    for _ in range(_TEMP_NAME_ATTEMPTS):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}{suffix}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"{path.parent}: no free temporary name for {path.name}")


@contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on failure it is removed.

    For writers that need a file name (soundfile, numpy, torch). The target's
    folder is created when missing.

    Parameters
    ----------
    path : str or Path
        The file to (re)write.
    suffix : str
        Ending of the temporary name; give the target's own ending to writers
        that choose a format by it or append one (``numpy.savez`` adds ``.npz``).

    Examples
    --------
    >>> with atomic_path("weights.npz", suffix=".npz") as tmp:  # doctest: +SKIP
    ...     np.savez(tmp, w=w)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temp_beside(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path`` as a Path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically, exactly as given (no newline translation)."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(
    path: str | Path, obj: Any, indent: int | None = 2, default: Callable[[Any], Any] | None = None
) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically; returns ``path`` as a Path.

    The text is ``json.dumps(obj, indent=indent, default=default)`` with no
    newline added; ``default=float`` lets numpy numbers through.
    """
    return write_text_atomic(path, json.dumps(obj, indent=indent, default=default))


def read_json(path: str | Path, error: type[Exception], what: str = "file") -> Any:
    """Decode the JSON file ``path``, raising ``error`` with a one-line message when it cannot.

    Parameters
    ----------
    path : str or Path
        The file to read (UTF-8).
    error : type of Exception
        Raised as ``error(message)`` for a missing file, text that is not JSON,
        bytes that are not UTF-8, and JSON nested deeper than Python's recursion limit; other OS errors pass through unchanged.
    what : str
        What the file is, for the missing-file message ``"<path>: no such <what>"``.

    Examples
    --------
    >>> read_json("nope.json", ValueError, "manifest")  # doctest: +SKIP
    ValueError: nope.json: no such manifest
    """
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: no such {what}") from None
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not a UTF-8 text file") from None
    except RecursionError:
        raise error(f"{path}: JSON nested too deeply to read") from None


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of the bytes of the file at ``path`` (read in chunks, never whole)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


__all__ = ["atomic_path", "file_sha256", "read_json", "write_bytes_atomic", "write_json_atomic", "write_text_atomic"]
