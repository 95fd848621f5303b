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
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Boolean, and_, bindparam, case, exists, func, insert, select, update
from sqlalchemy.orm import Session

from rl_editor.edit import CUT, beat_sequence
from rl_editor.feedback.models import Assignment, Campaign, Rater, Task, utc_now
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
    votes_per_pair : int or None
        Raters who judge every pair of the campaign (replaces ``raters_per_pair``
        and ``overlap_share``; kept with the campaign); ``None`` keeps those.
    rater_quota : int or None
        Most tasks one rater is handed in the campaign, gold pairs included
        (kept with the campaign); ``None``: no cap.
    """

    pairs_per_song: int | None = None
    raters_per_pair: int = 1
    overlap_share: float = 0.2
    gold_per_rater: int = 2
    ratings_per_song: int = 0
    campaign: str = "collect"
    seed: int = 0
    votes_per_pair: int | None = None
    rater_quota: int | None = None


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


def new_task(campaign: str, song_id: str, edit_a: str, edit_b: str | None = None, *, gold: bool = False,
             priority: float = 0.0, target_raters: int = 1) -> Task:
    """A new task row, not yet assigned or judged: ``edit_a`` against ``edit_b``, or ``edit_a`` alone to rate.

    Parameters
    ----------
    campaign, song_id : str
        Where the task belongs.
    edit_a, edit_b : str
        Edit ids; without ``edit_b`` the task is a rating (``kind='rating'``), else a pair.
    gold : bool
        A gold pair: ``edit_a`` intact, ``edit_b`` its broken copy (keyed apart from a plain pair).
    priority : float
        Among tasks handed out equally often, the higher goes first.
    target_raters : int
        How many raters should judge it (0: any number, as gold pairs).

    Returns
    -------
    Task
        Its ``pair_key`` identifies it within the campaign (:func:`pair_key`).
    """
    kind = "pair" if edit_b is not None else "rating"
    key = pair_key("gold" if gold else kind, edit_a, edit_b)
    return Task(id=new_task_id(), campaign=campaign, kind=kind, pair_key=key, song_id=song_id, edit_a=edit_a,
                edit_b=edit_b, is_gold=gold, priority=float(priority), target_raters=int(target_raters),
                n_assigned=0, n_judged=0)


@dataclass
class AssignedTask:
    """An assignment as the scheduler hands it out."""

    assignment_id: int
    task_id: str
    presented_order: str


@dataclass
class RaterState:
    """What the scheduler knows of one rater, read in one query.

    ``full_campaigns`` are the campaigns whose ``rater_quota`` this rater has
    reached; ``quota_left`` is, per campaign with a quota, how many more tasks
    the rater may be handed there (campaigns not listed have no quota or no
    assignment of this rater yet).
    """

    held_out: bool
    n_assigned: int
    n_gold: int
    n_done: int
    open: AssignedTask | None
    full_campaigns: list[str] = field(default_factory=list)
    quota_left: dict[str, int] = field(default_factory=dict)


_T, _A, _C, _R = Task.__table__, Assignment.__table__, Campaign.__table__, Rater.__table__

# Statements are built once with bound parameters: building and cache-keying them
# per request would cost more than running them.
_NOT_SEEN = ~exists().where(_A.c.task_id == _T.c.id, _A.c.rater_id == bindparam("rater_id"))
_HELD_OUT = bindparam("held_out", type_=Boolean)
_NOT_FULL = _T.c.campaign.not_in(bindparam("full", expanding=True))
_RATER_HELD_OUT = select(_R.c.held_out).where(_R.c.id == bindparam("rater_id"))
_RATER_HELD_OUT_LOCKED = _RATER_HELD_OUT.with_for_update()
_RATER_ASSIGNMENTS = (select(_A.c.id, _A.c.task_id, _A.c.presented_order, _A.c.judged_at, _T.c.is_gold,
                             _T.c.campaign, _C.c.rater_quota)
                      .join(_T, _T.c.id == _A.c.task_id).join(_C, _C.c.name == _T.c.campaign)
                      .where(_A.c.rater_id == bindparam("rater_id")).order_by(_A.c.id))
_PICK_GOLD = (select(_T.c.id).where(_T.c.is_gold.is_(True), _NOT_SEEN, _NOT_FULL).order_by(func.random()).limit(1)
              .with_for_update(skip_locked=True, of=_T))
# The stop rule: a task is handed out only while fewer raters hold it than it needs.
_ELIGIBLE = and_(_T.c.is_gold.is_(False), _C.c.held_out_only == _HELD_OUT, _T.c.n_assigned < _T.c.target_raters)
_PICK_REGULAR = (select(_T.c.id).join(_C, _C.c.name == _T.c.campaign)
                 .where(_ELIGIBLE, _NOT_SEEN, _NOT_FULL)
                 .order_by(_T.c.priority.desc(), _T.c.n_assigned, func.random()).limit(1)
                 .with_for_update(skip_locked=True, of=_T))
_INSERT_ASSIGNMENT = insert(_A).returning(_A.c.id)
_BUMP_ASSIGNED = update(_T).where(_T.c.id == bindparam("tid")).values(n_assigned=_T.c.n_assigned + 1)
_AVAILABLE_BY_CAMPAIGN = (select(_T.c.campaign, _C.c.rater_quota,
                                 func.coalesce(func.sum(case((_ELIGIBLE, 1), else_=0)), 0),
                                 func.coalesce(func.sum(case((_T.c.is_gold.is_(True), 1), else_=0)), 0))
                          .select_from(_T.join(_C, _C.c.name == _T.c.campaign)).where(_NOT_SEEN)
                          .group_by(_T.c.campaign, _C.c.rater_quota))


def _rater_state(session: Session, rater_id: int, lock: bool) -> RaterState:
    query = _RATER_HELD_OUT_LOCKED if lock else _RATER_HELD_OUT
    held_out = bool(session.execute(query, {"rater_id": rater_id}).scalar_one())
    rows = session.execute(_RATER_ASSIGNMENTS, {"rater_id": rater_id}).all()
    open_ = next((AssignedTask(r.id, r.task_id, r.presented_order) for r in rows if r.judged_at is None), None)
    per_campaign = Counter(r.campaign for r in rows)
    quotas = {r.campaign: int(r.rater_quota) for r in rows if r.rater_quota is not None}
    quota_left = {c: max(quota - per_campaign[c], 0) for c, quota in quotas.items()}
    return RaterState(held_out=held_out, n_assigned=len(rows), n_gold=sum(1 for r in rows if r.is_gold),
                      n_done=sum(1 for r in rows if r.judged_at is not None), open=open_,
                      full_campaigns=sorted(c for c, left in quota_left.items() if left == 0), quota_left=quota_left)


def _pick(session: Session, rater_id: int, state: RaterState, gold: bool) -> str | None:
    """Id of the next task (row-locked, skipping rows other transactions hold)."""
    params = {"rater_id": rater_id, "full": state.full_campaigns}
    if gold:
        return session.execute(_PICK_GOLD, params).scalar()
    return session.execute(_PICK_REGULAR, {**params, "held_out": state.held_out}).scalar()


def gold_due(n_assigned: int, n_gold: int, gold_per_rater: int, settings: FeedbackSettings = SETTINGS) -> bool:
    """Whether a rater holding ``n_assigned`` tasks (``n_gold`` of them gold) gets a gold pair next."""
    if n_gold >= gold_per_rater:
        return False
    return n_assigned >= settings.gold_first_at + n_gold * settings.gold_spacing


def assign_next(session: Session, rater_id: int, gold_per_rater: int, rng: random.Random | None = None,
                settings: FeedbackSettings = SETTINGS) -> AssignedTask | None:
    """The rater's open assignment, or a new one; ``None`` when nothing is left.

    Must run inside a transaction the caller commits. The next task is the
    highest-priority open task the rater has not seen (ties: the least
    assigned, then random), in a campaign where the rater is under its quota;
    a task is open while fewer raters hold it than its ``target_raters`` (the
    campaign's votes per pair). Gold pairs are interleaved (``gold_due``) and
    also fill in when regular tasks run out. The A/B order shown is drawn at random.
    """
    rng = rng or random.Random()
    state = _rater_state(session, rater_id, lock=True)
    if state.open is not None:
        return state.open
    task_id = None
    if gold_due(state.n_assigned, state.n_gold, gold_per_rater, settings):
        task_id = _pick(session, rater_id, state, gold=True)
    if task_id is None:
        task_id = _pick(session, rater_id, state, gold=False)
    if task_id is None and state.n_gold < gold_per_rater:
        task_id = _pick(session, rater_id, state, gold=True)
    if task_id is None:
        return None
    order = rng.choice(("ab", "ba"))
    assignment_id = session.execute(_INSERT_ASSIGNMENT, {"task_id": task_id, "rater_id": rater_id,
                                                         "presented_order": order,
                                                         "assigned_at": utc_now()}).scalar_one()
    session.execute(_BUMP_ASSIGNED, {"tid": task_id})
    return AssignedTask(assignment_id, task_id, order)


def rater_progress(session: Session, rater_id: int, gold_per_rater: int) -> tuple[int, int]:
    """(judged, total) for one rater: total = judged + open + what they can still be handed.

    What they can still be handed is, per campaign, the open tasks they have not
    seen that still need votes, capped by what is left of their quota there;
    plus the gold pairs still due to them (within their campaigns' quotas).
    """
    state = _rater_state(session, rater_id, lock=False)
    rows = session.execute(_AVAILABLE_BY_CAMPAIGN, {"rater_id": rater_id, "held_out": state.held_out}).all()
    gold_more = max(gold_per_rater - state.n_gold, 0)
    more = 0
    for campaign, quota, available, gold_left in rows:
        left = state.quota_left.get(campaign, quota)  # a campaign not started yet: its whole quota
        gold_here = min(gold_more, int(gold_left))
        gold_more -= gold_here
        wanted = int(available) + gold_here
        more += wanted if left is None else min(wanted, int(left))
    open_ = state.n_assigned - state.n_done
    return state.n_done, state.n_done + open_ + more
