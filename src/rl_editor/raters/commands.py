"""CLI: ``rl-editor synth-prefs`` and ``rl-editor rater-bot``."""

from __future__ import annotations

from pathlib import Path

import typer

RATER_HELP = (
    "Rater: a taste (dense, musician, radio, purist, brief, complete; same length, other material kept: energetic, "
    "background, cold_open, bookends, first_takes, melodic), optionally with noise "
    "(musician:mistake=0.1,beta=5,tie=0.1,myopia=0.99,position_bias=0.2 or noise=human), "
    "or module:callable for an external rater."
)


def synth_prefs(
    manifest: Path = typer.Option(..., "--manifest", help="manifest.json (or its folder) listing the candidates."),
    out: Path = typer.Option(..., "--out", help="Preference JSON file to write."),
    rater: str = typer.Option("musician", "--rater", help=RATER_HELP),
    pairs: int | None = typer.Option(
        None, "--pairs", min=0, help="Pairs to judge, spread across songs (default: all)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the pair choice and the rater's noise."),
) -> None:
    """Judge pairs of a manifest's candidates with a simulated rater; write preference JSON."""
    from rl_editor.formats import Preference
    from rl_editor.raters.plugin import load_rater
    from rl_editor.raters.synth import synthesize_preferences_file

    judged = synthesize_preferences_file(manifest, out, load_rater(rater, seed=seed), n_pairs=pairs, seed=seed)
    counts = {str(p): sum(j.preference == p for j in judged) for p in Preference}
    typer.echo(f"wrote {len(judged)} pairs to {out} (a {counts['a']}, b {counts['b']}, tie {counts['tie']})")


def rater_bot(
    url: str = typer.Option(..., "--url", help="Feedback server base URL, e.g. http://127.0.0.1:8000."),
    token: str = typer.Option(..., "--token", help="The rater's token (from `rl-editor raters add`)."),
    rater: str = typer.Option("musician", "--rater", help=RATER_HELP),
    max_tasks: int | None = typer.Option(None, "--max-tasks", min=1, help="Stop after this many judgments."),
    seed: int = typer.Option(0, "--seed", help="Seed of the rater's noise."),
) -> None:
    """Judge the server's tasks as a simulated rater, through its HTTP API, until none are left."""
    from rl_editor.raters.bot import run_rater_bot
    from rl_editor.raters.plugin import load_rater

    judged = run_rater_bot(url, token, load_rater(rater, seed=seed), max_tasks=max_tasks, progress=True)
    typer.echo(f"judged {judged} tasks")


def register(app: typer.Typer) -> None:
    app.command("synth-prefs")(synth_prefs)
    app.command("rater-bot")(rater_bot)
