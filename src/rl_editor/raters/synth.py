"""Synthetic preferences: a (simulated or plugged-in) rater judges pairs of a manifest's candidates.

The output is the ordinary preference JSON (``rl_editor.preferences``), so the
reward trainer cannot tell it from people's judgments, except by the ``rater``
field. Each pair also carries ``song_path`` at the top and ``edit_id`` on each
side, so the trainer can find the song's analysis: manifest-relative from
:func:`synthesize_preferences`, absolute in the file :func:`synthesize_preferences_file`
writes (which may be anywhere).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from rl_editor.audio.song import SongAnalysis
from rl_editor.edit import Edit
from rl_editor.formats import Preference, Strength
from rl_editor.generate.manifest import Candidate, Manifest, SongEntry
from rl_editor.preferences import EditRef, PreferencePair
from rl_editor.raters.plugin import as_judgment
from rl_editor.raters.simulated import Rater
from rl_editor.raters.tastes import RaterError

CandidatePair = tuple[SongEntry, Candidate, Candidate]


def audible_pairs(
    entry: SongEntry, beat_durations_s: np.ndarray | None, min_differing_s: float = 0.0
) -> list[CandidatePair]:
    """Pairs of a song's candidates that differ, by more than ``min_differing_s`` seconds of audio when
    the song's beat durations are given (:func:`rl_editor.edit.differing_seconds`)."""
    from rl_editor.edit import differing_seconds

    pairs = []
    for a, b in combinations(entry.candidates, 2):
        if list(a.actions) == list(b.actions):
            continue
        if (
            beat_durations_s is not None
            and min_differing_s > 0
            and differing_seconds(np.asarray(a.actions), np.asarray(b.actions), beat_durations_s) <= min_differing_s
        ):
            continue
        pairs.append((entry, a, b))
    return pairs


def interleave_songs(
    pools: list[list[CandidatePair]], n_pairs: int | None, rng: np.random.Generator
) -> list[CandidatePair]:
    """Songs take turns (in shuffled order) giving their next pair until ``n_pairs`` are chosen; the side
    shown as A is random. Each pool is consumed from its end."""
    pools = [list(pool) for pool in pools]
    chosen: list[CandidatePair] = []
    limit = sum(map(len, pools)) if n_pairs is None else n_pairs
    song_order = list(rng.permutation(len(pools)))
    while len(chosen) < limit and any(pools):
        for k in song_order:
            if pools[k] and len(chosen) < limit:
                chosen.append(pools[k].pop())
    return [(e, a, b) if rng.random() < 0.5 else (e, b, a) for e, a, b in chosen]


def choose_pairs(
    manifest: Manifest,
    n_pairs: int | None,
    rng: np.random.Generator,
    beat_durations: Mapping[str, np.ndarray] | None = None,
    min_differing_s: float = 0.0,
) -> list[CandidatePair]:
    """Random pairs of distinct candidates of the same song, spread evenly across songs.

    All pairs when ``n_pairs`` is None; otherwise songs take turns (in shuffled
    order) giving one random pair each until ``n_pairs`` are chosen or none are
    left. Candidates with identical actions are never paired, nor, when
    ``beat_durations`` (song_id -> per-beat seconds) are given, candidates
    whose audio differs for ``min_differing_s`` seconds or less. The side shown
    as A is random.
    """
    pools = []
    for entry in manifest.songs:
        durations = None if beat_durations is None else beat_durations.get(entry.song_id)
        pool = audible_pairs(entry, durations, min_differing_s)
        pools.append([pool[k] for k in rng.permutation(len(pool))])
    return interleave_songs(pools, n_pairs, rng)


def _edit_ref(cand: Candidate) -> EditRef:
    return EditRef(
        path=cand.path,
        actions=[int(x) for x in cand.actions],
        duration_seconds=float(cand.duration),
        edit_id=cand.edit_id,
    )


def _analysis_for(entry: SongEntry, manifest: Manifest, analyses: dict[str, SongAnalysis]) -> SongAnalysis:
    if entry.song_id not in analyses:
        from rl_editor.audio import analyze_song

        analyses[entry.song_id] = analyze_song(manifest.resolve(entry.song))
    return analyses[entry.song_id]


