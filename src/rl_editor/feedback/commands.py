"""CLI of the feedback stage: serve, raters (add, list, link, revoke, deactivate, activate, reset-headphones),
admin-token.

The tasks commands are in :mod:`rl_editor.feedback.task_commands`, export,
import and agreement in :mod:`rl_editor.feedback.exchange_commands`; the options
they share in :mod:`rl_editor.feedback.command_options`. The server's access log
never shows rater or admin tokens (:mod:`rl_editor.feedback.log_redaction`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

from rl_editor.feedback.command_options import (
    DbOption,
    LinkHostOption,
    LinkPortOption,
    ManifestOption,
    PublicUrlOption,
    RequiredManifestOption,
    SongsOption,
    open_store,
)
from rl_editor.feedback.log_redaction import (
    ASGI_TRACE_LOGGER,
    TokenRedactingFilter,
    install_token_redaction,
    redact_tokens,
)
from rl_editor.feedback.settings import DEFAULT_CAMPAIGN, DEFAULT_HOST, DEFAULT_PORT

__all__ = [
    "TokenRedactingFilter",
    "install_token_redaction",
    "link_base",
    "listening_url",
    "normalize_public_url",
    "redact_tokens",
    "register",
]


def normalize_public_url(url: str) -> str:
    """``url`` without a trailing slash, after checking it is an http(s) address with a host.

    Raises
    ------
    FeedbackError
        For anything else, naming ``--public-url``.
    """
    from urllib.parse import urlsplit

    from rl_editor.feedback.storage import FeedbackError

    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise FeedbackError(f"--public-url {url!r}: give an http(s) address such as https://listen.example.org")
    return url.strip().rstrip("/")


def listening_url(host: str, port: int) -> str:
    """The address of a server listening on ``host:port``, as a link (all interfaces: this machine's name)."""
    import socket

    shown = socket.gethostname() if host in ("", "0.0.0.0", "::") else host
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def link_base(store: Any, public_url: str | None, host: str | None, port: int | None) -> str:
    """Base URL of a printed link, storing ``public_url`` when given.

    Order: ``--public-url``; explicit ``--host``/``--port`` (this link only);
    the public URL kept in the database; where ``serve`` last listened; the default address.
    """
    if public_url:
        url = normalize_public_url(public_url)
        store.set_link_base("public_url", url)
        return url
    if host is not None or port is not None:
        return listening_url(host or DEFAULT_HOST, port or DEFAULT_PORT)
    return store.link_base() or listening_url(DEFAULT_HOST, DEFAULT_PORT)


def _run_server(web: Any, host: str, port: int, log_level: str) -> None:
    """Run uvicorn in this process, with tokens kept out of its access log."""
    import uvicorn

    from rl_editor.feedback.storage import FeedbackError

    config = uvicorn.Config(web, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5)
    install_token_redaction()  # after Config, which applies uvicorn's logging configuration
    install_token_redaction(ASGI_TRACE_LOGGER)  # request scopes logged at --log-level trace
    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    if not server.started:
        raise FeedbackError(f"the server could not start on {host}:{port} (see the log above)")


def register(app: typer.Typer) -> None:
    """Add serve, raters and admin-token to the ``rl-editor`` app."""
    raters = typer.Typer(help="Add and list raters (each gets a personal link).", no_args_is_help=True)
    app.add_typer(raters, name="raters")

    @app.command()
    def serve(
        manifest: RequiredManifestOption,
        db: DbOption = None,
        songs: SongsOption = None,
        host: str = typer.Option(DEFAULT_HOST, "--host", help="Address to listen on (0.0.0.0: every interface)."),
        port: int = typer.Option(DEFAULT_PORT, "--port", help="Port to listen on."),
        log_level: str = typer.Option(
            "info", "--log-level", help="Server log level: critical, error, warning, info, debug or trace."
        ),
        public_url: PublicUrlOption = None,
        media_root: Path | None = typer.Option(
            None,
            "--media-root",
            help="Also serve registered audio that now resolves inside this folder (its content must still match).",
        ),
        must_listen_s: float | None = typer.Option(
            None,
            "--must-listen-s",
            min=0,
            help="Seconds of each edit raters must play before judging, unless they "
            "played every region where the edits differ (0: off; default 20; "
            "kept in the database).",
        ),
        headphone_check: bool | None = typer.Option(
            None,
            "--headphone-check/--no-headphone-check",
            help="Raters pass an antiphase headphone check before their first task (kept in the database; off "
            "by default).",
        ),
        online_selection: int | None = typer.Option(
            None,
            "--online-selection",
            metavar="K",
            help="Every K judgments, retrain a reward ensemble on the campaign's judgments (background thread) "
            "and ask first about the pairs it is least sure of. Off by default.",
        ),
        online_campaign: str = typer.Option(
            DEFAULT_CAMPAIGN, "--online-campaign", help="Campaign that --online-selection reorders."
        ),
        request_threads: int | None = typer.Option(
            None, "--request-threads", min=1, help="Threads running requests (default: the settings' value, 4)."
        ),
    ) -> None:
        """Run the feedback web server (makes tasks with default settings on first start)."""
        from rl_editor.feedback.app import create_app
        from rl_editor.feedback.settings import SETTINGS

        base = normalize_public_url(public_url) if public_url else None
        if songs is not None:
            with open_store(db, manifest) as chosen:
                chosen.set_song_library(songs)
        settings = replace(SETTINGS, media_root=media_root, request_threads=request_threads or SETTINGS.request_threads)
        web = create_app(manifest, db, settings=settings)
        store = web.state.store
        store.warm_up(settings.request_threads + 1)  # the first raters of a campaign find caches and connections ready
        store.set_link_base("served_url", listening_url(host, port))
        if base:
            store.set_link_base("public_url", base)
        if must_listen_s is not None:
            store.set_must_listen_seconds(must_listen_s)
        if headphone_check is not None:
            store.set_headphone_check(headphone_check)
        typer.echo(
            f"serving {len(web.state.manifest.songs)} songs on http://{host}:{port}; links use "
            f"{store.link_base()} (add raters with `rl-editor raters add NAME`)"
        )
        selection = None
        if online_selection is not None:
            from rl_editor.feedback.online import OnlineSelection, OnlineSelectionConfig

            selection = OnlineSelection(
                store, OnlineSelectionConfig(campaign=online_campaign, every_judgments=online_selection)
            ).start()
            typer.echo(f"online selection: reordering {online_campaign} every {online_selection} judgments")
        try:
            _run_server(web, host, port, log_level)
        finally:
            if selection is not None:
                selection.stop()

    @raters.command("add")
    def raters_add(
        name: str = typer.Argument(..., help="Rater's name (unique, plain text)."),
        held_out: bool = typer.Option(False, "--held-out", help="Reserve for evaluation campaigns only."),
        expires_in_days: float | None = typer.Option(
            None, "--expires-in-days", min=0.0001, help="The link stops working this many days from now."
        ),
        db: DbOption = None,
        manifest: ManifestOption = None,
        host: LinkHostOption = None,
        port: LinkPortOption = None,
        public_url: PublicUrlOption = None,
    ) -> None:
        """Add a rater and print their personal link (the token is shown only now)."""
        with open_store(db, manifest) as store:
            base = link_base(store, public_url, host, port)
            token = store.add_rater(name, held_out=held_out, expires_in_s=_seconds(expires_in_days, 86400))
        typer.echo(f"{base}/r/{token}")

    @raters.command("list")
    def raters_list(
        db: DbOption = None,
        manifest: ManifestOption = None,
    ) -> None:
        """List raters with their status and how much each has judged."""
        from rl_editor.feedback.store.accounts import printable

        with open_store(db, manifest, create=False) as store:
            summary = {r["name"]: r for r in store.summary()["raters"]}
            for r in store.list_raters():
                row = summary.get(r.name, {})
                expiry = f"\texpires={r.expires_at}" if r.expires_at else ""
                typer.echo(
                    f"{printable(r.name)}\t{'held-out' if r.held_out else 'collect'}\t{r.status}\t"
                    f"done={row.get('done', 0)}\t"
                    f"gold_failures={row.get('gold_failures', 0)}/{row.get('gold_total', 0)}\t"
                    f"created={r.created_at}{expiry}"
                )

    @raters.command("link")
    def raters_link(
        name: str = typer.Argument(..., help="Rater's name."),
        expires_in_days: float | None = typer.Option(
            None, "--expires-in-days", min=0.0001, help="The new link stops working this many days from now."
        ),
        db: DbOption = None,
        manifest: ManifestOption = None,
        host: LinkHostOption = None,
        port: LinkPortOption = None,
        public_url: PublicUrlOption = None,
    ) -> None:
        """Print a new personal link for a rater; their old link stops working (a revoked rater is let back in)."""
        with open_store(db, manifest, create=False) as store:
            base = link_base(store, public_url, host, port)
            token = store.new_rater_link(name, expires_in_s=_seconds(expires_in_days, 86400))
        typer.echo(f"{base}/r/{token}")

    @raters.command("revoke")
    def raters_revoke(
        name: str = typer.Argument(..., help="Rater's name."),
        db: DbOption = None,
        manifest: ManifestOption = None,
    ) -> None:
        """Make a rater's link stop working and hand back the tasks they hold (`raters link` issues a new one)."""
        from rl_editor.feedback.store.accounts import printable

        with open_store(db, manifest, create=False) as store:
            released = store.revoke_rater(name)
        typer.echo(f"revoked the link of {printable(name)}; {released} open tasks handed back")

    @raters.command("deactivate")
    def raters_deactivate(
        name: str = typer.Argument(..., help="Rater's name."),
        db: DbOption = None,
        manifest: ManifestOption = None,
    ) -> None:
        """Pause a rater (their link is refused until `raters activate`) and hand back the tasks they hold."""
        from rl_editor.feedback.store.accounts import printable

        with open_store(db, manifest, create=False) as store:
            released = store.deactivate_rater(name)
        typer.echo(f"deactivated {printable(name)}; {released} open tasks handed back")

    @raters.command("activate")
    def raters_activate(
        name: str = typer.Argument(..., help="Rater's name."),
        db: DbOption = None,
        manifest: ManifestOption = None,
    ) -> None:
        """Let a deactivated rater judge again with their link."""
        from rl_editor.feedback.store.accounts import printable

        with open_store(db, manifest, create=False) as store:
            store.activate_rater(name)
        typer.echo(f"activated {printable(name)}")

    @raters.command("reset-headphones")
    def raters_reset_headphones(
        name: str = typer.Argument(..., help="Rater's name."),
        db: DbOption = None,
        manifest: ManifestOption = None,
    ) -> None:
        """Give a rater their headphone check attempts back (a pass is kept)."""
        from rl_editor.feedback.store.accounts import printable

        with open_store(db, manifest, create=False) as store:
            cleared = store.reset_headphone_attempts(name)
        typer.echo(f"{printable(name)}: {cleared} headphone check attempts cleared")

    @app.command("admin-token")
    def admin_token(
        db: DbOption = None,
        manifest: ManifestOption = None,
        host: LinkHostOption = None,
        port: LinkPortOption = None,
        public_url: PublicUrlOption = None,
        expires_in_hours: float | None = typer.Option(
            None, "--expires-in-hours", min=0.0001, help="The token stops working this many hours from now."
        ),
        revoke_all: bool = typer.Option(
            False, "--revoke-all", help="First revoke every admin token made before (a leaked admin link)."
        ),
    ) -> None:
        """Create an admin token and print it with the admin page's link."""
        with open_store(db, manifest) as store:
            base = link_base(store, public_url, host, port)
            if revoke_all:
                typer.echo(f"revoked {store.revoke_admin_tokens()} admin tokens", err=True)
            token = store.create_admin_token(expires_in_s=_seconds(expires_in_hours, 3600))
        typer.echo(token)
        typer.echo(f"{base}/admin?token={token}", err=True)


def _seconds(amount: float | None, unit_s: float) -> float | None:
    """``amount`` of a unit of ``unit_s`` seconds, in seconds (``None`` stays ``None``)."""
    return amount * unit_s if amount is not None else None
