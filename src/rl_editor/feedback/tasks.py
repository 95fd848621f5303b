"""Which pairs to compare, and who judges what next.

Planning (pure functions over the manifest):

- :func:`plan_pairs` picks each song's pairs of candidates (all, or the ``K``
  whose actions differ most by Hamming distance);
- :func:`overlap_targets` decides how many raters judge each pair, so a share of
  pairs is seen by two or more raters (for agreement);
- :func:`broken_actions` makes a deliberately bad edit for gold pairs: cut runs
  that start in the middle of a bar, so the music skips off the beat grid.

Scheduling (:func:`assign_next`, and :func:`reserve_ahead` for the task after
the current one) runs inside one database transaction and relies
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
from sqlalchemy import Boolean, Integer, Select, String, and_, bindparam, case, exists, func, insert, select, update
from sqlalchemy.orm import Session

from rl_editor.edit import CUT, beat_sequence
from rl_editor.feedback.listening import edit_timeline_s
from rl_editor.feedback.models import Assignment, Campaign, Meta, Rater, SongRecord, Task, utc_now
from rl_editor.feedback.settings import SETTINGS, FeedbackSettings
from rl_editor.generate.manifest import Candidate

GOLD_PER_RATER_KEY = "gold_per_rater"  # the meta key task creation sets


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


def broken_actions(
    actions: list[int], positions_in_bar: np.ndarray, rng: random.Random, run_beats: int = 3, every_bars: int = 2
) -> list[int]:
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
    starts = edit_timeline_s(seq, bounds_s)[:-1]
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


def new_task(
    campaign: str,
    song_id: str,
    edit_a: str,
    edit_b: str | None = None,
    *,
    gold: bool = False,
    priority: float = 0.0,
    target_raters: int = 1,
) -> Task:
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
    return Task(
        id=new_task_id(),
        campaign=campaign,
        kind=kind,
        pair_key=key,
        song_id=song_id,
        edit_a=edit_a,
        edit_b=edit_b,
        is_gold=gold,
        priority=float(priority),
        target_raters=int(target_raters),
        n_assigned=0,
        n_judged=0,
    )


@dataclass
class AssignedTask:
    """An assignment as the scheduler hands it out, with the columns of its task a view needs."""

    assignment_id: int
    task_id: str
    presented_order: str
    kind: str = "pair"
    song_id: str = ""
    campaign: str = ""
    edit_a: str = ""
    edit_b: str | None = None
    song_columns: tuple[float, str, str] | None = None  # the song's duration_seconds, beats_json, downbeats_json


@dataclass
class RaterState:
    """What the scheduler knows of one rater, read in one query (:func:`read_rater_state`).

    ``open`` is the rater's current task (their oldest unjudged assignment) and
    ``ahead`` the one reserved to follow it (:func:`reserve_ahead`), if any;
    ``per_campaign`` counts the rater's assignments in each campaign;
    ``full_campaigns`` are the campaigns whose ``rater_quota`` they have reached.
    """

    held_out: bool
    gold_per_rater: int
    n_assigned: int
    n_gold: int
    n_done: int
    open: AssignedTask | None
    per_campaign: Counter[str] = field(default_factory=Counter)
    full_campaigns: list[str] = field(default_factory=list)
    ahead: AssignedTask | None = None

    def took(self, task: AssignedTask, gold: bool) -> None:
        """Count a task just handed to the rater (their current one, or the one after it when they hold one)."""
        self.n_assigned += 1
        self.n_gold += int(gold)
        self.per_campaign[task.campaign] += 1
        if self.open is None:
            self.open = task
        else:
            self.ahead = task


_T, _A, _C, _R, _M, _S = (
    Task.__table__,
    Assignment.__table__,
    Campaign.__table__,
    Rater.__table__,
    Meta.__table__,
    SongRecord.__table__,
)

# Statements are built once with bound parameters: building and cache-keying them
# per request would cost more than running them.
_NOT_SEEN = ~exists().where(_A.c.task_id == _T.c.id, _A.c.rater_id == bindparam("rater_id"))
_HELD_OUT = bindparam("held_out", type_=Boolean)
_NOT_FULL = _T.c.campaign.not_in(bindparam("full", expanding=True))
_GOLD_PER_RATER = select(_M.c.value).where(_M.c.key == GOLD_PER_RATER_KEY).scalar_subquery()
# The rater's row (locked: their requests queue here, so two tabs never take two tasks), the store's
# gold setting and every assignment of theirs with its task and campaign, in one round trip.
_RATER_STATE = (
    select(
        _R.c.held_out,
        _GOLD_PER_RATER.label("gold_per_rater"),
        _A.c.id,
        _A.c.task_id,
        _A.c.presented_order,
        _A.c.judged_at,
        _T.c.is_gold,
        _T.c.kind,
        _T.c.song_id,
        _T.c.edit_a,
        _T.c.edit_b,
        _T.c.campaign,
        _C.c.rater_quota,
    )
    .select_from(
        _R.outerjoin(
            _A.join(_T, _T.c.id == _A.c.task_id).join(_C, _C.c.name == _T.c.campaign), _A.c.rater_id == _R.c.id
        )
    )
    .where(_R.c.id == bindparam("rater_id"))
    .order_by(_A.c.id)
)
_RATER_STATE_LOCKED = _RATER_STATE.with_for_update(of=_R)
_TASK_COLUMNS = (_T.c.id, _T.c.kind, _T.c.song_id, _T.c.campaign, _T.c.edit_a, _T.c.edit_b)
_PICK_GOLD = (
    select(_T.c.id)
    .where(_T.c.is_gold.is_(True), _NOT_SEEN, _NOT_FULL)
    .order_by(func.random())
    .limit(1)
    .with_for_update(skip_locked=True, of=_T)
)
# The stop rule: a task is handed out only while fewer raters hold it than it needs.
_ELIGIBLE = and_(_T.c.is_gold.is_(False), _C.c.held_out_only == _HELD_OUT, _T.c.n_assigned < _T.c.target_raters)
_PICK_REGULAR = (
    select(_T.c.id)
    .join(_C, _C.c.name == _T.c.campaign)
    .where(_ELIGIBLE, _NOT_SEEN, _NOT_FULL)
    .order_by(_T.c.priority.desc(), _T.c.n_assigned, func.random())
    .limit(1)
    .with_for_update(skip_locked=True, of=_T)
)
_INSERT_ASSIGNMENT = insert(_A).returning(_A.c.id)
_BUMP_ASSIGNED = (
    update(_T).where(_T.c.id == bindparam("tid")).values(n_assigned=_T.c.n_assigned + 1).returning(*_TASK_COLUMNS)
)


def _take_in_one_statement(pick: Select) -> Select:
    """PostgreSQL: pick a task (``FOR UPDATE SKIP LOCKED``), count it assigned and insert the
    assignment in one statement (data-modifying CTEs); returns the assignment id, the task's
    columns and its song's beat grid."""
    picked = pick.cte("picked")
    bumped = (
        update(_T)
        .where(_T.c.id == picked.c.id)
        .values(n_assigned=_T.c.n_assigned + 1)
        .returning(*_TASK_COLUMNS)
        .cte("bumped")
    )
    inserted = (
        insert(_A)
        .from_select(
            ["task_id", "rater_id", "presented_order", "assigned_at"],
            select(
                bumped.c.id,
                bindparam("rater_id", type_=Integer),
                bindparam("presented_order", type_=String),
                bindparam("assigned_at", type_=String),
            ),
        )
        .returning(_A.c.id.label("assignment_id"), _A.c.task_id)
        .cte("inserted")
    )
    return (
        select(inserted.c.assignment_id, *bumped.c, _S.c.duration_seconds, _S.c.beats_json, _S.c.downbeats_json)
        .join(bumped, bumped.c.id == inserted.c.task_id)
        .outerjoin(_S, _S.c.song_id == bumped.c.song_id)
    )


