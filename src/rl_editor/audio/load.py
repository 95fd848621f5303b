"""Songs in, analyses out: the one way every stage turns ``--songs DIR`` (or song files) into analyses.

>>> analyses = load_songs("songs", progress=True)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rl_editor.audio.song import SongAnalysis


def load_songs(
    songs: str | Path | Iterable[str | Path | tuple[str, Path]], *, progress: bool = False
) -> list[SongAnalysis]:
    """Analyse a folder of songs, or the songs given, in order (cached by ``analyze_song``).

    Parameters
    ----------
    songs : str, Path or iterable
        A folder, searched with :func:`rl_editor.audio.io.find_songs` (its songs keep the
        ids it gives them); or song files: ``(song_id, path)`` pairs keep their ids, plain
        paths are known by their stem.
    progress : bool
        Show a tqdm progress bar ("analysing songs").

    Returns
    -------
    list of SongAnalysis
        One per song, in the order found or given.

    Raises
    ------
    AnalysisError
        The folder holds no audio files, or a song cannot be read.
    """
    from tqdm.auto import tqdm

    from rl_editor.audio.analyze import analyze_song
    from rl_editor.audio.io import find_songs

    found = find_songs(songs) if isinstance(songs, str | Path) else songs
    pairs = [s if isinstance(s, tuple) else (None, s) for s in found]
    return [
        analyze_song(path, song_id=song_id)
        for song_id, path in tqdm(pairs, desc="analysing songs", unit="song", disable=not progress)
    ]


__all__ = ["load_songs"]
