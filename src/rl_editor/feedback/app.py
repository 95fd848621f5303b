"""The feedback web app: JSON API for raters and admins, and the audio files they hear.

Routes are thin: each one authenticates, calls :class:`FeedbackStore`, and turns
its answer into JSON. HTML pages come from ``pages.py`` (``router``) and static
files from ``static/``; both are included when present.

Authentication: ``Authorization: Bearer <token>`` or ``?token=<token>``. Rater
routes take a rater token, admin routes an admin token (401 for a missing,
forged or expired token; 403 for a valid token of the wrong kind).

Audio is served per task: ``/api/tasks/{task_id}/audio/{original|a|b}``, for
the rater the task is assigned to. A URL names no file and no edit (a rater
cannot tell a gold or an evaluation edit from its address); the database says
which file each part is, and a file is served only while it resolves inside the
folder it was registered from and keeps the content it had then (otherwise 404
and one log line naming the song). HTTP Range is supported (206 / 416).
``?format=ogg`` asks for an Ogg/Vorbis copy (encoded once per file and cached on
disk, :class:`~rl_editor.feedback.audio_files.CompressedAudioCache`); ``/api/next``
starts encoding the task's files in the background so they are ready when asked for.

Prefetching: ``/api/next?ahead=1`` also reserves the task that follows the
current one (at most one ahead, :func:`~rl_editor.feedback.tasks.reserve_ahead`)
and returns it as ``next``, so the page can fetch its audio while the current
task is judged and show it at once after submitting. The reservation is an
assignment like any other: it counts against quotas and votes per pair, is
judged only when the rater judges it, and is released with the stale ones.

Must-listen: each task from ``/api/next`` says per edit what the rater must
play before judging (``must_listen``: ``min_seconds`` and the differing
``regions_s``); ``POST /api/judgments`` needs ``listening`` (seconds played of
A, B and the original) meeting it, and claiming no more of each than the audio
requests of the task were sent, else 422 with a one-line message.

Headphone check: when the store asks for it, ``/api/next`` answers 403 until
the rater passed it; ``POST /api/headphone-check/trials`` hands out the
server-drawn trials and ``POST /api/headphone-check`` scores the answers.

Bodies: :class:`~rl_editor.feedback.guard.BodyGuard` authenticates a request
before its body is read, accepts only ``application/json`` bodies (415) and
caps their size per route (413).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from rl_editor.audio.song import segment_bounds
from rl_editor.config import config_to_json
from rl_editor.feedback.audio_files import CompressedAudioCache
from rl_editor.feedback.guard import BodyGuard, BodyRule, token_of
from rl_editor.feedback.settings import SETTINGS, FeedbackSettings
from rl_editor.feedback.storage import (
    AudioUnavailableError,
    ConflictError,
    FeedbackStore,
    ForbiddenError,
    InvalidJudgmentError,
    JudgmentIn,
    NotFoundError,
    RaterInfo,
    TaskView,
)
from rl_editor.feedback.tasks import TaskConfig, splice_times
from rl_editor.formats import Preference, TieKind
from rl_editor.generate.manifest import Manifest
from rl_editor.preferences import Listening

LOG = logging.getLogger("rl_editor.feedback")

# A judgment is a few hundred bytes plus its note (at most 2000 characters, up to 6 bytes
# each once JSON-escaped); a new rater is a name and a flag.
JUDGMENT_BODY_MAX_BYTES = 16_384
NEW_RATER_BODY_MAX_BYTES = 2_048
HEADPHONE_BODY_MAX_BYTES = 1_024
STRUCTURE_CACHE_SECONDS = 60.0
MAX_LISTENED_S = 24 * 3600.0

AUDIO_TYPES = {
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
}


class ListeningBody(BaseModel):
    """Seconds of each version the rater played (distinct seconds of its audio), A/B as shown."""

    model_config = ConfigDict(extra="ignore")
    a_s: float | None = Field(default=None, ge=0, le=MAX_LISTENED_S)
    b_s: float | None = Field(default=None, ge=0, le=MAX_LISTENED_S)
    original_s: float | None = Field(default=None, ge=0, le=MAX_LISTENED_S)


class HeadphoneAnswersBody(BaseModel):
    """``POST /api/headphone-check`` body: per trial, the number (0-2) of the tone heard as quietest."""

    check_id: int = Field(strict=True)
    answers: list[Annotated[int, Field(ge=0, le=2, strict=True)]] = Field(max_length=64)


class RevisionBody(BaseModel):
    """``PUT /api/judgments/last`` body: the new answer to the rater's last judgment (A/B as they saw them).
    Every answer's fields; ``POST /api/judgments`` adds its own (:class:`JudgmentBody`)."""

    model_config = ConfigDict(extra="ignore")
    task_id: str = Field(min_length=1, max_length=64)
    preference: Preference | None = None
    tie_kind: TieKind | None = None
    strength: int | None = Field(default=None, ge=1, le=3, strict=True)
    rating: int | None = Field(default=None, ge=1, le=4, strict=True)
    notes: str | None = Field(default="", max_length=SETTINGS.notes_max_chars)


