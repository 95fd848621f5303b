"""Tokens kept out of the server's logs.

The personal link ``/r/<token>`` and ``token`` query values are logged as
``***``. Both are found the way the server reads them (percent-decoded path,
parsed query), so an encoded ``/%72/<token>`` or ``?tok%65n=<token>`` is hidden too.
The access log and, at ``--log-level trace``, uvicorn's ASGI message log (whose
request scopes carry ``path``, ``raw_path`` and ``query_string``) are filtered;
uvicorn already logs headers, ``Authorization`` among them, as ``<...>``.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote, unquote_plus

ACCESS_LOGGER = "uvicorn.access"
ASGI_TRACE_LOGGER = "uvicorn.asgi"
TOKEN_QUERY_KEY = "token"
REDACTED = "***"


def _redact_query(query: str) -> str:
    """``query`` with the value of every key that decodes to ``token`` as ``***`` (other items verbatim)."""
    items = []
    for item in query.split("&"):
        key, has_value, _ = item.partition("=")
        if has_value and unquote_plus(key).strip().lower() == TOKEN_QUERY_KEY:
            item = f"{key}={REDACTED}"
        items.append(item)
    return "&".join(items)


def redact_tokens(full_path: str) -> str:
    """A request path with query, as logged, with its tokens replaced by ``***``.

    The path is percent-decoded before it is compared (the server routes the
    decoded path, so ``/%72/<token>`` opens a personal link) and the query is
    split into items whose keys are decoded (``tok%65n=`` is ``token=``).

    Examples
    --------
    >>> redact_tokens("/api/me?lang=en&tok%65n=secret")
    '/api/me?lang=en&tok%65n=***'
    >>> redact_tokens("/%72/secret")
    '/r/***'
    """
    path, has_query, query = full_path.partition("?")
    path = _redact_link_path(path)
    return f"{path}?{_redact_query(query)}" if has_query else path


def _redact_link_path(path: str) -> str:
    """``path`` cut after its first decoded ``r`` segment, followed by ``***`` (e.g. ``//r/x`` is ``//r/***``)."""
    segments = unquote(path).split("/")
    if "r" in segments[:-1]:
        return "/".join(segments[: segments.index("r") + 1] + [REDACTED])
    return path


def _redact_text(text: str) -> str:
    """Free text with :func:`redact_tokens` applied to each word that is a path."""
    return " ".join(redact_tokens(word) if word.startswith("/") else word for word in text.split(" "))


def _redact_scope(scope: dict) -> dict:
    """A copy of an ASGI scope or message as logged, with the tokens of its path and query string hidden."""
    redacted = dict(scope)
    for key in ("path", "raw_path"):
        value = redacted.get(key)
        if isinstance(value, str):
            redacted[key] = _redact_link_path(value)
        elif isinstance(value, bytes):
            redacted[key] = _redact_link_path(value.decode("latin-1")).encode("latin-1")
    query = redacted.get("query_string")
    if isinstance(query, bytes):
        redacted["query_string"] = _redact_query(query.decode("latin-1")).encode("latin-1")
    return redacted


def _redact_arg(arg: object) -> object:
    if isinstance(arg, str):
        return _redact_text(arg)
    return _redact_scope(arg) if isinstance(arg, dict) else arg


class TokenRedactingFilter(logging.Filter):
    """Rewrites uvicorn access records, ``(client_addr, method, full_path, http_version, status_code)``, and
    ASGI trace records (scope and message dicts), so that tokens in the request path never reach the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(a) for a in record.args)
        elif isinstance(record.msg, str) and not record.args:
            record.msg = _redact_text(record.msg)
        return True


def install_token_redaction(logger_name: str = ACCESS_LOGGER) -> logging.Filter:
    """Add a :class:`TokenRedactingFilter` to the access logger (once); returns it."""
    logger = logging.getLogger(logger_name)
    for existing in logger.filters:
        if isinstance(existing, TokenRedactingFilter):
            return existing
    redacting = TokenRedactingFilter()
    logger.addFilter(redacting)
    return redacting
