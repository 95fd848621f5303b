"""Which pairs to compare, and who judges what next.

Planning (pure functions over the manifest):

- :func:`plan_pairs` picks each song's pairs of candidates (all, or the ``K``
  whose actions differ most by Hamming distance);
- :func:`overlap_targets` decides how many raters judge each pair, so a share of
  pairs is seen by two or more raters (for agreement);
- :func:`broken_actions` makes a deliberately bad edit for gold pairs: cut runs
  that start in the middle of a bar, so the music skips off the beat grid.

Scheduling (:func:`assign_next`) runs inside one database transaction and relies
on the database for safety under concurrency: the rater's row is locked
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite transactions start with
``BEGIN IMMEDIATE`` and so hold the write lock), candidate task rows are taken
with ``FOR UPDATE SKIP LOCKED``, and ``UNIQUE(task_id, rater_id)`` guarantees a
rater never receives the same task twice.
"""

from __future__ import annotations

import itertools
import random
import uuid
from dataclasses import dataclass

import numpy as np
from sqlalchemy import and_, case, exists, func, select, update
from sqlalchemy.orm import Session

from rl_editor.edit import CUT, beat_sequence
from rl_editor.feedback.models import Assignment, Campaign, Rater, Task
from rl_editor.feedback.settings import SETTINGS, FeedbackSettings
from rl_editor.generate.manifest import Candidate


@dataclass
class TaskConfig:
    """How comparison tasks are made from a manifest (CLI flags map one to one).

    Attributes
    ----------
    pairs_per_song : int or None
        At most this many pairs per song, favouring pairs whose actions differ
        most (Hamming distance); ``None`` makes all pairs.
    raters_per_pair : int
        Raters who judge each pair.
    overlap_share : float
        Share of pairs (0-1) judged by at least two raters, for agreement.
    gold_per_rater : int
        Gold pairs (an edit against a deliberately broken one) each rater gets.
    ratings_per_song : int
        Absolute rating tasks (one edit, 1-4) per song.
    campaign : str
        Campaign the tasks belong to.
    seed : int
        Seed of the random choices (overlap pairs, rated edits, broken edits).
    """

    pairs_per_song: int | None = None
    raters_per_pair: int = 1
    overlap_share: float = 0.2
    gold_per_rater: int = 2
    ratings_per_song: int = 0
    campaign: str = "collect"
    seed: int = 0


def hamming(actions_a: list[int], actions_b: list[int]) -> int:
    """Number of beats whose action differs (extra beats of the longer list count as different)."""
    a, b = np.asarray(actions_a), np.asarray(actions_b)
    n = min(a.size, b.size)
    return int(np.count_nonzero(a[:n] != b[:n]) + abs(a.size - b.size))


def plan_pairs(candidates: list[Candidate], pairs_per_song: int | None = None) -> list[tuple[Candidate, Candidate]]:
    """Pairs of one song's candidates, most different first.

    Parameters
    ----------
    candidates : list of Candidate
        The song's candidates.
    pairs_per_song : int or None
        Keep at most this many pairs; ``None`` keeps all ``n*(n-1)/2``.

    Returns
    -------
    list of (Candidate, Candidate)
        Sorted by Hamming distance of the actions, largest first (ties keep
        manifest order). Identical action sequences are never paired.
    """
    pairs = [(a, b) for a, b in itertools.combinations(candidates, 2) if list(a.actions) != list(b.actions)]
    pairs.sort(key=lambda p: -hamming(p[0].actions, p[1].actions))
    return pairs if pairs_per_song is None else pairs[: max(0, pairs_per_song)]


def overlap_targets(n_pairs: int, raters_per_pair: int, overlap_share: float, rng: random.Random) -> list[int]:
    """How many raters judge each of ``n_pairs`` pairs.

    A share ``overlap_share`` of the pairs (rounded, chosen at random) gets at
    least two raters; the rest get ``raters_per_pair``.
    """
    targets = [max(1, raters_per_pair)] * n_pairs
    n_overlap = int(round(min(max(overlap_share, 0.0), 1.0) * n_pairs))
    for i in rng.sample(range(n_pairs), n_overlap):
        targets[i] = max(targets[i], 2)
    return targets