class JudgmentBody(RevisionBody):
    """``POST /api/judgments`` body; ``preference`` refers to the A/B the rater saw."""

    client_id: str = Field(min_length=1, max_length=SETTINGS.client_id_max_chars)
    time_spent_ms: int | None = Field(default=None, ge=0, le=7 * 24 * 3600 * 1000)
    listening: ListeningBody | None = None


class NewRaterBody(BaseModel):
    """``POST /api/admin/raters`` body; the name is stripped, and must not be empty or hold control characters;
    ``expires_in_days`` makes the link stop working that many days from now."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    held_out: StrictBool = False
    expires_in_days: float | None = Field(default=None, gt=0, le=3650)


STORE_ERROR_STATUS: dict[type[Exception], int] = {
    NotFoundError: 404,
    ForbiddenError: 403,
    ConflictError: 409,
    InvalidJudgmentError: 422,
}
"""The HTTP status of each store error a route lets through; the body is ``{"detail": message}``."""


def _store_error_response(status: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """An exception handler answering ``status`` with the error's one-line message."""

    async def respond(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status)

    return respond


def _token_from(request: Request) -> str | None:
    return token_of(request.headers, request.query_params)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        location = ".".join(str(x) for x in error.get("loc", ()) if x != "body")
        if error.get("type") == "json_invalid":
            parts.append("malformed JSON body")
            continue
        parts.append(f"{location or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def create_app(
    manifest_path: Path,
    db_url: str | None = None,
    task_config: TaskConfig | None = None,
    settings: FeedbackSettings = SETTINGS,
    audio_cache_dir: Path | None = None,
) -> FastAPI:
    """Build the app over one manifest and one database (created and filled with tasks on first use).

    Parameters
    ----------
    manifest_path : Path
        The candidate manifest (``manifest.json`` or its folder).
    db_url : str, optional
        SQLAlchemy URL or SQLite file; default: ``feedback.sqlite`` beside the manifest.
    task_config : TaskConfig, optional
        How tasks are made when the database has none.
    settings : FeedbackSettings
        Limits, media root and test hooks.
    audio_cache_dir : Path, optional
        Where compressed copies of the audio are kept (default
        :func:`~rl_editor.feedback.audio_files.default_compressed_cache_dir`).
    """
    manifest = Manifest.load(manifest_path)
    store = FeedbackStore.open(db_url, manifest.path, settings=settings)
    if store.has_tasks():
        store.register_edits(manifest)  # where this manifest's audio is (it may be new, or moved)
    else:
        store.create_tasks_from_manifest(manifest, task_config or TaskConfig())

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = store.settings.request_threads
        yield
        compressed_audio.close()
        store.close()

    app = FastAPI(title="rl-editor feedback", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.store = store
    app.state.manifest = manifest
    app.state.settings = settings
    compressed_audio = CompressedAudioCache(audio_cache_dir)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_message(exc)}, status_code=422)

    for error, status in STORE_ERROR_STATUS.items():
        app.add_exception_handler(error, _store_error_response(status))

    def rater(request: Request) -> RaterInfo:
        token = _token_from(request)
        found = store.authenticate_rater(token) if token else None
        if found is None:
            raise HTTPException(401, "missing, unknown or expired rater token")
        return found

    def admin(request: Request) -> None:
        refusal = _admin_refusal(store, _token_from(request))
        if refusal is not None:
            raise HTTPException(*refusal)

    structures: dict[str, tuple[float, dict[str, Any] | None]] = {}

    def song_structure(song_id: str) -> dict[str, Any] | None:
        cached = structures.get(song_id)
        if cached is None or cached[0] < time.monotonic():
            cached = (time.monotonic() + STRUCTURE_CACHE_SECONDS, store.song_structure(song_id))
            structures[song_id] = cached
        return cached[1]

    def task_json(view: TaskView, done: int, total: int) -> dict[str, Any]:
        song = view.song
        beats = list(song.beats) if song else []
        duration = float(song.duration_seconds) if song else 0.0
        bounds = segment_bounds(beats, duration) if beats else None
        audio_url = f"/api/tasks/{view.task_id}/audio/"
        body: dict[str, Any] = {
            "task_id": view.task_id,
            "kind": view.kind,
            "song": {
                "song_id": view.song_id,
                "duration_seconds": duration,
                "audio_url": audio_url + "original",
                "beats": beats,
                "downbeats": list(song.downbeats) if song else [],
                "segment_bounds_s": [round(float(x), 4) for x in bounds] if bounds is not None else [],
                "structure": song_structure(view.song_id),
            },
        }
        requirements = store.listening_requirements(view)
        for label, edit in zip(("A", "B"), view.edits):
            sequence, splices = splice_times(edit.actions, bounds) if bounds is not None else ([], [])
            body[label.lower()] = {
                "label": label,
                "audio_url": audio_url + label.lower(),
                "duration_seconds": edit.duration_seconds,
                "beat_sequence": sequence,
                "splice_times_s": splices,
                "must_listen": config_to_json(requirements[label.lower()]) if label.lower() in requirements else None,
            }
        body["progress"] = {"done": done, "total": total}
        return body

    @app.get("/api/me")
    def me(who: RaterInfo = Depends(rater)) -> dict[str, Any]:
        done, total = store.progress(who.id)
        return {
            "rater": who.name,
            "held_out": who.held_out,
            "done": done,
            "total": total,
            "headphone_check": config_to_json(store.headphone_status(who.id)),
        }

    @app.get("/api/next")
    def next_task(ahead: Annotated[int, Query(ge=0, le=1)] = 0, who: RaterInfo = Depends(rater)) -> dict[str, Any]:
        """The rater's current task; with ``ahead=1`` also the one after it (reserved now), as ``next``."""
        if not store.may_get_tasks(who.id):
            raise HTTPException(403, "pass the headphone check first (POST /api/headphone-check/trials)")
        view, done, total = store.next_task_and_progress(who.id)
        if view is None:
            return {
                "done": True,
                "message": "All done: there is nothing left for you to judge. Thank you!",
                "progress": {"done": done, "total": total},
            }
        warm_compressed_audio(who.id, view)
        body = task_json(view, done, total)
        if ahead:
            upcoming = store.upcoming_task(who.id)
            if upcoming is not None:
                warm_compressed_audio(who.id, upcoming)
            body["next"] = task_json(upcoming, done + 1, total) if upcoming is not None else None
        return body

    def warm_compressed_audio(rater_id: int, view: TaskView) -> None:
        """Start encoding the task's audio, so the page's requests for it find it ready."""
        sources = []
        for part in ("original", "a", "b")[: 1 + len(view.edits)]:
            try:
                sources.append(store.task_audio_file(rater_id, view.task_id, part))
            except (AudioUnavailableError, NotFoundError):
                continue
        compressed_audio.warm(sources)

    @app.post("/api/judgments", max_body_size=JUDGMENT_BODY_MAX_BYTES)
    def submit(body: JudgmentBody, who: RaterInfo = Depends(rater)) -> JSONResponse:
        """201 when recorded; 200 for a retry of the same answer (same client_id); 409 when the task
        already holds another answer (another client_id, or the same one with a different answer)."""
        judgment = JudgmentIn(
            client_id=body.client_id,
            task_id=body.task_id,
            preference=body.preference,
            tie_kind=body.tie_kind,
            strength=body.strength,
            rating=body.rating,
            notes=body.notes or "",
            time_spent_ms=body.time_spent_ms,
            listening=Listening(**body.listening.model_dump()) if body.listening else None,
        )
        judgment_id, duplicate = store.submit_judgment(who.id, judgment, require_listening=True)
        return JSONResponse({"judgment_id": judgment_id, "duplicate": duplicate}, status_code=200 if duplicate else 201)

    @app.put("/api/judgments/last", max_body_size=JUDGMENT_BODY_MAX_BYTES)
    def revise_last(body: RevisionBody, who: RaterInfo = Depends(rater)) -> dict[str, Any]:
        """Change the answer of the rater's last judgment (409 when ``task_id`` is not its task)."""
        judgment = JudgmentIn(
            client_id="revision",
            task_id=body.task_id,
            preference=body.preference,
            tie_kind=body.tie_kind,
            strength=body.strength,
            rating=body.rating,
            notes=body.notes or "",
            time_spent_ms=None,
            listening=None,
        )
        return {"judgment_id": store.revise_last_judgment(who.id, judgment), "revised": True}

    @app.post("/api/headphone-check/trials", max_body_size=HEADPHONE_BODY_MAX_BYTES)
    def headphone_trials(who: RaterInfo = Depends(rater)) -> dict[str, Any]:
        check_id, trials = store.start_headphone_check(who.id)
        return {"check_id": check_id, "trials": trials}

    @app.post("/api/headphone-check", max_body_size=HEADPHONE_BODY_MAX_BYTES)
    def headphone_answers(body: HeadphoneAnswersBody, who: RaterInfo = Depends(rater)) -> dict[str, Any]:
        return config_to_json(store.answer_headphone_check(who.id, body.check_id, body.answers))

    @app.get("/api/my/judgments")
    def my_judgments(who: RaterInfo = Depends(rater)) -> list[dict[str, Any]]:
        return store.judgments_of_rater(who.id)

    @app.get("/api/tasks/{task_id}/audio/{part}")
    def task_audio(
        task_id: str, part: str, request: Request, format: str = "original", who: RaterInfo = Depends(rater)
    ) -> Response:
        try:
            path = store.task_audio_file(who.id, task_id, part)
        except AudioUnavailableError as exc:
            LOG.warning("%s", exc)
            raise HTTPException(404, "this audio is not available; tell the organiser of the test") from None
        if format == "ogg":
            try:
                path = compressed_audio.compressed(path)
            except (OSError, RuntimeError) as exc:  # libsndfile cannot read it: serve the file as it is
                LOG.warning("could not compress the audio of task %s (%s): %s", task_id, part, exc)
        elif format != "original":
            raise HTTPException(422, "format must be 'original' or 'ogg'")
        store.record_audio_sent(who.id, task_id, part, path, request.headers.get("range"))
        return FileResponse(
            path,
            media_type=AUDIO_TYPES.get(path.suffix.lower(), "application/octet-stream"),
            headers={"Cache-Control": "private, max-age=3600"},
        )

    @app.get("/api/admin/summary", dependencies=[Depends(admin)])
    def summary() -> dict[str, Any]:
        return store.summary()

    @app.get("/api/admin/export.json", dependencies=[Depends(admin)])
    def export_json(campaign: str | None = None) -> Response:
        pairs = store.export_pairs(campaign=campaign)
        return Response(
            json.dumps([p.to_json() for p in pairs], indent=2),
            media_type="application/json",
            headers={"Content-Disposition": 'attachment; filename="preferences.json"'},
        )

    @app.get("/api/admin/export.csv", dependencies=[Depends(admin)])
    def export_csv(campaign: str | None = None) -> Response:
        from rl_editor.feedback.export import pairs_to_csv

        return Response(
            pairs_to_csv(store.export_pairs(campaign=campaign)),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="preferences.csv"'},
        )

    @app.get("/api/admin/ratings.json", dependencies=[Depends(admin)])
    def ratings_json(campaign: str | None = None) -> list[dict[str, Any]]:
        return store.export_ratings(campaign=campaign)

    @app.post("/api/admin/raters", dependencies=[Depends(admin)], max_body_size=NEW_RATER_BODY_MAX_BYTES)
    def add_rater(body: NewRaterBody, request: Request) -> JSONResponse:
        from rl_editor.feedback.storage import FeedbackError

        expires_in_s = body.expires_in_days * 86400 if body.expires_in_days is not None else None
        try:
            token = store.add_rater(body.name, held_out=body.held_out, expires_in_s=expires_in_s)
        except FeedbackError as exc:  # a bad name is 422, a taken one 409
            raise HTTPException(422 if isinstance(exc, ValueError) else 409, str(exc)) from None
        link = (store.link_base("public_url") or str(request.base_url).rstrip("/")) + f"/r/{token}"
        return JSONResponse({"name": body.name.strip(), "token": token, "link": link}, status_code=201)

    from rl_editor.feedback import admin_routes

    app.include_router(admin_routes.admin_router(store, admin))
    _include_pages(app)
    rules = {
        **admin_routes.BODY_RULES,
        "/api/judgments": BodyRule("rater", JUDGMENT_BODY_MAX_BYTES),
        "/api/headphone-check": BodyRule("rater", HEADPHONE_BODY_MAX_BYTES),
        "/api/headphone-check/trials": BodyRule("rater", HEADPHONE_BODY_MAX_BYTES),
        "/api/admin/raters": BodyRule("admin", NEW_RATER_BODY_MAX_BYTES),
    }
    rules["/api/judgments/last"] = BodyRule("rater", JUDGMENT_BODY_MAX_BYTES)
    app.add_middleware(BodyGuard, rules=rules, check_token=lambda token, access: _token_refusal(store, token, access))
    return app


def _admin_refusal(store: FeedbackStore, token: str | None) -> tuple[int, str] | None:
    """``(status, detail)`` when ``token`` may not use admin routes, else ``None``."""
    if not token:
        return 401, "missing admin token"
    if store.authenticate_admin(token):
        return None
    if store.authenticate_rater(token) is not None:
        return 403, "rater tokens cannot use admin routes"
    return 401, "unknown or expired admin token"


def _token_refusal(store: FeedbackStore, token: str | None, access: str) -> tuple[int, str] | None:
    """The :class:`BodyGuard` check: the same answers as the routes' own authentication."""
    if access == "admin":
        return _admin_refusal(store, token)
    if access == "rater" and (not token or store.authenticate_rater(token) is None):
        return 401, "missing, unknown or expired rater token"
    return None


def _include_pages(app: FastAPI) -> None:
    """Add the HTML pages and their static files."""
    from fastapi.staticfiles import StaticFiles

    from rl_editor.feedback import pages

    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
