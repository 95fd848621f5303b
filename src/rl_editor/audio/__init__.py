"""Audio in, arrays and audio out: decoding, beats, per-beat features, splices, rendering.

The public names below load on first use, so ``import rl_editor.audio`` stays
cheap (librosa is imported only when a song is analysed).

>>> from rl_editor.audio import load_audio, extract_features  # doctest: +SKIP
>>> features = extract_features(load_audio("song.wav"))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "AudioClip": "rl_editor.audio.io",
    "AnalysisError": "rl_editor.audio.io",
    "load_audio": "rl_editor.audio.io",
    "find_songs": "rl_editor.audio.io",
    "save_audio": "rl_editor.audio.io",
    "SongAnalysis": "rl_editor.audio.song",
    "ANALYSIS_VERSION": "rl_editor.audio.song",
    "AnalysisBatch": "rl_editor.audio.analyze",
    "analyze_song": "rl_editor.audio.analyze",
    "analyze_many": "rl_editor.audio.analyze",
    "extract_features": "rl_editor.audio.analyze",
    "render_edit": "rl_editor.audio.render",
    "splice_quality": "rl_editor.audio.splice",
    "splice_quality_matrix": "rl_editor.audio.splice",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from rl_editor.audio.analyze import AnalysisBatch, analyze_many, analyze_song, extract_features
    from rl_editor.audio.io import AnalysisError, AudioClip, find_songs, load_audio, save_audio
    from rl_editor.audio.render import render_edit
    from rl_editor.audio.song import ANALYSIS_VERSION, SongAnalysis
    from rl_editor.audio.splice import splice_quality, splice_quality_matrix


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'rl_editor.audio' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
