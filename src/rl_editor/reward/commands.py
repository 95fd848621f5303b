"""``rl-editor train-reward``, ``rl-editor select-pairs`` and ``rl-editor models``."""

from __future__ import annotations

from pathlib import Path

import typer


def train_reward(
    preferences: Path = typer.Option(
        ..., "--preferences", help="Preference pairs JSON (export of the feedback server or synth-prefs)."
    ),
    out: Path = typer.Option(..., "--out", help="Reward model file to write (.pt)."),
    manifest: Path | None = typer.Option(
        None, "--manifest", help="Manifest to find the songs of pairs without a song_path key."
    ),
    init: Path | None = typer.Option(None, "--init", help="Reward model to fine-tune (becomes the parent version)."),
    epochs: int = typer.Option(20, "--epochs", help="Passes over the training pairs per member."),
    loss: str = typer.Option(
        "bt-ordinal",
        "--loss",
        help="bt-ordinal (Rao-Kupper with strength thresholds, default), bt (Davidson with ties) or mse-margin.",
    ),
    val_frac: float = typer.Option(
        0.2,
        "--val-frac",
        help="Share of songs set aside for validation, which also picks each member's best epoch (0 = none).",
    ),
    members: int = typer.Option(5, "--members", help="Ensemble size (uncertainty comes from their spread)."),
    rater_weights: Path | None = typer.Option(
        None, "--rater-weights", help="JSON {rater: weight}; unlisted raters weigh 1."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the split, bootstrap and initialisation."),
    screen: bool = typer.Option(
        True,
        "--screen/--no-screen",
        help="Screen raters on the file's gold pairs and agreement (default): weight judgments by rater reliability.",
    ),
    max_gold_failure_share: float = typer.Option(
        0.15,
        "--max-gold-failure-share",
        help="Screening: flag raters failing more than this share of their gold pairs.",
    ),
    min_gold: int = typer.Option(4, "--min-gold", help="Screening: gold pairs judged before a rater can be flagged."),
    drop_flagged: bool = typer.Option(
        False,
        "--drop-flagged",
        help="Screening: leave flagged raters' judgments out instead of keeping them at their low weight.",
    ),
) -> None:
    """Train a reward ensemble on judged pairs, printing validation figures each epoch.

    The validation songs also pick each member's best epoch (early stopping), so
    their figures are validation figures, not those of an untouched test set.
    Screening (on by default; rl_editor.feedback.screening) uses the gold pairs
    in the file (`export --include-gold`) and pairs judged by several raters; a
    file from a screened export is trained on with its weights as they are.
    """
    from rl_editor.feedback.screening import ScreeningRule, screen_for_training
    from rl_editor.preferences import load_preferences
    from rl_editor.registry import sha256_of_files
    from rl_editor.reward.model import load_reward_model
    from rl_editor.reward.train import RewardTrainConfig, load_rater_weights, reward_meta, train_reward_model

    pairs = load_preferences(preferences)
    screening = None
    if screen:
        screening = screen_for_training(
            pairs,
            ScreeningRule(
                max_gold_failure_share=max_gold_failure_share, min_gold_judgments=min_gold, drop_flagged=drop_flagged
            ),
        )
        pairs = screening.pairs
        for line in [screening.message, *screening.detail_lines]:
            typer.echo(line)
    config = RewardTrainConfig(
        epochs=epochs,
        loss=loss,
        val_frac=val_frac,
        members=members,
        seed=seed,
        progress=True,
        rater_weights=load_rater_weights(rater_weights) if rater_weights else None,
        manifest=str(manifest) if manifest else None,
        base_dir=str(preferences.resolve().parent),
    )
    parent = load_reward_model(init) if init else None
    ensemble, report = train_reward_model(pairs, config, init=parent)
    meta = reward_meta(
        pairs, config, report, init=parent, source=str(preferences), file_sha256=sha256_of_files([preferences])
    )
    meta.trained_on["screening"] = screening.lineage if screening else {"source": "off"}
    ensemble.save(out, meta)
    typer.echo(
        f"trained on {report.n_train} pairs ({len(report.train_songs)} songs), "
        f"validated on {report.n_val} pairs ({len(report.val_songs)} songs, used for early stopping)"
    )
    for name, metrics in (
        ("train", report.train_metrics),
        ("validation (used for early stopping)", report.val_metrics),
    ):
        if metrics:
            typer.echo(
                f"{name}: accuracy {metrics['accuracy']:.3f}  log-likelihood {metrics['log_likelihood']:.3f}  "
                f"ece {metrics['ece']:.3f}  n {metrics['n']}"
            )
    typer.echo(f"wrote {out} ({meta.version}{f', parent {meta.parent}' if meta.parent else ''})")


def select_pairs_command(
    manifest: Path = typer.Option(..., "--manifest", help="Manifest of candidate edits."),
    reward_model: Path = typer.Option(..., "--reward-model", help="Reward model file from train-reward."),
    budget: int = typer.Option(..., "--budget", help="How many pairs to rank."),
    out: Path = typer.Option(Path("ranking.json"), "--out", help="Ranking JSON to write."),
    method: str = typer.Option("disagreement", "--method", help="disagreement (std of P(A>B) over members) or bald."),
    max_per_edit: int | None = typer.Option(
        None, "--max-per-edit", help="Use no candidate in more than N of the top pairs."
    ),
) -> None:
    """Rank candidate pairs by how unsure the reward ensemble is, for `tasks prioritize --ranking`."""
    from rl_editor.generate.manifest import Manifest
    from rl_editor.reward.model import load_reward_model
    from rl_editor.reward.select import save_ranking, select_pairs

    ranked = select_pairs(
        Manifest.load(manifest), load_reward_model(reward_model), budget, method=method, max_per_edit=max_per_edit
    )
    save_ranking(out, ranked)
    typer.echo(f"wrote {len(ranked)} pairs to {out}")
    for pair in ranked[:5]:
        typer.echo(f"  {pair.song_id}: {pair.edit_a} vs {pair.edit_b}  {pair.score:.4f}")


def models(folder: Path = typer.Argument(Path("models"), help="Folder searched for model files.")) -> None:
    """List model versions under FOLDER as a lineage tree (each under its parent).

    Files that cannot be read (damaged, foreign or unsafe) are named on stderr,
    one line each, and the command then exits with status 1.
    """
    from rl_editor.registry import lineage_lines, scan_models

    metas, problems = scan_models(folder)
    if not metas and not problems:
        typer.echo(f"no model files under {folder}")
        return
    for line in lineage_lines(metas):
        typer.echo(line)
    for path, reason in problems:
        typer.echo(f"skipped {path}: {reason}", err=True)
    if problems:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the reward commands to the ``rl-editor`` app."""
    app.command("train-reward")(train_reward)
    app.command("select-pairs")(select_pairs_command)
    app.command("models")(models)