def synthesize_preferences(
    manifest: Manifest,
    rater: Rater,
    n_pairs: int | None = None,
    seed: int = 0,
    analyses: Mapping[str, SongAnalysis] | None = None,
    progress: bool = True,
    pairs: Sequence[CandidatePair] | None = None,
) -> list[PreferencePair]:
    """Have ``rater`` judge pairs of candidates from ``manifest``.

    Parameters
    ----------
    manifest : Manifest
    rater : Rater
        Anything with ``name`` and ``judge(song, edit_a, edit_b)``, e.g. from :func:`load_rater`.
    n_pairs : int or None
        How many pairs (spread across songs); None judges every pair of every song.
    seed : int
        Seed of the pair choice and of which side is shown as A.
    analyses : mapping of song_id to SongAnalysis, optional
        Analyses to use; songs missing from it are analysed with ``analyze_song`` (cached).
    progress : bool
        Show a tqdm bar.
    pairs : sequence of (SongEntry, Candidate, Candidate), optional
        The pairs to judge, in order (e.g. from :func:`rl_editor.reward.select.choose_informative_pairs`);
        by default random pairs (:func:`choose_pairs`).

    Returns
    -------
    list of PreferencePair
        ``rater`` is the rater's name; paths are manifest-relative.
    """
    if n_pairs is not None and n_pairs < 0:
        raise RaterError(f"n_pairs must be >= 0, got {n_pairs}")
    if pairs is None:
        pairs = choose_pairs(manifest, n_pairs, np.random.default_rng(seed))
    known = dict(analyses or {})
    name = str(getattr(rater, "name", "") or "rater")
    out: list[PreferencePair] = []
    for entry, cand_a, cand_b in tqdm(pairs, desc=f"{name} judging", unit="pair", disable=not progress):
        song = _analysis_for(entry, manifest, known)
        for cand in (cand_a, cand_b):
            if len(cand.actions) != song.n_beats:
                raise RaterError(
                    f"{manifest.path}: candidate {cand.edit_id!r} has {len(cand.actions)} actions but song "
                    f"{entry.song_id!r} has {song.n_beats} beats; regenerate the candidates"
                )
        edit_a = Edit(entry.song_id, np.asarray(cand_a.actions))
        edit_b = Edit(entry.song_id, np.asarray(cand_b.actions))
        judgment = as_judgment(rater.judge(song, edit_a, edit_b), name)
        extra: dict = {"song_path": entry.song}
        if judgment.tie_kind is not None:
            extra["tie_kind"] = judgment.tie_kind
        out.append(
            PreferencePair(
                song_id=entry.song_id,
                edit_a=_edit_ref(cand_a),
                edit_b=_edit_ref(cand_b),
                preference=Preference(judgment.preference),
                strength=Strength(int(judgment.strength)),
                rater=name,
                timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
                notes=judgment.notes,
                **extra,
            )
        )
    return out


def with_absolute_paths(pair: PreferencePair, manifest: Manifest) -> PreferencePair:
    """``pair`` with its ``song_path`` and edit paths absolute, so the file works wherever it is written."""
    data = pair.to_json()
    data["song_path"] = str(manifest.resolve(pair.song_path)) if pair.song_path else None
    for side in ("edit_a", "edit_b"):
        data[side]["path"] = str(manifest.resolve(data[side]["path"]))
    return PreferencePair.model_validate({k: v for k, v in data.items() if v is not None})


def synthesize_preferences_file(
    manifest_path: str | Path, out_path: str | Path, rater: Rater, n_pairs: int | None = None, seed: int = 0
) -> list[PreferencePair]:
    """Load a manifest, synthesize preferences and write them atomically to ``out_path``.

    The written ``song_path`` and edit paths are absolute (:func:`with_absolute_paths`), so
    ``rl-editor train-reward`` finds the songs wherever ``out_path`` is, without the manifest.
    """
    from rl_editor.preferences import save_preferences

    manifest = Manifest.load(manifest_path)
    pairs = [
        with_absolute_paths(p, manifest) for p in synthesize_preferences(manifest, rater, n_pairs=n_pairs, seed=seed)
    ]
    save_preferences(out_path, pairs)
    return pairs
