"""HTML pages of the feedback server: the rater's listening page and the admin page.

The pages are static shells; everything they show comes from the JSON API, called
from the browser with the token the page was opened with (the personal link
``/r/<token>`` or ``/admin?token=<admin token>``). A bad token therefore shows up
as a clear message on the page once the API answers 401.

The application (:func:`rl_editor.feedback.app.create_app`) includes :data:`router`
and serves :data:`STATIC_DIR` at ``/static``.

Example
-------
>>> from fastapi import FastAPI
>>> from fastapi.staticfiles import StaticFiles
>>> from rl_editor.feedback.pages import STATIC_DIR, router
>>> app = FastAPI()
>>> app.include_router(router)
>>> app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from rl_editor.feedback.settings import SETTINGS

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

# Tokens travel in the URL: never leak them through the Referer header, never cache
# the pages, and allow only our own scripts and styles.
PAGE_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
}

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


def asset_version() -> str:
    """A short token that changes whenever any static file changes (name, size or time)."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(STATIC_DIR)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:12]


def static_url(request: Request, name: str, version: str | None = None) -> str:
    """URL of a static file, with the asset version so browsers fetch changed files.

    The scripts pass the same ``?v=`` on to the modules they import, so a page
    never mixes fresh and cached modules.

    Parameters
    ----------
    request : Request
        The current request (its ``root_path`` is honoured behind a proxy prefix).
    name : str
        File name relative to :data:`STATIC_DIR`, e.g. ``"rater.js"``.
    version : str, optional
        :func:`asset_version`, when the caller has it already (one page, one walk of the folder).
    """
    root = request.scope.get("root_path", "").rstrip("/")
    return f"{root}/static/{name}?v={version or asset_version()}"


def _render(request: Request, template: str, token: str) -> HTMLResponse:
    version = asset_version()
    return templates.TemplateResponse(
        request,
        template,
        {
            "token": token,
            "notes_max_chars": SETTINGS.notes_max_chars,
            "test_hooks": getattr(getattr(request.app.state, "settings", None), "expose_test_hooks", False),
            "static_url": lambda name: static_url(request, name, version),
        },
        headers=PAGE_HEADERS,
    )


@router.get("/r/{token}", response_class=HTMLResponse)
def rater_page(request: Request, token: str) -> HTMLResponse:
    """The rater's page for the personal link ``/r/<token>``."""
    return _render(request, "rater.html", token)


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, token: str = "") -> HTMLResponse:
    """The admin page, opened as ``/admin?token=<admin token>``."""
    return _render(request, "admin.html", token)
