"""Audio in, arrays and audio out: decoding, beats, per-beat features, splices, rendering.

The public names below load on first use, so ``import rl_editor.audio`` stays
cheap (librosa is imported only when a song is analysed).

>>> from rl_editor.audio import load_audio, extract_features  # doctest: +SKIP
>>> features = extract_features(load_audio("song.wav"))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rl_editor.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "align": ["align_to_song", "align_rendered_edit"],
        "io": ["AudioClip", "AnalysisError", "load_audio", "find_songs", "save_audio"],
        "song": ["SongAnalysis", "ANALYSIS_VERSION"],
        "analyze": ["AnalysisBatch", "analyze_song", "analyze_many", "extract_features"],
        "render": ["render_edit"],
        "splice": ["splice_quality", "splice_quality_matrix"],
    },
)

if TYPE_CHECKING:  # pragma: no cover
    from rl_editor.audio.align import align_rendered_edit, align_to_song
    from rl_editor.audio.analyze import AnalysisBatch, analyze_many, analyze_song, extract_features
    from rl_editor.audio.io import AnalysisError, AudioClip, find_songs, load_audio, save_audio
    from rl_editor.audio.render import render_edit
    from rl_editor.audio.song import ANALYSIS_VERSION, SongAnalysis
    from rl_editor.audio.splice import splice_quality, splice_quality_matrix
