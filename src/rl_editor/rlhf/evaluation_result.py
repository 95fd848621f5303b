"""The evaluation result format: judgments of old against new, the best-of-N arm, and their figures.

:class:`EvaluationResult` is what :func:`rl_editor.rlhf.evaluate.evaluate_policies`
returns and ``eval.json`` holds; :class:`Judged` is one judgment in it and
:class:`BestOfArm` the old policy with best-of-N sampling. Older files load
with today's figures (recomputed from their judgments).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import BeforeValidator, Field, PlainSerializer, model_validator
from pydantic_core import PydanticCustomError

from rl_editor.edit import CUT
from rl_editor.formats import FormatModel, Preference, read_format
from rl_editor.io_utils import write_json_atomic
from rl_editor.rlhf.errors import RLHFError
from rl_editor.rlhf.winrate import WinRate, win_rate

CHANGE_THRESHOLD = 0.03  # share of a song's beats: less is a change a listener can hardly tell apart


class Judged(FormatModel):
    """One judgment of an old/new pair of edits of a song."""

    song_id: str
    k: int
    rater: str
    new_shown_as: str
    preference: Preference
    strength: int
    outcome: str
    score_new: float = float("nan")
    score_old: float = float("nan")
    identical: bool = False  # the two edits were the same: a tie without asking


def _read_win(value: Any) -> Any:
    """A win-rate dict of any age as a WinRate (older files lack the newer figures)."""
    if not isinstance(value, dict):
        return value
    try:
        return WinRate.from_json(value)
    except ValueError as exc:
        raise PydanticCustomError(
            "format", "must be a win-rate object with wins, losses and ties", {"got": value}
        ) from exc


def _win_json(win: WinRate) -> dict[str, Any]:
    return win.to_json()


WinRateField = Annotated[WinRate, BeforeValidator(_read_win), PlainSerializer(_win_json)]


class BestOfArm(FormatModel):
    """The old policy with best-of-N sampling, judged against the old policy's own edits.

    Attributes
    ----------
    n : int
        Edits sampled per slot; the reward model's favourite is shown.
    reward_version : str
        The reward model that ranked them.
    win : WinRate
        Best-of-N over old, the same figures as the new policy's (``outcome`` "new" means best-of-N won).
    judgments : list of Judged
    edit_stats : dict
        ``{"old": {...}, "best_of": {...}}``: mean :func:`edit_behaviour` figures.
    edits : dict
        ``{song_id: [actions...]}``, the chosen edits.
    """

    n: int
    reward_version: str
    win: WinRateField
    judgments: list[Judged] = Field(default_factory=list)
    edit_stats: dict[str, dict[str, float]] = Field(default_factory=dict)
    edits: dict[str, list[list[int]]] = Field(default_factory=dict)

    def summary(self, old_version: str) -> str:
        """``old + best-of-4 (ranked by <reward>) as new vs <old>: ...``, details and the edits' change (three
        lines, indented under the new policy's)."""
        change = {"old": self.edit_stats.get("old", {}), "new": self.edit_stats.get("best_of", {})}
        return (
            f"  old + best-of-{self.n} (ranked by {self.reward_version}) as new vs {old_version}: "
            f"{self.win.headline()}\n    {self.win.details()}\n"
            f"    edits old -> best-of-{self.n}: {behaviour_text(change)}"
        )


