"""The headphone check (Woods et al., 2017): drawing its trials, scoring answers, keeping results per rater.

Each trial plays three 200 Hz tones: one at the reference level, one 6 dB
quieter, and one at the reference level in antiphase across the two channels.
The rater picks the quietest. Over headphones that is the quiet tone; over
loudspeakers the antiphase tone partly cancels in the air and sounds quieter
still, so a rater without headphones tends to pick it. The server draws where
the quiet and antiphase tones sit in each trial and keeps that with the
attempt, so a result is always the server's score of the rater's answers,
never a client's claim. :data:`TRIALS` trials, passed with :data:`PASS_SCORE`
right; a rater gets :data:`MAX_ATTEMPTS` attempts.

Reference: K. J. P. Woods, M. H. Siegel, J. Traer, J. H. McDermott, "Headphone
screening to facilitate web-based auditory experiments", Attention, Perception,
& Psychophysics 79 (2017), 2064-2072.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from rl_editor.feedback.models import HeadphoneCheck, utc_now
from rl_editor.feedback.store.database import Database
from rl_editor.feedback.store.errors import ConflictError, ForbiddenError, InvalidJudgmentError, NotFoundError
from rl_editor.feedback.store.meta import headphone_check_on

TRIALS = 6
PASS_SCORE = 5
MAX_ATTEMPTS = 2
TONES_PER_TRIAL = 3
SETTING_CACHE_SECONDS = 5.0
CHECK_ID_MAX = 2**31 - 1  # ids are 32-bit integers in PostgreSQL


@dataclass(frozen=True)
class HeadphoneStatus:
    """Where a rater stands with the headphone check.

    ``required`` says whether the store asks for it; ``passed`` is ``None``
    before any answered attempt; ``score`` and ``checked_at`` are of the best
    answered attempt.
    """

    required: bool
    passed: bool | None
    score: int | None
    trials: int
    attempts_used: int
    attempts_left: int
    checked_at: str | None


def draw_trials(rng: random.Random, n_trials: int = TRIALS) -> list[dict[str, int]]:
    """Per trial, which of the three tones is the quiet one (the answer) and which the antiphase one."""
    trials = []
    for _ in range(n_trials):
        quiet, antiphase = rng.sample(range(TONES_PER_TRIAL), 2)
        trials.append({"quiet": quiet, "antiphase": antiphase})
    return trials


def tone_kinds(trials: list[dict[str, int]]) -> list[list[str]]:
    """The tones of each trial in playing order: ``reference``, ``quiet`` or ``antiphase`` (what the page plays)."""
    kinds = []
    for trial in trials:
        tones = ["reference"] * TONES_PER_TRIAL
        tones[trial["quiet"]], tones[trial["antiphase"]] = "quiet", "antiphase"
        kinds.append(tones)
    return kinds


def score_answers(trials: list[dict[str, int]], answers: list[int]) -> int:
    """How many answers name the quiet tone of their trial."""
    return sum(int(answer == trial["quiet"]) for trial, answer in zip(trials, answers))


class HeadphoneChecks:
    """Attempts at the headphone check, and whether a rater may get tasks."""

    def __init__(self, db: Database):
        self.db = db
        self._rng = random.SystemRandom()
        self._required_until: tuple[float, bool] | None = None
        self._passed: set[int] = set()  # a pass is for good: no need to ask the database again

    def required(self) -> bool:
        """Whether the store asks raters to pass the check (remembered for a few seconds)."""
        if self._required_until is not None and self._required_until[0] > time.monotonic():
            return self._required_until[1]
        with self.db.transaction(readonly=True) as session:
            on = headphone_check_on(session)
        self._required_until = (time.monotonic() + SETTING_CACHE_SECONDS, on)
        return on

    def forget_settings(self) -> None:
        """Drop the remembered setting (after this process changed it)."""
        self._required_until = None

    def may_get_tasks(self, rater_id: int) -> bool:
        """Whether a rater may be handed tasks: the check is not required, or they passed it."""
        return rater_id in self._passed or not self.required() or bool(self.status(rater_id).passed)

    def status(self, rater_id: int) -> HeadphoneStatus:
        """The rater's standing: required, passed, best score, attempts used and left."""
        with self.db.transaction(readonly=True) as session:
            rows = self._attempts(session, rater_id)
        answered = [r for r in rows if r.passed is not None]
        best = max(answered, key=lambda r: (bool(r.passed), r.score or 0), default=None)
        if best is not None and best.passed:
            self._passed.add(rater_id)
        return HeadphoneStatus(
            required=self.required(),
            passed=bool(best.passed) if best else None,
            score=best.score if best else None,
            trials=TRIALS,
            attempts_used=len(answered),
            attempts_left=max(0, MAX_ATTEMPTS - len(answered)),
            checked_at=best.answered_at if best else None,
        )

    def start(self, rater_id: int) -> tuple[int, list[list[str]]]:
        """The rater's open attempt (a new one if none is open): ``(check_id, tones of each trial)``.

        Raises :class:`ConflictError` when they already passed and
        :class:`ForbiddenError` when their attempts are used up.
        """
        with self.db.transaction() as session:
            rows = self._attempts(session, rater_id)
            if any(r.passed for r in rows):
                raise ConflictError("you already passed the headphone check")
            open_rows = [r for r in rows if r.passed is None]
            if open_rows:
                return open_rows[-1].id, tone_kinds(json.loads(open_rows[-1].trials_json))
            if len(rows) >= MAX_ATTEMPTS:
                raise ForbiddenError("no headphone check attempts left; please tell the organiser of the test")
            trials = draw_trials(self._rng)
            row = HeadphoneCheck(rater_id=rater_id, trials_json=json.dumps(trials), created_at=utc_now())
            session.add(row)
            session.flush()
            return row.id, tone_kinds(trials)

    def answer(self, rater_id: int, check_id: int, answers: list[int]) -> HeadphoneStatus:
        """Score the rater's answers (one tone index 0-2 per trial) to their open attempt; returns their standing."""
        if len(answers) != TRIALS or any(a not in range(TONES_PER_TRIAL) for a in answers):
            raise InvalidJudgmentError(f"answers must be {TRIALS} tone numbers, each 0, 1 or 2")
        if not 1 <= check_id <= CHECK_ID_MAX:
            raise NotFoundError(f"no headphone check {check_id} of yours; start one first")
        with self.db.transaction() as session:
            row = session.get(HeadphoneCheck, check_id, with_for_update=True)
            if row is None or row.rater_id != rater_id:
                raise NotFoundError(f"no headphone check {check_id} of yours; start one first")
            if row.passed is not None:
                raise ConflictError(f"headphone check {check_id} is already answered")
            row.score = score_answers(json.loads(row.trials_json), answers)
            row.passed = row.score >= PASS_SCORE
            row.answers_json = json.dumps(answers)
            row.answered_at = utc_now()
        return self.status(rater_id)

    def reset(self, rater_id: int) -> int:
        """Give a rater their attempts back: forget every attempt that did not pass; returns how many.

        A pass is kept (the rater needs no new check).
        """
        with self.db.transaction() as session:
            failed = [r for r in self._attempts(session, rater_id) if not r.passed]
            for row in failed:
                session.delete(row)
        return len(failed)

    def results(self) -> dict[int, HeadphoneStatus]:
        """Every rater with an answered attempt: their standing (the admin page's column)."""
        with self.db.transaction(readonly=True) as session:
            ids = set(session.scalars(select(HeadphoneCheck.rater_id).where(HeadphoneCheck.passed.is_not(None))))
        return {rater_id: self.status(rater_id) for rater_id in sorted(ids)}

    @staticmethod
    def _attempts(session: Session, rater_id: int) -> list[HeadphoneCheck]:
        return list(
            session.scalars(
                select(HeadphoneCheck).where(HeadphoneCheck.rater_id == rater_id).order_by(HeadphoneCheck.id)
            ).all()
        )
