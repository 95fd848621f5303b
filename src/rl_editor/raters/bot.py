"""The rater bot: a simulated (or plugged-in) rater working through the feedback server like a person.

It speaks only the server's public HTTP API: ``GET /api/next`` for a task,
the song's audio from ``song.audio_url`` (analysed with ``analyze_song``,
once per song), each side's actions rebuilt from its ``beat_sequence``
(a beat played once is kept, twice repeated, never cut), the judgment to
``POST /api/judgments`` under a fresh ``client_id``. Connection errors and
5xx answers are retried with the same ``client_id``, so a judgment is stored
once however often it is sent. It stops when the server says ``done``.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

import numpy as np
from tqdm.auto import tqdm

from rl_editor.audio.song import SongAnalysis
from rl_editor.edit import CUT, KEEP, REPEAT, Edit
from rl_editor.feedback.listening import full_listening
from rl_editor.raters.plugin import as_judgment
from rl_editor.raters.simulated import Rater
from rl_editor.raters.tastes import RaterError

AUDIO_SUFFIXES = {
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/wave": ".wav",
    "audio/ogg": ".ogg",
    "audio/flac": ".flac",
    "audio/x-flac": ".flac",
    "audio/mpeg": ".mp3",
    "audio/aiff": ".aiff",
    "audio/x-aiff": ".aiff",
    "audio/opus": ".opus",
    "audio/mp4": ".m4a",
}
KNOWN_SUFFIXES = set(AUDIO_SUFFIXES.values()) | {".oga", ".aif", ".au"}


class RaterBotError(RaterError):
    """The feedback server refused the bot or could not be reached."""


def actions_from_beat_sequence(beat_sequence: list[int] | np.ndarray, n_beats: int) -> np.ndarray:
    """Per-beat actions from source beat indices in playback order.

    A beat played once is KEEP, twice or more REPEAT, never CUT.
    """
    seq = np.asarray(beat_sequence, dtype=np.int64)
    if seq.size and (seq.min() < 0 or seq.max() >= n_beats):
        raise RaterBotError(f"beat_sequence names beats outside 0..{n_beats - 1}")
    counts = np.bincount(seq, minlength=n_beats)
    return np.where(counts == 0, CUT, np.where(counts >= 2, REPEAT, KEEP)).astype(np.int8)


class _Session:
    """HTTP calls with the rater's token, retrying transport errors and 5xx answers."""

    def __init__(self, url: str, token: str, client: Any, retries: int, backoff_s: float) -> None:
        import httpx

        self.base = url.rstrip("/") + "/"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.client = client if client is not None else httpx.Client(timeout=30.0)
        self.owns_client = client is None
        self.retries = retries
        self.backoff_s = backoff_s
        self._transport_errors = (httpx.TransportError,)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = urljoin(self.base, path.lstrip("/")) if not urlparse(path).scheme else path
        last = ""
        for attempt in range(self.retries + 1):
            try:
                response = self.client.request(method, url, headers=self.headers, **kwargs)
            except self._transport_errors as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 500:
                    return response
                last = f"HTTP {response.status_code}"
            if attempt < self.retries:
                time.sleep(self.backoff_s * 2**attempt)
        raise RaterBotError(f"{method} {url} failed after {self.retries + 1} tries ({last}); is the server running?")

    def json(self, method: str, path: str, ok: tuple[int, ...] = (200,), **kwargs: Any) -> dict:
        response = self.request(method, path, **kwargs)
        if response.status_code == 401:
            raise RaterBotError(f"{path}: the server rejected the rater token (401); ask for a new link")
        if response.status_code not in ok:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise RaterBotError(f"{method} {path}: HTTP {response.status_code}: {detail}")
        return response.json()

    def close(self) -> None:
        if self.owns_client:
            self.client.close()