_TAKE_GOLD = _take_in_one_statement(_PICK_GOLD)
_TAKE_REGULAR = _take_in_one_statement(_PICK_REGULAR)
_AVAILABLE_BY_CAMPAIGN = (
    select(
        _T.c.campaign,
        _C.c.rater_quota,
        func.coalesce(func.sum(case((_ELIGIBLE, 1), else_=0)), 0),
        func.coalesce(func.sum(case((_T.c.is_gold.is_(True), 1), else_=0)), 0),
    )
    .select_from(_T.join(_C, _C.c.name == _T.c.campaign))
    .where(_NOT_SEEN)
    .group_by(_T.c.campaign, _C.c.rater_quota)
)


def read_rater_state(session: Session, rater_id: int, lock: bool) -> RaterState:
    """The rater's state in one query (``lock``: their row is locked until the transaction ends)."""
    rows = session.execute(_RATER_STATE_LOCKED if lock else _RATER_STATE, {"rater_id": rater_id}).all()
    if not rows:
        raise LookupError(f"no rater with id {rater_id}")
    assigned = [r for r in rows if r.id is not None]
    unjudged = [
        AssignedTask(r.id, r.task_id, r.presented_order, r.kind, r.song_id, r.campaign, r.edit_a, r.edit_b)
        for r in assigned
        if r.judged_at is None
    ]  # oldest first: the current task, then the one reserved
    per_campaign = Counter(r.campaign for r in assigned)
    quotas = {r.campaign: int(r.rater_quota) for r in assigned if r.rater_quota is not None}
    return RaterState(
        held_out=bool(rows[0].held_out),
        gold_per_rater=int(rows[0].gold_per_rater or 0),
        n_assigned=len(assigned),
        n_gold=sum(1 for r in assigned if r.is_gold),
        n_done=sum(1 for r in assigned if r.judged_at is not None),
        open=unjudged[0] if unjudged else None,
        per_campaign=per_campaign,
        full_campaigns=sorted(c for c, quota in quotas.items() if per_campaign[c] >= quota),
        ahead=unjudged[1] if len(unjudged) > 1 else None,
    )


