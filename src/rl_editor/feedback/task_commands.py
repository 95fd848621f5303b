"""CLI of campaigns: ``rl-editor tasks create|prioritize|release|campaign|size|coverage``.

``tasks create``/``tasks campaign`` size a campaign (``--votes-per-pair``,
``--quota``), ``tasks size`` changes that while it runs, ``tasks coverage``
shows how many pairs have 0, 1, 2, ... votes, and ``tasks prioritize`` orders
the open pairs by a ranking or a reward ensemble's uncertainty (``serve
--online-selection K`` does that every K judgments).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from rl_editor.feedback.command_options import (
    DbOption,
    ManifestOption,
    QuotaOption,
    RequiredManifestOption,
    SongsOption,
    VotesPerPairOption,
    open_store,
)
from rl_editor.feedback.settings import DEFAULT_CAMPAIGN
from rl_editor.io_utils import read_json


def _print_coverage(store: Any, campaign: str | None = None) -> None:
    """One line per campaign: pairs complete, judgments, pairs by votes (``tasks coverage``)."""
    from rl_editor.feedback.store.summaries import coverage_lines

    rows = [row for row in store.coverage() if campaign is None or row["campaign"] == campaign]
    for line in coverage_lines(rows):
        typer.echo(line)


def _prioritize_by_reward_model(
    store: Any, campaign: str, reward_model: Path | None, retrain: bool, method: str, random_share: float
) -> int:
    """Reorder ``campaign``'s open pairs by a reward ensemble (loaded, or retrained on its judgments)."""
    from rl_editor.feedback.online import OnlineSelectionConfig, SongAnalyses, prioritize_campaign, retrain_ensemble
    from rl_editor.feedback.storage import FeedbackError

    config = OnlineSelectionConfig(campaign=campaign, method=method, random_share=random_share)
    analyses = SongAnalyses()
    ensemble = None
    if reward_model is not None:
        from rl_editor.reward.model import load_reward_model

        ensemble = load_reward_model(reward_model)
    if retrain:
        ensemble = retrain_ensemble(store, config, analyses, init=ensemble) or ensemble
    if ensemble is None:
        raise FeedbackError(
            f"campaign {campaign!r} has fewer than {config.min_pairs} judged pairs to retrain on; "
            "give --reward-model FILE"
        )
    return prioritize_campaign(store, ensemble, config, analyses)


