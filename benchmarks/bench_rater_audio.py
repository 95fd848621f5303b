"""Bytes and time to first sound of one pair on the rater page: WAV as before, Ogg/Vorbis now.

A 4-minute stereo song at 44.1 kHz (the first song of ``$RL_EDITOR_MUSIC_DIR`` looped or
cut to 4:00, or a synthesized one) and two edits of it (one cuts 40 s, one repeats 20 s)
are served by the real feedback app on loopback. For each way of serving, the audio of
one task is fetched as the page fetches it, and the benchmark prints the bytes and the
time to first sound on a link of ``--mbit`` Mbit/s: the server's time (measured here,
including encoding when the compressed copy is not cached yet) plus the transfer (bytes
over the link). Before, the page played nothing until all three WAV files were in; now it
plays the first 384 KiB of the original's compressed copy (one range request) while the rest
of it and then the edits download.

Then the next pair (a second song with the same edits, in files of its own): the page asks
``/api/next?ahead=1``, which reserves it, and downloads its audio while the first pair is
judged; after submitting, its time to first sound is the one JSON request that shows it, with
no audio left to download (without prefetching it would cost what the first pair cost).

Usage::

    python benchmarks/bench_rater_audio.py [--mbit 10] [--song PATH] [--seconds 240] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 44_100
BEAT_S = 0.5


def song_audio(seconds: float, song: Path | None) -> np.ndarray:
    """``seconds`` of stereo audio at 44.1 kHz: ``song`` looped or cut, or a synthesized song."""
    frames = int(seconds * SAMPLE_RATE)
    if song is not None:
        import librosa

        audio, _ = librosa.load(song, sr=SAMPLE_RATE, mono=False)
        audio = np.atleast_2d(audio).T
        if audio.shape[1] == 1:
            audio = np.repeat(audio, 2, axis=1)
        return np.resize(audio, (frames, 2)).astype(np.float32)
    rng = np.random.default_rng(0)
    t = np.arange(frames) / SAMPLE_RATE
    chords = 110.0 * 2 ** (np.array([0, 4, 7, 12]) / 12)
    tone = sum(np.sin(2 * np.pi * f * (1 + 0.25 * ((t // 8) % 4)) * t) for f in chords) * 0.08
    hits = np.exp(-30.0 * (t % BEAT_S)) * rng.normal(0, 0.3, frames)
    return np.stack([tone + hits, tone - 0.5 * hits], axis=1).astype(np.float32)


def write_manifest(folder: Path, audio: np.ndarray) -> Path:
    """Two songs (the same audio in files of their own), each with an edit cutting 40 s and one repeating 20 s,
    and their manifest: one pair per song."""
    manifest = [song_entry(folder, audio, song_id) for song_id in ("song", "song2")]
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return path


def song_entry(folder: Path, audio: np.ndarray, song_id: str) -> dict:
    """Write one song and its two edits; its manifest entry."""
    n_beats = int(len(audio) / SAMPLE_RATE / BEAT_S)
    beats = BEAT_S * np.arange(n_beats)
    sf.write(folder / f"{song_id}.wav", audio, SAMPLE_RATE)
    cut = [1 if 100 <= i < 180 else 0 for i in range(n_beats)]
    repeat = [2 if 300 <= i < 340 else 0 for i in range(n_beats)]
    candidates = []
    for edit_id, actions in ((f"{song_id}-cut40", cut), (f"{song_id}-repeat20", repeat)):
        parts = []
        for i, action in enumerate(actions):
            segment = audio[int(beats[i] * SAMPLE_RATE) : int((beats[i] + BEAT_S) * SAMPLE_RATE)]
            parts += [] if action == 1 else [segment] * (2 if action == 2 else 1)
        rendered = np.concatenate(parts)
        sf.write(folder / f"{edit_id}.wav", rendered, SAMPLE_RATE)
        candidates.append(
            {
                "edit_id": edit_id,
                "path": f"{edit_id}.wav",
                "actions": actions,
                "duration": len(rendered) / SAMPLE_RATE,
                "temperature": 1.0,
                "policy": "bench",
                "seed": 0,
            }
        )
    return {
        "song": f"{song_id}.wav",
        "song_id": song_id,
        "duration_seconds": len(audio) / SAMPLE_RATE,
        "beats": beats.tolist(),
        "downbeats": beats[::4].tolist(),
        "candidates": candidates,
    }


def serve(manifest: Path, cache: Path) -> tuple[str, str, object]:
    """Start the app on a free loopback port; (base URL, rater token, server)."""
    import socket

    import uvicorn

    from rl_editor.feedback.app import create_app
    from rl_editor.feedback.storage import FeedbackStore
    from rl_editor.feedback.tasks import TaskConfig
    from rl_editor.generate.manifest import Manifest

    with FeedbackStore.open(None, manifest) as store:
        store.create_tasks_from_manifest(Manifest.load(manifest), TaskConfig(gold_per_rater=0, seed=0))
        token = store.add_rater("bench")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(manifest, audio_cache_dir=cache), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", token, server


HEAD_BYTES = 384 * 1024  # what the rater page asks for first (rater.js HEAD_BYTES)


def fetch(url: str, token: str, byte_range: str | None = None) -> tuple[int, float]:
    """(bytes, seconds) of one GET (of ``byte_range``, e.g. ``"0-1023"``, when given)."""
    start = time.perf_counter()
    headers = {"Authorization": f"Bearer {token}"} | ({"Range": f"bytes={byte_range}"} if byte_range else {})
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=120) as response:
        size = len(response.read())
    return size, time.perf_counter() - start


def api(base: str, token: str, path: str, body: dict | None = None) -> tuple[dict, float]:
    """(JSON answer, seconds) of one API request (a POST of ``body`` when given)."""
    start = time.perf_counter()
    headers = {"Authorization": f"Bearer {token}"} | ({"Content-Type": "application/json"} if body else {})
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(base + path, data=data, headers=headers)) as response:
        answer = json.loads(response.read())
    return answer, time.perf_counter() - start


def prefetch(base: str, token: str, task: dict) -> tuple[int, float]:
    """Fetch a task's compressed audio as the page prefetches it (the original's first part, its rest, the edits);
    (bytes, seconds on the server)."""
    url = f"{base}{task['song']['audio_url']}?format=ogg"
    head, head_s = fetch(url, token, f"0-{HEAD_BYTES - 1}")
    rest, rest_s = fetch(url, token, f"{head}-")
    edits = [fetch(f"{base}{task[side]['audio_url']}?format=ogg", token) for side in ("a", "b")]
    return head + rest + sum(size for size, _ in edits), head_s + rest_s + sum(s for _, s in edits)


def next_pair(base: str, token: str, task: dict, upcoming: dict, link_bytes_per_s: float) -> None:
    """Prefetch the next pair while ``task`` is judged, judge it, and time showing the next pair."""
    from rl_editor.feedback.listening import full_listening

    size, server_s = prefetch(base, token, upcoming)
    vote = {
        "client_id": f"bench-{task['task_id']}",
        "task_id": task["task_id"],
        "preference": "a",
        "strength": 2,
        "listening": full_listening(task),
    }
    api(base, token, "/api/judgments", vote)
    shown, shown_s = api(base, token, "/api/next?ahead=1")
    assert shown["task_id"] == upcoming["task_id"]
    print(
        f"next pair, prefetched while the first is judged: {size / 1e6:.1f} MB in the background "
        f"({size / link_bytes_per_s + server_s:.1f} s); after submitting, 0 MB to download and time to first "
        f"sound {shown_s * 1000:.0f} ms (the request that shows it)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mbit", type=float, default=10.0, help="link speed for the transfer time (Mbit/s)")
    parser.add_argument("--seconds", type=float, default=240.0, help="length of the song")
    parser.add_argument("--song", type=Path, default=None, help="a song to use (default: $RL_EDITOR_MUSIC_DIR's first)")
    parser.add_argument("--quick", action="store_true", help="a 1-minute song (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 60.0
    song = args.song
    music = os.environ.get("RL_EDITOR_MUSIC_DIR")
    if song is None and music:
        song = next(iter(sorted(Path(music).glob("*.ogg"))), None)
    link_bytes_per_s = args.mbit * 1e6 / 8
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        manifest = write_manifest(folder, song_audio(args.seconds, song))
        base, token, server = serve(manifest, folder / "cache")
        task, _ = api(base, token, "/api/next?ahead=1")
        urls = {part: f"{base}/api/tasks/{task['task_id']}/audio/{part}" for part in ("original", "a", "b")}
        print(
            f"song: {song.name if song else 'synthesized'}, {args.seconds:.0f} s stereo at 44.1 kHz; edits "
            f"{task['a']['duration_seconds']:.0f} s and {task['b']['duration_seconds']:.0f} s; link {args.mbit:g} Mbit/s"
        )

        wav = {part: fetch(url, token) for part, url in urls.items()}
        wav_bytes = sum(size for size, _ in wav.values())
        wav_first = wav_bytes / link_bytes_per_s + sum(s for _, s in wav.values())
        print(
            f"before (WAV, all three files before the first sound): {wav_bytes / 1e6:.1f} MB, "
            f"time to first sound {wav_first:.1f} s"
        )

        cold = {part: fetch(url + "?format=ogg", token) for part, url in urls.items()}
        warm = {part: fetch(url + "?format=ogg", token) for part, url in urls.items()}
        ogg_bytes = sum(size for size, _ in warm.values())
        head_size, head_s = fetch(urls["original"] + "?format=ogg", token, f"0-{HEAD_BYTES - 1}")
        first_size, first_warm_s = warm["original"]
        print(
            f"after (Ogg/Vorbis, the original's first {HEAD_BYTES // 1024} KiB before the first sound): "
            f"{head_size / 1e6:.2f} MB of {ogg_bytes / 1e6:.1f} MB, time to first sound "
            f"{head_size / link_bytes_per_s + head_s:.1f} s (cached copy; first request of the original after "
            f"the task was handed out took {cold['original'][1]:.2f} s on the server); the whole original in "
            f"{first_size / link_bytes_per_s + first_warm_s:.1f} s, the whole pair in {ogg_bytes / link_bytes_per_s:.1f} s"
        )
        next_pair(base, token, task, task["next"], link_bytes_per_s)
        server.should_exit = True  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