def _take(session: Session, rater_id: int, state: RaterState, gold: bool, order: str) -> AssignedTask | None:
    """Hand the rater their next task of one kind (row-locked, skipping rows other transactions hold)."""
    params = {"rater_id": rater_id, "full": state.full_campaigns, "held_out": state.held_out}
    if session.get_bind().dialect.name == "postgresql":
        row = session.execute(
            _TAKE_GOLD if gold else _TAKE_REGULAR, {**params, "presented_order": order, "assigned_at": utc_now()}
        ).first()
        if row is None:
            return None
        song = None if row.beats_json is None else (row.duration_seconds, row.beats_json, row.downbeats_json)
        return AssignedTask(
            row.assignment_id, row.id, order, row.kind, row.song_id, row.campaign, row.edit_a, row.edit_b, song
        )
    task_id = session.execute(_PICK_GOLD if gold else _PICK_REGULAR, params).scalar()
    if task_id is None:
        return None
    assignment_id = session.execute(
        _INSERT_ASSIGNMENT,
        {"task_id": task_id, "rater_id": rater_id, "presented_order": order, "assigned_at": utc_now()},
    ).scalar_one()
    task = session.execute(_BUMP_ASSIGNED, {"tid": task_id}).one()
    return AssignedTask(assignment_id, task.id, order, task.kind, task.song_id, task.campaign, task.edit_a, task.edit_b)


def gold_due(n_assigned: int, n_gold: int, gold_per_rater: int, settings: FeedbackSettings = SETTINGS) -> bool:
    """Whether a rater holding ``n_assigned`` tasks (``n_gold`` of them gold) gets a gold pair next."""
    if n_gold >= gold_per_rater:
        return False
    return n_assigned >= settings.gold_first_at + n_gold * settings.gold_spacing


