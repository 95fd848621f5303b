"""On-disk cache of song analyses.

An entry is one ``SongAnalysis.to_npz`` file named by the sha256 of the audio
file's bytes and a hash of ``ANALYSIS_VERSION`` plus the analysis parameters,
so editing the file, upgrading the analysis, changing its code or a parameter all miss.
The folder is ``$RL_EDITOR_CACHE_DIR`` or ``~/.cache/rl-editor/analysis``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

from rl_editor.audio.song import ANALYSIS_VERSION, SongAnalysis
from rl_editor.io_utils import atomic_path

CACHE_ENV_VAR = "RL_EDITOR_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$RL_EDITOR_CACHE_DIR`` if set, else ``~/.cache/rl-editor/analysis``."""
    given = os.environ.get(CACHE_ENV_VAR)
    if given:
        return Path(given).expanduser()
    return Path.home() / ".cache" / "rl-editor" / "analysis"


def params_key(params: dict) -> str:
    """Short hash of the analysis version and parameters."""
    blob = json.dumps({"version": ANALYSIS_VERSION, **params}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def cache_path(content_sha256: str, params: dict, cache_dir: str | Path | None = None) -> Path:
    """Where the analysis of content ``content_sha256`` with ``params`` is stored."""
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return folder / f"{content_sha256[:40]}-{params_key(params)}.npz"


def load_cached(
    content_sha256: str, params: dict, *, song_id: str, path: str, cache_dir: str | Path | None = None
) -> SongAnalysis | None:
    """The cached analysis (relabelled with ``song_id`` and ``path``), or None on a miss.

    An unreadable entry counts as a miss (it is rewritten after the next analysis).
    """
    entry = cache_path(content_sha256, params, cache_dir)
    if not entry.is_file():
        return None
    try:
        analysis = SongAnalysis.from_npz(entry)
    except Exception:
        return None
    if analysis.content_sha256 != content_sha256 or analysis.version != ANALYSIS_VERSION:
        return None
    return replace(analysis, song_id=song_id, path=path, _cache={})


def store(analysis: SongAnalysis, params: dict, cache_dir: str | Path | None = None) -> Path:
    """Write ``analysis`` to the cache atomically (temporary file + rename)."""
    entry = cache_path(analysis.content_sha256, params, cache_dir)
    with atomic_path(entry, suffix=".npz") as tmp:  # numpy would append .npz to any other name
        analysis.to_npz(tmp)
    return entry
