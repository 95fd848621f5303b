"""The admin page's data: progress per song and rater, gold failures, agreement between raters."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from rl_editor.feedback.models import Judgment, Rater, Task
from rl_editor.feedback.store.database import Database
from rl_editor.preferences import PreferencePair


def _rater_row(rater: Rater, judgments: Sequence[Any], agreement: dict[str, float]) -> dict[str, Any]:
    """One rater's line: judgments done, median time, gold pairs failed (the broken edit preferred or a tie)."""
    times = [x.time_spent_ms for x in judgments if x.time_spent_ms is not None]
    gold = [x for x in judgments if x.is_gold]
    return {
        "name": rater.name, "held_out": bool(rater.held_out), "done": len(judgments),
        "median_time_ms": statistics.median(times) if times else None,
        "gold_failures": sum(1 for x in gold if x.preference != "a"), "gold_total": len(gold),
        "agreement_with_majority": agreement.get(rater.name),
    }


def admin_summary(db: Database, pairs: list[PreferencePair]) -> dict[str, Any]:
    """Progress per song and rater, gold failures and agreement over ``pairs`` (the exported non-gold pairs).

    Returns
    -------
    dict
        ``songs`` (done and total judgments per song), ``raters`` (one row each)
        and ``agreement`` (Krippendorff's alpha, raw agreement, position bias).
    """
    from rl_editor.feedback.agreement import agreement_report

    report = agreement_report(pairs)
    with db.transaction(readonly=True) as session:
        songs = session.execute(
            select(Task.song_id, func.sum(Task.n_judged), func.sum(Task.target_raters))
            .where(Task.is_gold.is_(False)).group_by(Task.song_id).order_by(Task.song_id)).all()
        raters = session.scalars(select(Rater).order_by(Rater.id)).all()
        judgments = session.execute(select(Judgment.rater_id, Judgment.time_spent_ms, Judgment.is_gold,
                                           Judgment.preference).where(Judgment.rater_id.is_not(None))).all()
    by_rater: dict[int, list] = {}
    for row in judgments:
        by_rater.setdefault(row.rater_id, []).append(row)
    return {
        "songs": [{"song_id": s, "done": int(d or 0), "total": int(t or 0)} for s, d, t in songs],
        "raters": [_rater_row(r, by_rater.get(r.id, []), report.per_rater_agreement) for r in raters],
        "agreement": {"krippendorff_alpha": report.krippendorff_alpha, "raw_agreement": report.raw_agreement,
                      "position_bias_a_share": report.position_bias_a_share,
                      "n_pairs_multi_rated": report.n_pairs_multi_rated},
    }
