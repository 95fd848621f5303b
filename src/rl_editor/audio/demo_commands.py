"""``rl-editor demo-songs``: write a corpus of synthesised songs with ground truth."""

from __future__ import annotations

from pathlib import Path

import typer


def demo_songs(
    out_dir: Path = typer.Argument(..., help="Folder to write demo_<k>.wav and demo_<k>.json into."),
    n: int = typer.Option(8, "--n", help="Number of songs."),
    seed: int = typer.Option(0, "--seed", help="Corpus seed; the same seed gives byte-identical files."),
    min_seconds: float = typer.Option(60.0, "--min-seconds", help="Shortest song length in seconds."),
    max_seconds: float = typer.Option(180.0, "--max-seconds", help="Longest song length in seconds."),
    sample_rate: int = typer.Option(22050, "--sample-rate", help="Sample rate of the wav files in Hz."),
) -> None:
    """Synthesise N varied demo songs (drums, bass, chords, lead; 80-160 BPM) and their ground truth."""
    from tqdm import tqdm

    from rl_editor.audio.demo_songs import DemoSongError, corpus_plan, synthesize_spec, write_song

    specs = corpus_plan(n, seed, (min_seconds, max_seconds))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DemoSongError(
            f"{out_dir}: cannot create the output folder ({exc.strerror}); choose a writable path"
        ) from exc
    bar = tqdm(specs, desc="demo songs", unit="song")
    for spec in bar:
        song = synthesize_spec(spec, sample_rate)
        wav_path, _ = write_song(song, out_dir / f"demo_{spec.index}.wav")
        truth = song.truth
        layout = " ".join(s.name for s in truth.sections)
        tqdm.write(
            f"{wav_path.name}: {truth.duration_seconds:6.1f} s  {truth.tempo_bpm:5.1f} BPM  {truth.key:<8}  "
            f"{len(truth.beats)} beats  {len(truth.downbeats)} bars  [{layout}]"
        )
    typer.echo(f"wrote {len(specs)} songs to {out_dir}")


def register(app: typer.Typer) -> None:
    """Add the ``demo-songs`` command to ``app``."""
    app.command("demo-songs")(demo_songs)