def _song_analysis(session: _Session, song: dict, cache: dict[str, SongAnalysis], workdir: Path) -> SongAnalysis:
    audio_url, song_id = song["audio_url"], song["song_id"]
    if song_id not in cache:
        from rl_editor.audio import analyze_song

        response = session.request("GET", audio_url)
        if response.status_code != 200:
            raise RaterBotError(f"GET {audio_url}: HTTP {response.status_code}; cannot fetch the song's audio")
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        url_suffix = Path(urlparse(audio_url).path).suffix.lower()
        suffix = AUDIO_SUFFIXES.get(content_type) or (url_suffix if url_suffix in KNOWN_SUFFIXES else ".wav")
        # The server names the song; never let that name choose where the file goes.
        path = workdir / f"song-{hashlib.sha256(song_id.encode()).hexdigest()[:16]}{suffix}"
        path.write_bytes(response.content)
        cache[song_id] = analyze_song(path, song_id=song_id)
    analysis = cache[song_id]
    if analysis.n_beats != len(song["beats"]):
        raise RaterBotError(
            f"song {song['song_id']!r}: the server lists {len(song['beats'])} beats but the audio analyses to "
            f"{analysis.n_beats}; the server and the bot must use the same analysis version"
        )
    return analysis


def _fetch_task_audio(session: _Session, task: dict) -> None:
    """Fetch every version of a task, as a page playing them would: the server accepts a listening
    record only for audio it sent."""
    parts = [task["song"], task["a"]] + ([task["b"]] if task.get("b") else [])
    for part in parts:
        response = session.request("GET", part["audio_url"])
        if response.status_code != 200:
            raise RaterBotError(f"GET {part['audio_url']}: HTTP {response.status_code}; cannot fetch the audio")


def _judge_task(task: dict, rater: Rater, song: SongAnalysis) -> dict:
    n = song.n_beats
    started = time.perf_counter()
    edit_a = Edit(song.song_id, actions_from_beat_sequence(task["a"]["beat_sequence"], n))
    if task.get("kind") == "rating":
        rate = getattr(rater, "rate", None)
        if rate is None:
            raise RaterBotError(f"rater {getattr(rater, 'name', rater)!r} cannot give star ratings (no rate method)")
        body: dict[str, Any] = {"rating": int(rate(song, edit_a)), "notes": ""}
    else:
        edit_b = Edit(song.song_id, actions_from_beat_sequence(task["b"]["beat_sequence"], n))
        judgment = as_judgment(rater.judge(song, edit_a, edit_b), str(getattr(rater, "name", "rater")))
        body = {
            "preference": judgment.preference,
            "tie_kind": judgment.tie_kind,
            "strength": int(judgment.strength),
            "notes": judgment.notes,
        }
    elapsed_ms = int(math.ceil((time.perf_counter() - started) * 1000))
    # the bot judges from the whole analysis and fetches every version, so it claims to have heard them in full
    return {
        "client_id": str(uuid.uuid4()),
        "task_id": task["task_id"],
        **body,
        "time_spent_ms": elapsed_ms,
        "listening": full_listening(task),
    }


def run_rater_bot(
    url: str,
    token: str,
    rater: Rater,
    max_tasks: int | None = None,
    *,
    client: Any = None,
    retries: int = 5,
    backoff_s: float = 0.5,
    progress: bool = False,
) -> int:
    """Judge tasks from the feedback server at ``url`` until it is done or ``max_tasks`` are judged.

    Parameters
    ----------
    url : str
        The server's base URL, e.g. ``http://127.0.0.1:8000``.
    token : str
        The rater's token (from ``rl-editor raters add``).
    rater : Rater
        Judges each pair (``judge``) and rates single edits (``rate``, for rating tasks).
    max_tasks : int, optional
        Stop after this many judgments.
    client : httpx.Client, optional
        Client to send requests with (e.g. FastAPI's ``TestClient``); a new one otherwise.
    retries, backoff_s : int, float
        Retries of a failed request, waiting ``backoff_s * 2**attempt`` seconds between them.
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    int
        How many judgments the server acknowledged.
    """
    session = _Session(url, token, client, retries, backoff_s)
    cache: dict[str, SongAnalysis] = {}
    judged = 0
    bar = tqdm(total=max_tasks, desc=f"{getattr(rater, 'name', 'rater')} judging", unit="task", disable=not progress)
    try:
        with tempfile.TemporaryDirectory(prefix="rl-editor-bot-") as tmp:
            while max_tasks is None or judged < max_tasks:
                task = session.json("GET", "/api/next")
                if task.get("done"):
                    break
                song = _song_analysis(session, task["song"], cache, Path(tmp))
                body = _judge_task(task, rater, song)
                _fetch_task_audio(session, task)
                session.json("POST", "/api/judgments", ok=(200, 201), json=body)
                judged += 1
                bar.update(1)
    finally:
        bar.close()
        session.close()
    return judged
