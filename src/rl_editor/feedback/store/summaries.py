"""The admin page's data: progress per song and rater, gold failures, agreement, campaign coverage."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, select

from rl_editor.feedback.models import Campaign, Judgment, Rater, Task, utc_now
from rl_editor.feedback.store.accounts import rater_status
from rl_editor.feedback.store.database import Database
from rl_editor.preferences import PreferencePair


def _rater_row(rater: Rater, judgments: Sequence[Any], agreement: dict[str, float]) -> dict[str, Any]:
    """One rater's line: judgments done, median time, gold pairs failed (the broken edit preferred or a tie)."""
    times = [x.time_spent_ms for x in judgments if x.time_spent_ms is not None]
    gold = [x for x in judgments if x.is_gold]
    return {
        "name": rater.name,
        "held_out": bool(rater.held_out),
        "done": len(judgments),
        "status": rater_status(rater, utc_now()),
        "expires_at": rater.expires_at,
        "median_time_ms": statistics.median(times) if times else None,
        "gold_failures": sum(1 for x in gold if x.preference != "a"),
        "gold_total": len(gold),
        "agreement_with_majority": agreement.get(rater.name),
    }


def campaign_judgment_count(db: Database, campaign: str) -> int:
    """Judgments stored in ``campaign`` (gold pairs included)."""
    with db.transaction(readonly=True) as session:
        return int(session.scalar(select(func.count(Judgment.id)).where(Judgment.campaign == campaign)) or 0)


def campaign_coverage(db: Database) -> list[dict[str, Any]]:
    """How far each campaign's pairs are judged: how many pairs have 0, 1, 2, ... votes.

    Returns
    -------
    list of dict
        One per campaign, by name: ``campaign``, ``held_out_only``,
        ``votes_per_pair`` and ``rater_quota`` (``None``: unset), ``pairs``
        (non-gold pair tasks), ``complete`` (pairs with all the votes they
        need), ``judgments`` (votes on those pairs), ``open_assignments``
        (handed out, not judged yet) and ``votes`` (``{"0": pairs with no
        vote, "1": ..., ...}``, every count from 0 to the highest present).
    """
    is_pair = (Task.is_gold.is_(False)) & (Task.kind == "pair")
    with db.transaction(readonly=True) as session:
        campaigns = session.scalars(select(Campaign).order_by(Campaign.name)).all()
        histogram = session.execute(
            select(Task.campaign, Task.n_judged, func.count()).where(is_pair).group_by(Task.campaign, Task.n_judged)
        ).all()
        totals = session.execute(
            select(
                Task.campaign,
                func.sum(case((Task.n_judged >= Task.target_raters, 1), else_=0)),
                func.sum(Task.n_assigned - Task.n_judged),
            )
            .where(is_pair)
            .group_by(Task.campaign)
        ).all()
    votes: dict[str, dict[int, int]] = {}
    for campaign, n_judged, count in histogram:
        votes.setdefault(campaign, {})[int(n_judged)] = int(count)
    done = {campaign: (int(complete or 0), int(open_ or 0)) for campaign, complete, open_ in totals}
    rows = []
    for c in campaigns:
        counts = votes.get(c.name, {})
        highest = max(counts, default=0)
        rows.append(
            {
                "campaign": c.name,
                "held_out_only": bool(c.held_out_only),
                "votes_per_pair": c.votes_per_pair,
                "rater_quota": c.rater_quota,
                "pairs": sum(counts.values()),
                "complete": done.get(c.name, (0, 0))[0],
                "judgments": sum(k * n for k, n in counts.items()),
                "open_assignments": done.get(c.name, (0, 0))[1],
                "votes": {str(k): counts.get(k, 0) for k in range(highest + 1)},
            }
        )
    return rows


def coverage_lines(coverage: list[dict[str, Any]]) -> list[str]:
    """The coverage of :func:`campaign_coverage` as text, one line per campaign."""
    lines = []
    for row in coverage:
        sizing = (
            f"{row['votes_per_pair'] or 'own'} votes per pair, "
            f"quota {row['rater_quota'] if row['rater_quota'] is not None else 'none'}"
        )
        histogram = " ".join(f"{k}:{n}" for k, n in row["votes"].items())
        lines.append(
            f"{row['campaign']}{' (held-out raters)' if row['held_out_only'] else ''}: "
            f"{row['complete']} of {row['pairs']} pairs complete, {row['judgments']} judgments, "
            f"{row['open_assignments']} open ({sizing}); pairs by votes {histogram or '-'}"
        )
    return lines


def admin_summary(db: Database, pairs: list[PreferencePair]) -> dict[str, Any]:
    """Progress per song and rater, gold failures and agreement over ``pairs`` (the exported non-gold pairs).

    Returns
    -------
    dict
        ``songs`` (done and total judgments per song), ``raters`` (one row each),
        ``agreement`` (Krippendorff's alpha, raw agreement, position bias) and
        ``coverage`` (votes per pair in each campaign, :func:`campaign_coverage`).
    """
    from rl_editor.feedback.agreement import agreement_report

    report = agreement_report(pairs)
    with db.transaction(readonly=True) as session:
        songs = session.execute(
            select(Task.song_id, func.sum(Task.n_judged), func.sum(Task.target_raters))
            .where(Task.is_gold.is_(False))
            .group_by(Task.song_id)
            .order_by(Task.song_id)
        ).all()
        raters = session.scalars(select(Rater).order_by(Rater.id)).all()
        judgments = session.execute(
            select(Judgment.rater_id, Judgment.time_spent_ms, Judgment.is_gold, Judgment.preference).where(
                Judgment.rater_id.is_not(None)
            )
        ).all()
    by_rater: dict[int, list] = {}
    for row in judgments:
        by_rater.setdefault(row.rater_id, []).append(row)
    return {
        "songs": [{"song_id": s, "done": int(d or 0), "total": int(t or 0)} for s, d, t in songs],
        "raters": [_rater_row(r, by_rater.get(r.id, []), report.per_rater_agreement) for r in raters],
        "agreement": {
            "krippendorff_alpha": report.krippendorff_alpha,
            "raw_agreement": report.raw_agreement,
            "position_bias_a_share": report.position_bias_a_share,
            "n_pairs_multi_rated": report.n_pairs_multi_rated,
        },
        "coverage": campaign_coverage(db),
    }
