"""Tokens kept out of the server's access log.

The personal link ``/r/<token>`` and ``token`` query values are logged as
``***``. Both are found the way the server reads them (percent-decoded path,
parsed query), so an encoded ``/%72/<token>`` or ``?tok%65n=<token>`` is hidden too.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote, unquote_plus

ACCESS_LOGGER = "uvicorn.access"
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


class TokenRedactingFilter(logging.Filter):
    """Rewrites uvicorn access records, ``(client_addr, method, full_path, http_version, status_code)``,
    so that tokens in the request path never reach the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_text(a) if isinstance(a, str) else a for a in record.args)
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
