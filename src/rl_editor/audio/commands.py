"""``rl-editor analyze`` and ``rl-editor render``: thin commands over ``rl_editor.audio``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from rl_editor.io_utils import write_json_atomic


def analyze(
    paths: list[Path] = typer.Argument(..., help="Audio files and folders (searched recursively)."),
    workers: int = typer.Option(0, "--workers", help="Processes to use; 0 = one per core."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Ignore and do not write the analysis cache."),
    json_out: Path = typer.Option(None, "--json", help="Also write a JSON summary of every song and skip here."),
    beats: str = typer.Option(
        "librosa", "--beats", help="Beat/downbeat tracker: librosa, or madmom (optional extra, non-commercial models)."
    ),
    bpm_range: str | None = typer.Option(
        None,
        "--bpm-range",
        help="The songs' tempo: a range (160-200) or one tempo (174) in BPM; fast music is "
        "otherwise often tracked at half or two thirds of its tempo (librosa tracker).",
    ),
) -> None:
    """Track beats and bars and compute per-beat features of each song (cached by content).

    Songs that cannot be analysed are skipped with one line each on stderr; the
    others are still analysed, and the command then exits with status 1.
    """
    import time

    from rl_editor.audio.analyze import analyze_many

    start = time.perf_counter()
    batch = analyze_many(
        paths,
        workers=workers or None,
        progress=True,
        use_cache=not no_cache,
        beats=beats,
        bpm_range=bpm_range_option(bpm_range),
    )
    elapsed = time.perf_counter() - start
    for a in batch.analyses:
        typer.echo(
            f"{a.song_id}: {a.n_beats} beats  {a.tempo_bpm:6.1f} BPM  "
            f"{int((a.beat_in_bar == 0).sum())} bars  {a.duration_seconds:6.1f} s"
        )
    for note in batch.warnings:
        typer.echo(f"warning: {note}", err=True)
    for path, reason in batch.skipped:
        typer.echo(f"skipped {path}: {reason}", err=True)
    typer.echo(f"analysed {len(batch.analyses)} song(s), skipped {len(batch.skipped)}, in {elapsed:.1f} s", err=True)
    if json_out is not None:
        from rl_editor.audio.structure import structure_times

        summary = {
            "songs": [
                {
                    "song_id": a.song_id,
                    "path": a.path,
                    "content_sha256": a.content_sha256,
                    "duration_seconds": a.duration_seconds,
                    "tempo_bpm": a.tempo_bpm,
                    "n_beats": a.n_beats,
                    "n_bars": int((a.beat_in_bar == 0).sum()),
                    "beats_per_bar": int(a.beats_per_bar),
                    "beat_times_s": [round(float(t), 4) for t in a.beat_times_s],
                    "beat_in_bar": [int(b) for b in a.beat_in_bar],
                    **structure_times(a),
                }
                for a in batch.analyses
            ],
            "skipped": [{"path": p, "reason": r} for p, r in batch.skipped],
        }
        write_json_atomic(json_out, summary, indent=1)
    if batch.skipped:
        raise typer.Exit(1)  # the good songs are done; the exit status still says some were not


def bpm_range_option(text: str | None) -> tuple[float, float] | None:
    """``--bpm-range TEXT`` as (low, high) BPM, or None; AnalysisError (one line) when it is not one."""
    from rl_editor.audio.beats import parse_bpm_range
    from rl_editor.audio.io import AnalysisError

    if text is None:
        return None
    try:
        return parse_bpm_range(text)
    except ValueError as exc:
        raise AnalysisError(f"--bpm-range {exc}") from None


def _read_actions(path: Path) -> list[int]:
    from rl_editor.audio.io import AnalysisError

    try:
        payload = json.loads(path.read_text())
    except FileNotFoundError:
        raise AnalysisError(f"{path}: no such actions file") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise AnalysisError(f"{path}: not valid JSON ({exc})") from None
    actions = payload.get("actions") if isinstance(payload, dict) else payload
    if not isinstance(actions, list) or not all(isinstance(x, int) for x in actions):
        raise AnalysisError(
            f"{path}: expected a JSON list of actions (0 keep, 1 cut, 2 repeat) or an object with 'actions'"
        )
    return actions


def render(
    song: Path = typer.Argument(..., help="The original audio file."),
    actions: Path = typer.Option(..., "--actions", help="JSON list of per-beat actions, or an object with 'actions'."),
    out: Path = typer.Option(..., "--out", help="Where to write the edit (.wav, .flac, .ogg or .mp3)."),
    crossfade_ms: float | None = typer.Option(
        None,
        "--crossfade-ms",
        help="Fixed crossfade at each splice (ms); by default each splice gets the longest coherent one "
        "of 10-80 ms; 0 for hard cuts.",
    ),
) -> None:
    """Render an edit of SONG from an action list (one action per analysed beat)."""
    from rl_editor.audio.analyze import analyze_song
    from rl_editor.audio.io import load_audio, save_audio
    from rl_editor.audio.render import render_edit
    from rl_editor.edit import EditError, validate_actions

    action_list = _read_actions(actions)
    analysis = analyze_song(song)
    try:
        validate_actions(action_list, analysis.n_beats)
    except EditError as exc:
        from rl_editor.audio.io import AnalysisError

        raise AnalysisError(f"{actions}: {exc} ({song.name} has {analysis.n_beats} analysed beats)") from None
    clip = render_edit(load_audio(song), analysis, action_list, crossfade_ms=crossfade_ms)
    written = save_audio(out, clip)
    typer.echo(f"wrote {written} ({clip.duration_seconds:.1f} s, {clip.sample_rate} Hz, {clip.channels} ch)")


def register(app: typer.Typer) -> None:
    """Add the ``analyze`` and ``render`` commands to ``app``."""
    app.command("analyze")(analyze)
    app.command("render")(render)
