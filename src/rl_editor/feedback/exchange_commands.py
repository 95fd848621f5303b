"""CLI of judgments in and out: ``rl-editor export``, ``export-ratings``, ``import`` and ``agreement``."""

from __future__ import annotations

from pathlib import Path

import typer

from rl_editor.feedback.command_options import CampaignJudgmentsOption, DbOption, ManifestOption, open_store

SCREEN_HELP = (
    "Screen raters on gold pairs and agreement (default): weight each judgment by its rater's "
    "reliability (flagged raters weigh little)."
)
DROP_FLAGGED_HELP = "Screening: leave flagged raters' judgments out instead of keeping them at their low weight."


def register(app: typer.Typer) -> None:
    """Add export, export-ratings, import and agreement to the ``rl-editor`` app."""

    @app.command("export")
    def export(
        out: Path = typer.Option(..., "--out", help="preferences.json (or .csv with --csv)."),
        db: DbOption = None,
        manifest: ManifestOption = None,
        campaign: CampaignJudgmentsOption = None,
        csv: bool = typer.Option(False, "--csv", help="Write CSV instead of JSON."),
        include_gold: bool = typer.Option(False, "--include-gold", help="Also export gold (screening) pairs."),
        screen: bool = typer.Option(True, "--screen/--no-screen", help=SCREEN_HELP),
        max_gold_failure_share: float = typer.Option(
            0.15,
            "--max-gold-failure-share",
            help="Screening: flag raters failing more than this share of their gold pairs.",
        ),
        min_gold: int = typer.Option(
            4, "--min-gold", help="Screening: gold pairs judged before a rater can be flagged."
        ),
        drop_flagged: bool = typer.Option(False, "--drop-flagged", help=DROP_FLAGGED_HELP),
    ) -> None:
        """Write judgments in the preference pair format (edit paths relative to the manifest folder).

        By default raters are screened first (rl_editor.feedback.screening): every judgment carries its
        rater's reliability weight, low for flagged raters (left out with --drop-flagged).
        """
        from rl_editor.feedback.export import select_export_pairs, write_pairs
        from rl_editor.feedback.screening import ScreeningRule, screen_store

        rule = ScreeningRule(
            max_gold_failure_share=max_gold_failure_share, min_gold_judgments=min_gold, drop_flagged=drop_flagged
        )
        with open_store(db, manifest, create=False) as store:
            report = screen_store(store, rule) if screen else None
            screened = select_export_pairs(store, campaign=campaign, include_gold=include_gold, screening=report)
        write_pairs(out, screened.pairs, as_csv=csv)
        if report is not None:
            typer.echo(report.summary_line(screened))
            for line in report.weight_lines() if report.has_evidence else []:
                typer.echo(line)
        typer.echo(f"wrote {len(screened.pairs)} judgments to {out}")

    @app.command("export-ratings")
    def export_ratings(
        out: Path = typer.Option(..., "--out", help="ratings.json (or .csv with --csv)."),
        db: DbOption = None,
        manifest: ManifestOption = None,
        campaign: CampaignJudgmentsOption = None,
        csv: bool = typer.Option(False, "--csv", help="Write CSV instead of JSON."),
    ) -> None:
        """Write the 1-4 star ratings (rating tasks' judgments), all or one campaign's."""
        from rl_editor.feedback.export import write_ratings

        with open_store(db, manifest, create=False) as store:
            ratings = store.export_ratings(campaign=campaign)
        write_ratings(out, ratings, as_csv=csv)
        typer.echo(f"wrote {len(ratings)} ratings to {out}")

    @app.command("import")
    def import_(
        path: Path = typer.Argument(..., help="A preference JSON file."),
        db: DbOption = None,
        manifest: ManifestOption = None,
    ) -> None:
        """Import a preference file (all or nothing; entries already present are skipped)."""
        from rl_editor.feedback.export import import_file
        from rl_editor.preferences import load_preferences

        load_preferences(path)  # validate before touching the database
        with open_store(db, manifest) as store:
            imported, skipped = import_file(store, path)
        typer.echo(f"imported {imported} judgments ({skipped} already present)")

    @app.command("agreement")
    def agreement(
        db: DbOption = None,
        manifest: ManifestOption = None,
        campaign: CampaignJudgmentsOption = None,
    ) -> None:
        """Print inter-rater agreement: Krippendorff's alpha, raw agreement, per-rater, position bias."""
        from rl_editor.feedback.agreement import agreement_report

        with open_store(db, manifest, create=False) as store:
            report = agreement_report(store.export_pairs(campaign=campaign))
        for line in report.lines():
            typer.echo(line)
