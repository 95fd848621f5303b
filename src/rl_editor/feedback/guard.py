"""Checks every request body passes before the app reads a byte of it.

FastAPI reads a body before it runs a route's dependencies, so a route cannot
refuse a stranger's 200 MB upload by authenticating: the upload is already in
memory. :class:`BodyGuard` is a pure ASGI middleware in front of the app that,
for a request carrying a body:

1. authenticates first (401/403, the body never read) when its route needs a token;
2. requires ``Content-Type: application/json`` (415), so a cross-site HTML form,
   which can only send ``text/plain`` or form encodings, cannot post;
3. caps the body per route (413): ``Content-Length`` is checked before reading,
   and the bytes of a chunked upload are counted as they arrive (Starlette's
   :class:`~starlette.middleware.body_limit.RequestBodyLimitResponder`, whose
   limit FastAPI turns into a 413 too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, QueryParams
from starlette.middleware.body_limit import RequestBodyLimitResponder
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_BODY_MAX_BYTES = 4096

Access = Literal["rater", "admin", "public"]


@dataclass(frozen=True)
class BodyRule:
    """What a route that takes a body requires.

    Attributes
    ----------
    access : {"rater", "admin", "public"}
        The token it needs (checked before the body is read).
    max_bytes : int
        Largest accepted body (bytes).
    """

    access: Access
    max_bytes: int


# ``(status, detail)`` when a token may not use a route, else ``None``.
TokenCheck = Callable[[str | None, Access], "tuple[int, str] | None"]


def token_of(headers: Headers, query: QueryParams) -> str | None:
    """The request's token: ``Authorization: Bearer <token>``, else the ``token`` query value."""
    header = headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return query.get("token") or None


def is_json_media_type(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` value is ``application/json`` (parameters such as ``charset`` allowed)."""
    return (content_type or "").split(";", 1)[0].strip().lower() == "application/json"


def has_body(headers: Headers) -> bool:
    """Whether the request announces a body: a non-zero ``Content-Length`` or chunked transfer."""
    if "transfer-encoding" in headers:
        return True
    length = headers.get("content-length")
    return length is not None and length.strip() not in ("", "0")


class BodyGuard:
    """ASGI middleware: authenticate, require JSON and cap the size of request bodies.

    Parameters
    ----------
    app : ASGIApp
        The application behind the guard.
    rules : dict of str to BodyRule
        Per route path (as the app declares it), what a body sent there needs.
        Paths not listed get ``default_max_bytes`` and no token check (the
        route itself still authenticates, if it exists).
    check_token : callable
        ``check_token(token, access)`` returns ``(status, detail)`` to refuse, or
        ``None``; it runs in a worker thread (it may query the database).
    default_max_bytes : int
        Body cap of every other path.
    """

    def __init__(
        self,
        app: ASGIApp,
        rules: dict[str, BodyRule],
        check_token: TokenCheck,
        default_max_bytes: int = DEFAULT_BODY_MAX_BYTES,
    ):
        self.app = app
        self.rules = rules
        self.check_token = check_token
        self.default_max_bytes = default_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        rule = self.rules.get(_route_path(scope), BodyRule("public", self.default_max_bytes))
        refusal = await self._refusal(scope, headers, rule)
        if refusal is not None:
            status, detail = refusal
            response = JSONResponse({"detail": detail}, status_code=status, headers={"Connection": "close"})
            return await response(scope, receive, send)
        await RequestBodyLimitResponder(self.app, rule.max_bytes)(scope, receive, send)

    async def _refusal(self, scope: Scope, headers: Headers, rule: BodyRule) -> tuple[int, str] | None:
        if rule.access != "public":
            token = token_of(headers, QueryParams(scope.get("query_string", b"")))
            refusal = await run_in_threadpool(self.check_token, token, rule.access)
            if refusal is not None:
                return refusal
        if has_body(headers) and not is_json_media_type(headers.get("content-type")):
            return 415, "request bodies must be JSON: send Content-Type: application/json"
        return None


def _route_path(scope: Scope) -> str:
    """The request path without the proxy prefix (``root_path``), as routes are declared."""
    path, root = scope.get("path", ""), scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