def register(app: typer.Typer) -> None:
    """Add the ``tasks`` commands to the ``rl-editor`` app."""
    tasks = typer.Typer(help="Make and reorder comparison tasks.", no_args_is_help=True)
    app.add_typer(tasks, name="tasks")

    @tasks.command("create")
    def tasks_create(
        manifest: RequiredManifestOption,
        db: DbOption = None,
        pairs_per_song: int | None = typer.Option(None, "--pairs-per-song", help="At most K pairs per song."),
        raters_per_pair: int = typer.Option(1, "--raters-per-pair", help="Raters who judge each overlap pair."),
        overlap_share: float = typer.Option(0.2, "--overlap-share", help="Share of pairs judged by 2+ raters."),
        gold_per_rater: int = typer.Option(
            2, "--gold-per-rater", help="Gold (screening) pairs with a known answer per rater."
        ),
        ratings_per_song: int = typer.Option(0, "--ratings-per-song", help="Absolute rating tasks per song."),
        campaign: str = typer.Option(DEFAULT_CAMPAIGN, "--campaign", help="Campaign the new tasks belong to."),
        votes_per_pair: VotesPerPairOption = None,
        quota: QuotaOption = None,
        songs: SongsOption = None,
    ) -> None:
        """Make comparison tasks from the manifest (only what is missing)."""
        from rl_editor.feedback.store.campaigns import check_sizing
        from rl_editor.feedback.tasks import TaskConfig
        from rl_editor.generate.manifest import Manifest

        loaded = Manifest.load(manifest)
        check_sizing(votes_per_pair, quota)
        config = TaskConfig(
            pairs_per_song=pairs_per_song,
            raters_per_pair=raters_per_pair,
            overlap_share=overlap_share,
            gold_per_rater=gold_per_rater,
            ratings_per_song=ratings_per_song,
            campaign=campaign,
            votes_per_pair=votes_per_pair,
            rater_quota=quota,
        )
        with open_store(db, loaded.path) as store:
            if songs is not None:
                store.set_song_library(songs)
            created = store.create_tasks_from_manifest(loaded, config)
            typer.echo(f"created {created} tasks for {len(loaded.songs)} songs")
            _print_coverage(store, campaign)

    @tasks.command("prioritize")
    def tasks_prioritize(
        ranking: Path | None = typer.Option(
            None, "--ranking", help='JSON list of {"song_id","edit_a","edit_b","score"}.'
        ),
        reward_model: Path | None = typer.Option(
            None, "--reward-model", help="Order the campaign's open pairs by this reward ensemble's uncertainty."
        ),
        retrain: bool = typer.Option(
            False,
            "--retrain",
            help="Retrain an ensemble on the campaign's judgments first (from "
            "--reward-model when given), then order by it.",
        ),
        db: DbOption = None,
        manifest: ManifestOption = None,
        campaign: str | None = typer.Option(
            None, "--campaign", help=f"Only this campaign's tasks (with a reward model: default {DEFAULT_CAMPAIGN})."
        ),
        create_missing: bool = typer.Option(
            True, "--create-missing/--no-create-missing", help="Make tasks for ranked pairs that have none (--ranking)."
        ),
        method: str = typer.Option("disagreement", "--method", help="disagreement or bald (with a reward model)."),
        random_share: float = typer.Option(
            0.2, "--random-share", help="Share of random pairs mixed into the order (with a reward model)."
        ),
    ) -> None:
        """Reorder the queue (highest priority first): by a ranking (e.g. from `rl-editor select-pairs`), or by a
        reward ensemble's uncertainty about the campaign's pairs that still need votes."""
        from rl_editor.feedback.storage import FeedbackError

        if (ranking is not None) == (reward_model is not None or retrain):
            raise FeedbackError("give either --ranking FILE, or --reward-model FILE and/or --retrain")
        with open_store(db, manifest) as store:
            if ranking is None:
                name = campaign or DEFAULT_CAMPAIGN
                changed = _prioritize_by_reward_model(store, name, reward_model, retrain, method, random_share)
                typer.echo(f"ordered {changed} open pairs of {name} by the reward ensemble's uncertainty")
                return
            priorities = _read_ranking(ranking)
            changed = store.set_task_priorities(priorities, campaign=campaign, create_missing=create_missing)
        if changed == 0 and priorities:
            raise FeedbackError(f"{ranking}: no ranked pair matches a task; check the edit ids")
        typer.echo(f"set the priority of {changed} tasks")

    @tasks.command("release")
    def tasks_release(
        older_than_hours: float = typer.Option(24.0, "--older-than-hours", help="Age of an unjudged assignment."),
        db: DbOption = None,
        manifest: ManifestOption = None,
    ) -> None:
        """Give back to the queue tasks that raters took but left unjudged."""
        with open_store(db, manifest) as store:
            released = store.release_stale_assignments(older_than_hours * 3600)
        typer.echo(f"released {released} unjudged assignments")

    @tasks.command("campaign")
    def tasks_campaign(
        name: str = typer.Argument(..., help="Campaign name."),
        pairs: Path = typer.Option(..., "--pairs", help='JSON list of \\[edit_a, edit_b] or {"edit_a","edit_b"}.'),
        db: DbOption = None,
        manifest: ManifestOption = None,
        held_out_only: bool = typer.Option(
            True, "--held-out-only/--everyone", help="Only held-out raters judge it, or every rater."
        ),
        raters_per_pair: int = typer.Option(1, "--raters-per-pair", help="Raters who judge each pair."),
        votes_per_pair: VotesPerPairOption = None,
        quota: QuotaOption = None,
    ) -> None:
        """Create a campaign (by default an evaluation campaign for held-out raters)."""
        edit_pairs = [(a, b) for a, b in _read_ranking(pairs)]
        with open_store(db, manifest) as store:
            store.create_campaign(
                name,
                edit_pairs,
                held_out_only=held_out_only,
                raters_per_pair=raters_per_pair,
                votes_per_pair=votes_per_pair,
                rater_quota=quota,
            )
            typer.echo(f"campaign {name}: {len(edit_pairs)} pairs")
            _print_coverage(store, name)

    @tasks.command("size")
    def tasks_size(
        name: str = typer.Argument(DEFAULT_CAMPAIGN, help="Campaign name."),
        votes_per_pair: VotesPerPairOption = None,
        quota: QuotaOption = None,
        db: DbOption = None,
        manifest: ManifestOption = None,
    ) -> None:
        """Change a running campaign's votes per pair and per-rater quota (a server picks them up at once)."""
        with open_store(db, manifest, create=False) as store:
            store.set_campaign_sizing(name, votes_per_pair=votes_per_pair, rater_quota=quota)
            _print_coverage(store, name)

    @tasks.command("coverage")
    def tasks_coverage(
        db: DbOption = None,
        manifest: ManifestOption = None,
        campaign: str | None = typer.Option(None, "--campaign", help="Only this campaign (default: all)."),
    ) -> None:
        """Per campaign: pairs complete, judgments, open assignments, and how many pairs have 0, 1, 2, ... votes."""
        with open_store(db, manifest, create=False) as store:
            _print_coverage(store, campaign)


def _read_ranking(path: Path) -> dict[tuple[str, str], float]:
    """``{(edit_a, edit_b): score}`` from a ranking file; list order breaks missing scores (first = highest)."""
    from rl_editor.feedback.storage import FeedbackError

    data = read_json(path, FeedbackError, "file")
    if not isinstance(data, list):
        raise FeedbackError(f"{path}: must hold a JSON list")
    out: dict[tuple[str, str], float] = {}
    for i, item in enumerate(data):
        if isinstance(item, dict):
            if not isinstance(item.get("edit_a"), str) or not isinstance(item.get("edit_b"), str):
                raise FeedbackError(f"{path}: entry {i}: needs string fields 'edit_a' and 'edit_b' (edit ids)")
            score = item.get("score", len(data) - i)
            if isinstance(score, bool) or not isinstance(score, (int, float)):
                raise FeedbackError(f"{path}: entry {i}.score: must be a number")
            out[(item["edit_a"], item["edit_b"])] = float(score)
        elif isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item):
            out[(item[0], item[1])] = float(len(data) - i)
        else:
            raise FeedbackError(f"{path}: entry {i}: must be an object with edit_a/edit_b or a pair of edit ids")
    return out
