"""``rl-editor generate``: candidate edits of a folder of songs, with a manifest."""

from __future__ import annotations

import sys
from pathlib import Path

import typer


def _parse_temperatures(text: str) -> list[float]:
    from rl_editor.generate.candidates import GenerateError

    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise GenerateError(f"--temperatures: expected numbers separated by commas, got {text!r}") from None


def parse_targets(text: str) -> list[float | None]:
    """``"auto,0.4,0.55"`` -> ``[None, 0.4, 0.55]`` (``auto``: the policy picks the length)."""
    from rl_editor.generate.candidates import GenerateError

    targets: list[float | None] = []
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        if part == "auto":
            targets.append(None)
            continue
        try:
            targets.append(float(part))
        except ValueError:
            raise GenerateError(f"--targets: expected shares of the song (0.4,0.55) or auto, got {part!r}") from None
    return targets


def generate(
    policy: Path = typer.Option(..., "--policy", help="Policy checkpoint (.pt) from train-policy."),
    songs: Path = typer.Option(..., "--songs", help="Folder of songs (wav/flac/ogg/mp3), searched recursively."),
    out: Path = typer.Option(..., "--out", help="Output folder: manifest.json and <song_id>/<edit_id>.wav."),
    temperatures: str = typer.Option(
        "0.1,0.3,0.5,0.7,0.9", "--temperatures", help="Comma-separated sampling temperatures (0 = greedy)."
    ),
    targets: str = typer.Option(
        "auto",
        "--targets",
        help="Comma-separated edit lengths as shares of each song (0.4,0.55,0.7,0.85); 'auto' lets the policy "
        "choose. Every temperature is combined with every target.",
    ),
    per_temperature: int = typer.Option(
        1, "--per-temperature", help="Candidates sampled at each temperature and target."
    ),
    content_variants: int = typer.Option(
        0,
        "--content-variants",
        min=0,
        help="Further candidates per target that remove different sections at the same length (sampled with a "
        "random preference for cutting each section), so pairs of them are judged on material, not length.",
    ),
    content_noise: float = typer.Option(
        2.0,
        "--content-noise",
        min=0.01,
        help="Spread (nats) of the content variants' preference for cutting a section.",
    ),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N songs (sorted by path)."),
    workers: int | None = typer.Option(
        None, "--workers", help="Worker processes (default: all cores; 1 = this process)."
    ),
    ray: str | None = typer.Option(None, "--ray", help="Run on Ray: a cluster ADDRESS, or 'auto' for a local Ray."),
    seed: int = typer.Option(
        0, "--seed", help="Base seed; candidate seeds follow from it, the song, temperature and index."
    ),
    audio: bool = typer.Option(
        True,
        "--audio/--no-audio",
        help="Write each candidate's audio (--no-audio: actions and durations only, enough for simulated raters).",
    ),
) -> None:
    """Generate candidate edits of each song at several temperatures and lengths and write a manifest.

    Prints, per song, how different its candidates are: the range of lengths
    and splice counts, the mean pairwise action distance and the share of
    pairs that sound different for more than a few seconds.

    Resumable: run it again with the same settings to finish an interrupted run
    (finished songs are skipped, missing audio files are rendered again).
    """
    from rl_editor.generate.candidates import GenerateConfig
    from rl_editor.generate.run import run_generation

    config = GenerateConfig(
        policy_path=policy,
        songs_dir=songs,
        out_dir=out,
        temperatures=_parse_temperatures(temperatures),
        targets=parse_targets(targets),
        per_temperature=per_temperature,
        content_variants=content_variants,
        content_noise=content_noise,
        limit=limit,
        workers=workers,
        ray_address=ray,
        seed=seed,
    )
    report = run_generation(config)
    for line in report.summary_lines():
        typer.echo(line)
    if report.skipped and not (report.generated or report.repaired or report.already_complete):
        sys.exit(1)


def register(app: typer.Typer) -> None:
    """Add ``generate`` to the ``rl-editor`` app."""
    app.command("generate")(generate)