def assign_next(
    session: Session,
    rater_id: int,
    state: RaterState | None = None,
    rng: random.Random | None = None,
    settings: FeedbackSettings = SETTINGS,
) -> AssignedTask | None:
    """The rater's open assignment, or a new one; ``None`` when nothing is left.

    Must run inside a transaction the caller commits; ``state`` (read with
    ``lock=True`` in the same transaction) is updated with the new task. The
    next task is the highest-priority open task the rater has not seen (ties:
    the least assigned, then random), in a campaign where the rater is under
    its quota; a task is open while fewer raters hold it than its
    ``target_raters`` (the campaign's votes per pair). Gold pairs are
    interleaved (``gold_due``) and also fill in when regular tasks run out.
    The A/B order shown is drawn at random.
    """
    state = state or read_rater_state(session, rater_id, lock=True)
    if state.open is not None:
        return state.open
    return _take_next(session, rater_id, state, rng or random.Random(), settings)


def reserve_ahead(
    session: Session,
    rater_id: int,
    state: RaterState | None = None,
    rng: random.Random | None = None,
    settings: FeedbackSettings = SETTINGS,
) -> AssignedTask | None:
    """The task the rater gets after their current one: the one reserved already, else one taken now.

    A rater holds at most one task ahead, so a page can fetch the next pair's
    audio while the current pair is judged. It is taken as :func:`assign_next`
    takes a task (same order, quotas, votes per pair, gold pairs and held-out
    campaigns) and is an assignment like any other: it counts as handed out
    (``n_assigned``) but not as judged until judged, becomes the rater's current
    task once the one before it is judged, and is released like any assignment
    left unjudged (its age counts from the reservation). ``None`` when the rater
    has no current task (there is nothing to be ahead of) or nothing is left.
    Must run inside a transaction the caller commits, ``state`` read with
    ``lock=True`` in it and not used to take a task yet (its full campaigns
    would be out of date).
    """
    state = state or read_rater_state(session, rater_id, lock=True)
    if state.open is None or state.ahead is not None:
        return state.ahead
    return _take_next(session, rater_id, state, rng or random.Random(), settings)


def _take_next(
    session: Session, rater_id: int, state: RaterState, rng: random.Random, settings: FeedbackSettings
) -> AssignedTask | None:
    """Hand the rater one more task: a gold pair when one is due, else the best regular task, else a gold pair
    still owed; ``state`` counts it."""
    order = rng.choice(("ab", "ba"))
    task, gold = None, False
    if gold_due(state.n_assigned, state.n_gold, state.gold_per_rater, settings):
        task, gold = _take(session, rater_id, state, gold=True, order=order), True
    if task is None:
        task, gold = _take(session, rater_id, state, gold=False, order=order), False
    if task is None and state.n_gold < state.gold_per_rater:
        task, gold = _take(session, rater_id, state, gold=True, order=order), True
    if task is not None:
        state.took(task, gold)
    return task


def rater_progress(session: Session, rater_id: int, state: RaterState | None = None) -> tuple[int, int]:
    """(judged, total) for one rater: total = judged + open + what they can still be handed.

    What they can still be handed is, per campaign, the open tasks they have not
    seen that still need votes, capped by what is left of their quota there;
    plus the gold pairs still due to them (within their campaigns' quotas).
    """
    state = state or read_rater_state(session, rater_id, lock=False)
    rows = session.execute(_AVAILABLE_BY_CAMPAIGN, {"rater_id": rater_id, "held_out": state.held_out}).all()
    gold_more = max(state.gold_per_rater - state.n_gold, 0)
    more = 0
    for campaign, quota, available, gold_left in rows:
        gold_here = min(gold_more, int(gold_left))
        gold_more -= gold_here
        wanted = int(available) + gold_here
        more += wanted if quota is None else min(wanted, max(int(quota) - state.per_campaign[campaign], 0))
    open_ = state.n_assigned - state.n_done
    return state.n_done, state.n_done + open_ + more