def beat_in_bar(beats_s: list[float], downbeats_s: list[float], beats_per_bar: int = 4) -> np.ndarray:
    """Position of each beat in its bar (0 on downbeats), from the manifest's beat lists."""
    beats = np.asarray(beats_s, dtype=float)
    downs = np.asarray(downbeats_s, dtype=float)
    if beats.size == 0:
        return np.zeros(0, dtype=int)
    if downs.size == 0:
        return np.arange(beats.size) % beats_per_bar
    is_down = np.isclose(beats[:, None], downs[None, :], atol=1e-3).any(axis=1)
    first = int(np.argmax(is_down)) if is_down.any() else 0
    position = np.zeros(beats.size, dtype=int)
    counter = (-first) % beats_per_bar
    for i in range(beats.size):
        if is_down[i]:
            counter = 0
        position[i] = counter % beats_per_bar
        counter += 1
    return position


def broken_actions(actions: list[int], positions_in_bar: np.ndarray, rng: random.Random,
                   run_beats: int = 3, every_bars: int = 2) -> list[int]:
    """A deliberately bad version of ``actions``: cuts that start mid-bar.

    Every ``every_bars`` bars (from the second bar on, never touching the first
    or last beat), a run of ``run_beats`` beats starting on beat 2 or 3 of the
    bar is cut, so the music skips off the beat grid. Returns a new list.
    """
    out = [int(a) for a in actions]
    n = len(out)
    starts = [i for i in range(1, n - 1) if positions_in_bar[i] in (1, 2)]
    bar_index = np.cumsum(positions_in_bar == 0)
    chosen: list[int] = []
    for bar in sorted(set(int(bar_index[i]) for i in starts)):
        if bar % every_bars != 1:
            continue
        options = [i for i in starts if bar_index[i] == bar]
        chosen.append(rng.choice(options))
    if not chosen and starts:
        chosen = [starts[len(starts) // 2]]
    for start in chosen:
        for i in range(start, min(start + run_beats, n - 1)):
            out[i] = CUT
    return out


def segment_bounds(beats_s: list[float], duration_seconds: float) -> np.ndarray:
    """Shape (n_beats + 1,): where each beat's audio starts, as in ``SongAnalysis.segment_bounds_s``."""
    bounds = np.append(np.asarray(beats_s, dtype=float), float(duration_seconds))
    if bounds.size > 1:
        bounds[0] = 0.0
    return bounds


def splice_times(actions: list[int], bounds_s: np.ndarray) -> tuple[list[int], list[float]]:
    """Playback beat order and the output time (s) of each splice of an edit.

    Returns
    -------
    sequence : list of int
        Source beat indices in playback order.
    splice_times_s : list of float
        Time in the rendered edit where each jump (cut or repeat) is heard.
    """
    seq = beat_sequence(np.asarray(actions))
    if seq.size == 0:
        return [], []
    durations = np.diff(bounds_s)[seq]
    starts = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    jumps = np.flatnonzero(seq[1:] != seq[:-1] + 1)
    return seq.tolist(), [round(float(t), 4) for t in starts[jumps + 1]]


def pair_key(kind: str, edit_a: str, edit_b: str | None) -> str:
    """Order-free identity of a task within a campaign."""
    if edit_b is None:
        return f"{kind}:{edit_a}"
    lo, hi = sorted((edit_a, edit_b))
    return f"{kind}:{lo}|{hi}"


def new_task_id() -> str:
    return str(uuid.uuid4())


def _open_assignment(session: Session, rater_id: int) -> Assignment | None:
    return session.scalars(
        select(Assignment).where(Assignment.rater_id == rater_id, Assignment.judged_at.is_(None))
        .order_by(Assignment.id).limit(1)
    ).first()


def _pick_regular(session: Session, rater: Rater) -> Task | None:
    seen = exists().where(Assignment.task_id == Task.id, Assignment.rater_id == rater.id)
    query = (
        select(Task)
        .join(Campaign, Campaign.name == Task.campaign)
        .where(Task.is_gold.is_(False), Campaign.held_out_only.is_(bool(rater.held_out)),
               Task.n_assigned < Task.target_raters, ~seen)
        .order_by(Task.n_assigned, Task.priority.desc(), func.random())
        .limit(1)
        .with_for_update(skip_locked=True, of=Task)
    )
    return session.scalars(query).first()


def _pick_gold(session: Session, rater: Rater) -> Task | None:
    seen = exists().where(Assignment.task_id == Task.id, Assignment.rater_id == rater.id)
    query = (select(Task).where(Task.is_gold.is_(True), ~seen).order_by(func.random()).limit(1)
             .with_for_update(skip_locked=True, of=Task))
    return session.scalars(query).first()


def _rater_counts(session: Session, rater_id: int) -> tuple[int, int]:
    """(assignments held, of which gold) for one rater."""
    row = session.execute(
        select(func.count(Assignment.id), func.coalesce(func.sum(case((Task.is_gold.is_(True), 1), else_=0)), 0))
        .join(Task, Task.id == Assignment.task_id).where(Assignment.rater_id == rater_id)
    ).one()
    return int(row[0]), int(row[1])


def gold_due(n_assigned: int, n_gold: int, gold_per_rater: int, settings: FeedbackSettings = SETTINGS) -> bool:
    """Whether a rater holding ``n_assigned`` tasks (``n_gold`` of them gold) gets a gold pair next."""
    if n_gold >= gold_per_rater:
        return False
    return n_assigned >= settings.gold_first_at + n_gold * settings.gold_spacing


def assign_next(session: Session, rater_id: int, gold_per_rater: int, rng: random.Random | None = None,
                settings: FeedbackSettings = SETTINGS) -> Assignment | None:
    """The rater's open assignment, or a new one; ``None`` when nothing is left.

    Must run inside a transaction the caller commits. The next task is the
    least-assigned open task the rater has not seen (ties: higher priority, then
    random); gold pairs are interleaved (``gold_due``) and also fill in when
    regular tasks run out. The A/B order shown is drawn at random.
    """
    rng = rng or random.Random()
    rater = session.scalars(select(Rater).where(Rater.id == rater_id).with_for_update()).one()
    current = _open_assignment(session, rater_id)
    if current is not None:
        return current
    n_assigned, n_gold = _rater_counts(session, rater_id)
    task = None
    if gold_due(n_assigned, n_gold, gold_per_rater, settings):
        task = _pick_gold(session, rater)
    if task is None:
        task = _pick_regular(session, rater)
    if task is None and n_gold < gold_per_rater:
        task = _pick_gold(session, rater)
    if task is None:
        return None
    assignment = Assignment(task_id=task.id, rater_id=rater_id, presented_order=rng.choice(("ab", "ba")))
    session.add(assignment)
    session.execute(update(Task).where(Task.id == task.id).values(n_assigned=Task.n_assigned + 1))
    session.flush()
    return assignment


def rater_progress(session: Session, rater_id: int, gold_per_rater: int) -> tuple[int, int]:
    """(judged, total) for one rater: total = judged + open + tasks still available to them."""
    rater = session.get(Rater, rater_id)
    done = session.scalar(select(func.count(Assignment.id)).where(
        Assignment.rater_id == rater_id, Assignment.judged_at.is_not(None))) or 0
    open_ = session.scalar(select(func.count(Assignment.id)).where(
        Assignment.rater_id == rater_id, Assignment.judged_at.is_(None))) or 0
    seen = exists().where(Assignment.task_id == Task.id, Assignment.rater_id == rater_id)
    available = session.scalar(
        select(func.count(Task.id)).join(Campaign, Campaign.name == Task.campaign)
        .where(Task.is_gold.is_(False), Campaign.held_out_only.is_(bool(rater.held_out)),
               Task.n_assigned < Task.target_raters, ~seen)) or 0
    _, n_gold = _rater_counts(session, rater_id)
    gold_left = session.scalar(select(func.count(Task.id)).where(and_(Task.is_gold.is_(True), ~seen))) or 0
    return int(done), int(done + open_ + available + min(max(gold_per_rater - n_gold, 0), gold_left))
