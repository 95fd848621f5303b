"""A listening campaign with nobody in the room: bots judging through the feedback server's HTTP API.

:func:`sampled_manifest` makes candidates without a policy (``sample_edits``)
and renders them; :func:`simulate_campaign` serves them with the real app
(FastAPI's ``TestClient``, so no port is opened), lets one rater bot per
simulated rater judge in turns (:func:`run_rater_bots`) and returns every
judgment, gold pairs included, as the store exports them. Screening
(``rl_editor.feedback.screening``) and its benchmark run on such campaigns.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rl_editor.audio.song import SongAnalysis
from rl_editor.generate.manifest import Candidate, Manifest, SongEntry
from rl_editor.preferences import PreferencePair
from rl_editor.raters.bot import run_rater_bot
from rl_editor.raters.simulated import Rater

BASE_URL = "http://testserver"


def sampled_manifest(
    songs: Sequence[tuple[Path, SongAnalysis]],
    root: Path,
    n_candidates: int,
    rng: np.random.Generator,
    render: bool = True,
) -> Manifest:
    """A manifest of ``n_candidates`` sampled edits per song under ``root`` (songs referenced in place).

    Parameters
    ----------
    songs : sequence of (audio path, analysis)
        The songs, analysed.
    root : Path
        Folder of the manifest and the rendered candidates (created).
    n_candidates : int
        Edits per song (:func:`rl_editor.raters.tastes.sample_edits`).
    rng : numpy Generator
    render : bool
        Render each candidate's audio; False leaves the files unmade (the store's
        Python API judges actions and needs no audio).

    Returns
    -------
    Manifest
        Saved as ``root / "manifest.json"``.
    """
    from rl_editor.audio import render_edit, save_audio
    from rl_editor.edit import beat_sequence
    from rl_editor.raters.tastes import sample_edits

    root.mkdir(parents=True, exist_ok=True)
    entries = []
    for path, analysis in songs:
        candidates = []
        for c, actions in enumerate(sample_edits(analysis, n_candidates, rng)):
            rel = f"{analysis.song_id}/c{c}.wav"
            if render:
                save_audio(root / rel, render_edit(path, analysis, actions))
            candidates.append(
                Candidate(
                    edit_id=f"{analysis.song_id}-c{c}",
                    temperature=0.0,
                    path=rel,
                    duration=float(analysis.beat_durations_s[beat_sequence(actions)].sum()),
                    actions=actions.tolist(),
                    policy="sampled",
                    seed=c,
                )
            )
        entries.append(
            SongEntry(
                song=str(Path(path).resolve()),
                song_id=analysis.song_id,
                duration_seconds=analysis.duration_seconds,
                beats=analysis.beat_times_s.tolist(),
                downbeats=analysis.downbeat_times_s.tolist(),
                candidates=candidates,
            )
        )
    manifest = Manifest(root=root.resolve(), songs=entries)
    manifest.save()
    return manifest


def judge_next_task(store: Any, rater_id: int, rater: Rater, analyses: dict[str, SongAnalysis]) -> bool:
    """``rater`` judges the task the store's scheduler hands ``rater_id`` (the code behind ``/api/next`` and
    ``/api/judgments``); False when it has none left."""
    import uuid

    from rl_editor.edit import Edit
    from rl_editor.feedback.storage import JudgmentIn

    view = store.next_task(rater_id)
    if view is None:
        return False
    a, b = (Edit(view.song_id, np.asarray(e.actions)) for e in view.edits)
    answer = rater.judge(analyses[view.song_id], a, b)
    store.submit_judgment(
        rater_id,
        JudgmentIn(
            client_id=str(uuid.uuid4()),
            task_id=view.task_id,
            preference=answer.preference,
            tie_kind=answer.tie_kind,
            strength=int(answer.strength),
        ),
    )
    return True


def run_rater_bots(
    url: str, raters: dict[str, Rater], tokens: dict[str, str], tasks_per_turn: int = 5, *, client: Any = None
) -> dict[str, int]:
    """Several bots taking turns on one server, ``tasks_per_turn`` judgments each, until every one is done.

    Taking turns, as people working at the same time do, lets pairs meant for
    several raters reach several raters (one bot running alone would take the
    first vote of every pair before the next one starts).

    Returns
    -------
    dict of name -> int
        Judgments each bot made.
    """
    judged = dict.fromkeys(raters, 0)
    active = list(raters)
    while active:
        for name in list(active):
            made = run_rater_bot(url, tokens[name], raters[name], max_tasks=tasks_per_turn, client=client)
            judged[name] += made
            if made < tasks_per_turn:
                active.remove(name)
    return judged


def simulate_campaign(
    manifest: Manifest, raters: dict[str, Rater], task_config: Any, tasks_per_turn: int = 5
) -> list[PreferencePair]:
    """Serve ``manifest`` and let every rater judge through the HTTP API until the server is done.

    Parameters
    ----------
    manifest : Manifest
        Candidates to compare; the database is ``feedback.sqlite`` beside it (created).
    raters : dict of name -> Rater
        The raters, each added to the server under its name.
    task_config : rl_editor.feedback.tasks.TaskConfig
        Pairs per song, raters per pair, gold pairs per rater.
    tasks_per_turn : int
        Judgments a bot makes before the next one takes a turn.

    Returns
    -------
    list of PreferencePair
        Every pair judgment, gold pairs included (``is_gold``).
    """
    from fastapi.testclient import TestClient

    from rl_editor.feedback.app import create_app
    from rl_editor.feedback.storage import FeedbackStore
    from rl_editor.feedback.store.catalog import songs_common_folder

    with FeedbackStore.open(None, manifest.path) as chosen:  # the songs this campaign sampled are its library
        chosen.set_song_library(songs_common_folder(manifest), keep_existing=True)
    app = create_app(manifest.path, task_config=task_config)
    store = app.state.store
    with TestClient(app) as client:
        tokens = {name: store.add_rater(name) for name in raters}
        run_rater_bots(BASE_URL, raters, tokens, tasks_per_turn, client=client)
    pairs: list[PreferencePair] = store.export_pairs(include_gold=True)
    store.close()
    return pairs