class EvaluationResult(FormatModel):
    """Everything an evaluation measured.

    Attributes
    ----------
    win : WinRate
        New over old: the tie-inclusive share (headline), the decisive win rate, ties.
    judgments : list of Judged
    old_version, new_version : str
    per_rater : dict
        ``{rater: WinRate.to_json()}``.
    per_song : dict
        ``{song_id: {"new": n, "old": n, "tie": n}}``.
    edit_stats : dict
        ``{"old": {...}, "new": {...}}``: mean :func:`edit_behaviour` figures of each policy's edits.
    edits : dict
        ``{song_id: {"old": [actions...], "new": [actions...]}}`` (for rendering or a campaign).
    settings : dict
        Temperature, seed, edits per song, rater names.
    best_of : BestOfArm or None
        The old policy with best-of-N sampling against the old policy (when a reward model was given).
    """

    win: WinRateField
    old_version: str
    new_version: str
    per_rater: dict[str, Any] = Field(default_factory=dict)
    per_song: dict[str, dict[str, int]] = Field(default_factory=dict)
    edit_stats: dict[str, dict[str, float]] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    judgments: list[Judged] = Field(default_factory=list)
    edits: dict[str, dict[str, list[list[int]]]] = Field(default_factory=dict)
    best_of: BestOfArm | None = None

    @model_validator(mode="before")
    @classmethod
    def _figures_of_older_files(cls, data: Any) -> Any:
        """A result written before the tie-inclusive share gets its figures recomputed from its judgments
        (same outcomes, same songs)."""
        if (
            isinstance(data, dict)
            and isinstance(data.get("win"), dict)
            and "preference_share" not in data["win"]
            and data.get("judgments")
        ):
            judgments = [Judged.model_validate(j) for j in data["judgments"]]
            win, per_rater, _ = outcomes_summary(judgments)
            data = {**data, "win": win, "per_rater": per_rater}
        return data

    def summary(self) -> str:
        """The headline, the decisive win rate and ties, and how the edits changed (three lines); then the
        best-of-N arm's headline and its edits' change, when there is one."""
        identical = ""
        if self.identical_share == 1:
            identical = "; every pair identical: the new policy edits exactly as the old one (ties without asking)"
        elif self.identical_share > 0:
            identical = f"; {self.identical_share:.0%} of the pairs identical (ties without asking)"
        text = (
            f"{self.new_version} vs {self.old_version}: {self.win.summary()}\n"
            f"  edits old -> new: {behaviour_text(self.edit_stats)}{identical}\n"
            f"  {self.what_changed()}"
        )
        if self.best_of is not None:
            text += "\n" + self.best_of.summary(self.old_version)
        return text

    def material_change(self) -> tuple[float, float]:
        """``(length change, material swapped)``, means over the paired edits, as shares of each song's beats.

        The length change is how many more (or fewer) beats the new edit plays; the material swapped is
        what the two edits play differently beyond that: ``(|kept_old xor kept_new| - |length change|) / 2``,
        beats that went in for beats that went out. (0, 0) without paired edits.
        """
        lengths, swaps = [], []
        for sides in self.edits.values():
            for old, new in zip(sides.get("old", []), sides.get("new", [])):
                kept_old, kept_new = np.asarray(old) != CUT, np.asarray(new) != CUT
                if kept_old.size != kept_new.size or not kept_old.size:
                    continue
                longer = abs(int(kept_new.sum()) - int(kept_old.sum()))
                lengths.append(longer / kept_old.size)
                swaps.append((int(np.sum(kept_old ^ kept_new)) - longer) / 2 / kept_old.size)
        return (float(np.mean(lengths)), float(np.mean(swaps))) if lengths else (0.0, 0.0)

    def what_changed(self) -> str:
        """One line in words: whether the new policy changed the edits' length, their material, both or neither."""
        length, swapped = self.material_change()
        moved_length, moved_material = length >= CHANGE_THRESHOLD, swapped >= CHANGE_THRESHOLD
        kind = {
            (False, False): f"nothing that matters (length and material within {CHANGE_THRESHOLD:.0%} of the song)",
            (True, False): "length only",
            (False, True): "material only",
            (True, True): "length and material",
        }[(moved_length, moved_material)]
        return (
            f"what changed: {kind}; per edit, {length:.1%} of the song longer or shorter and {swapped:.1%} "
            "swapped for other material"
        )

    @property
    def identical_share(self) -> float:
        """Share of judged pairs whose two edits were the same (0 without judgments)."""
        return sum(j.identical for j in self.judgments) / len(self.judgments) if self.judgments else 0.0

    def save(self, path: str | Path) -> Path:
        """Write the result as JSON (atomically)."""
        return write_json_atomic(path, self.to_json(), indent=1, default=float)

    @classmethod
    def load(cls, path: str | Path) -> EvaluationResult:
        """Read a result written by :meth:`save`; RLHFError names the file and the field that does not fit."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RLHFError(f"{path}: no such evaluation file") from None
        except json.JSONDecodeError as exc:
            raise RLHFError(f"{path}: not an evaluation result ({exc})") from None
        return read_format(cls, data, where=f"{path}: evaluation result", error=RLHFError)


def outcomes_summary(judgments: Sequence[Judged]) -> tuple[WinRate, dict[str, Any], dict[str, dict[str, int]]]:
    """Overall win rate, win rate per rater and outcome counts per song.

    Both win rates carry a song bootstrap interval (judgments clustered by song).
    """
    per_rater: dict[str, list[Judged]] = {}
    per_song: dict[str, dict[str, int]] = {}
    for j in judgments:
        per_rater.setdefault(j.rater, []).append(j)
        per_song.setdefault(j.song_id, {"new": 0, "old": 0, "tie": 0})[j.outcome] += 1
    return (
        _win_rate_by_song(judgments),
        {r: _win_rate_by_song(rows).to_json() for r, rows in per_rater.items()},
        per_song,
    )


def _win_rate_by_song(judgments: Sequence[Judged]) -> WinRate:
    return win_rate(
        [j.outcome for j in judgments], clusters=[j.song_id for j in judgments], raters=[j.rater for j in judgments]
    )


BEHAVIOUR_FIGURES: tuple[tuple[str, str, str], ...] = (
    # (edit_behaviour key, label, format)
    ("duration_share", "length (share of the song)", "{:.0%}"),
    ("splices_per_minute", "splices per minute", "{:.1f}"),
    ("bar_line_share", "splices on bar lines", "{:.0%}"),
    ("mean_splice_quality", "splice quality", "{:.2f}"),
)


def behaviour_change(edit_stats_by_side: dict[str, dict[str, float]]) -> list[tuple[str, str, str]]:
    """``(label, old, new)`` of each figure of :data:`BEHAVIOUR_FIGURES` (``n/a`` where a side lacks it)."""

    def value(side: str, key: str, fmt: str) -> str:
        x = edit_stats_by_side.get(side, {}).get(key)
        return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else fmt.format(x)

    return [(label, value("old", key, fmt), value("new", key, fmt)) for key, label, fmt in BEHAVIOUR_FIGURES]


def behaviour_text(edit_stats_by_side: dict[str, dict[str, float]]) -> str:
    """``length (share of the song) 77% -> 76%, splices per minute 5.3 -> 5.1, ...``."""
    if not edit_stats_by_side:
        return "n/a (no edit figures recorded)"
    return ", ".join(f"{label} {old} -> {new}" for label, old, new in behaviour_change(edit_stats_by_side))
