"""CLI of the feedback stage: serve, raters, admin-token, tasks, export, import, agreement.

``tasks create``/``tasks campaign`` size a campaign (``--votes-per-pair``,
``--quota``), ``tasks size`` changes that while it runs, ``tasks coverage``
shows how many pairs have 0, 1, 2, ... votes, and ``tasks prioritize`` orders
the open pairs by a ranking or a reward ensemble's uncertainty (``serve
--online-selection K`` does that every K judgments).

Every command takes ``--db URL`` (SQLAlchemy URL, or a SQLite file path) or
``--manifest PATH`` (then the SQLite file ``feedback.sqlite`` beside it is used).
Commands that only read (``raters list``, ``export``, ``agreement``) refuse a
SQLite file that does not exist instead of creating an empty one.

The server's access log never shows rater or admin tokens: the personal link
``/r/<token>`` and ``token`` query values are logged as ``***``. Both are found
the way the server reads them (percent-decoded path, parsed query), so an
encoded ``/%72/<token>`` or ``?tok%65n=<token>`` is hidden too.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, unquote_plus

import typer

from rl_editor.feedback.settings import DEFAULT_CAMPAIGN, DEFAULT_HOST, DEFAULT_PORT
from rl_editor.io_utils import read_json

DB_HELP = "Database URL (sqlite:///..., postgresql+psycopg://...) or SQLite file; default: beside the manifest."
MANIFEST_HELP = "The candidate manifest (manifest.json or its folder)."
CAMPAIGN_HELP = "Only this campaign's judgments (default: all)."
SCREEN_HELP = ("Screen raters on gold pairs and agreement (default): weight each judgment by its rater's "
               "reliability (flagged raters weigh little).")
DROP_FLAGGED_HELP = "Screening: leave flagged raters' judgments out instead of keeping them at their low weight."
LINK_HOST_HELP = "Host shown in this link (default: the public URL, else where `serve` last listened)."
LINK_PORT_HELP = "Port shown in this link (default: the public URL, else where `serve` last listened)."
PUBLIC_URL_HELP = ("Address people open, e.g. https://listen.example.org; kept in the database, so every later "
                   "link uses it.")

VOTES_HELP = "Raters who judge every pair of the campaign; once a pair has them it is handed out no more."
QUOTA_HELP = "Most tasks one rater is handed in the campaign, gold pairs included (default: no cap)."

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
        return "/".join(segments[:segments.index("r") + 1] + [REDACTED])
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
    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    if not server.started:
        raise FeedbackError(f"the server could not start on {host}:{port} (see the log above)")


def _store(db: str | None, manifest: Path | None, create: bool = True):
    """The feedback store; ``create=False`` for commands that only read (a mistyped --db is an error)."""
    from rl_editor.feedback.storage import FeedbackStore

    return FeedbackStore.open(db, manifest, create=create)


def _task_config(pairs_per_song, raters_per_pair, overlap_share, gold_per_rater, ratings_per_song, campaign,
                 votes_per_pair=None, rater_quota=None):
    from rl_editor.feedback.store.campaigns import check_sizing
    from rl_editor.feedback.tasks import TaskConfig

    check_sizing(votes_per_pair, rater_quota)
    return TaskConfig(pairs_per_song=pairs_per_song, raters_per_pair=raters_per_pair, overlap_share=overlap_share,
                      gold_per_rater=gold_per_rater, ratings_per_song=ratings_per_song, campaign=campaign,
                      votes_per_pair=votes_per_pair, rater_quota=rater_quota)


def _print_coverage(store: Any, campaign: str | None = None) -> None:
    """One line per campaign: pairs complete, judgments, pairs by votes (``tasks coverage``)."""
    from rl_editor.feedback.store.summaries import coverage_lines

    rows = [row for row in store.coverage() if campaign is None or row["campaign"] == campaign]
    for line in coverage_lines(rows):
        typer.echo(line)


def _prioritize_by_reward_model(store: Any, campaign: str, reward_model: Path | None, retrain: bool,
                                method: str, random_share: float) -> int:
    """Reorder ``campaign``'s open pairs by a reward ensemble (loaded, or retrained on its judgments)."""
    from rl_editor.feedback.online import OnlineSelectionConfig, SongAnalyses, prioritize_campaign, retrain_ensemble
    from rl_editor.feedback.storage import FeedbackError

    config = OnlineSelectionConfig(campaign=campaign, method=method, random_share=random_share)
    analyses = SongAnalyses()
    ensemble = None
    if reward_model is not None:
        from rl_editor.reward.model import load_reward_model

        ensemble = load_reward_model(reward_model)
    if retrain:
        ensemble = retrain_ensemble(store, config, analyses, init=ensemble) or ensemble
    if ensemble is None:
        raise FeedbackError(f"campaign {campaign!r} has fewer than {config.min_pairs} judged pairs to retrain on; "
                            "give --reward-model FILE")
    return prioritize_campaign(store, ensemble, config, analyses)


def register(app: typer.Typer) -> None:
    """Add the feedback commands to the ``rl-editor`` app."""
    raters = typer.Typer(help="Add and list raters (each gets a personal link).", no_args_is_help=True)
    tasks = typer.Typer(help="Make and reorder comparison tasks.", no_args_is_help=True)
    app.add_typer(raters, name="raters")
    app.add_typer(tasks, name="tasks")

    @app.command()
    def serve(
        manifest: Path = typer.Option(..., "--manifest", help=MANIFEST_HELP),
        db: str | None = typer.Option(None, "--db", help=DB_HELP),
        host: str = typer.Option(DEFAULT_HOST, "--host", help="Address to listen on (0.0.0.0: every interface)."),
        port: int = typer.Option(DEFAULT_PORT, "--port", help="Port to listen on."),
        log_level: str = typer.Option("info", "--log-level",
                                      help="Server log level: critical, error, warning, info, debug or trace."),
        public_url: str | None = typer.Option(None, "--public-url", help=PUBLIC_URL_HELP),
        media_root: Path | None = typer.Option(
            None, "--media-root", help="Also serve registered audio that now resolves inside this folder "
                                       "(its content must still match)."),
        must_listen_s: float | None = typer.Option(
            None, "--must-listen-s", min=0, help="Seconds of each edit raters must play before judging, unless they "
                                                 "played every region where the edits differ (0: off; default 20; "
                                                 "kept in the database)."),
        headphone_check: bool | None = typer.Option(
            None, "--headphone-check/--no-headphone-check",
            help="Raters pass an antiphase headphone check before their first task (kept in the database; off "
                 "by default)."),
        online_selection: int | None = typer.Option(
            None, "--online-selection", metavar="K",
            help="Every K judgments, retrain a reward ensemble on the campaign's judgments (background thread) "
                 "and ask first about the pairs it is least sure of. Off by default."),
        online_campaign: str = typer.Option(DEFAULT_CAMPAIGN, "--online-campaign",
                                            help="Campaign that --online-selection reorders."),
        request_threads: int | None = typer.Option(
            None, "--request-threads", min=1, help="Threads running requests (default: the settings' value, 4)."),
    ) -> None:
        """Run the feedback web server (makes tasks with default settings on first start)."""
        from rl_editor.feedback.app import create_app
        from rl_editor.feedback.settings import SETTINGS

        base = normalize_public_url(public_url) if public_url else None
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
        typer.echo(f"serving {len(web.state.manifest.songs)} songs on http://{host}:{port}; links use "
                   f"{store.link_base()} (add raters with `rl-editor raters add NAME`)")
        selection = None
        if online_selection is not None:
            from rl_editor.feedback.online import OnlineSelection, OnlineSelectionConfig

            selection = OnlineSelection(store, OnlineSelectionConfig(campaign=online_campaign,
                                                                     every_judgments=online_selection)).start()
            typer.echo(f"online selection: reordering {online_campaign} every {online_selection} judgments")
        try:
            _run_server(web, host, port, log_level)
        finally:
            if selection is not None:
                selection.stop()

    @raters.command("add")
    def raters_add(
        name: str = typer.Argument(..., help="Rater's name (unique)."),
        held_out: bool = typer.Option(False, "--held-out", help="Reserve for evaluation campaigns only."),
        db: str | None = typer.Option(None, "--db", help=DB_HELP),
        manifest: Path | None = typer.Option(None, "--manifest", help=MANIFEST_HELP),
        host: str | None = typer.Option(None, "--host", help=LINK_HOST_HELP),
        port: int | None = typer.Option(None, "--port", help=LINK_PORT_HELP),
        public_url: str | None = typer.Option(None, "--public-url", help=PUBLIC_URL_HELP),
    ) -> None:
        """Add a rater and print their personal link (the token is shown only now)."""
        with _store(db, manifest) as store:
            base = link_base(store, public_url, host, port)
            token = store.add_rater(name, held_out=held_out)
        typer.echo(f"{base}/r/{token}")

    @raters.command("list")
    def raters_list(
        db: str | None = typer.Option(None, "--db", help=DB_HELP),
        manifest: Path | None = typer.Option(None, "--manifest", help=MANIFEST_HELP),
    ) -> None:
        """List raters with how much each has judged."""
        with _store(db, manifest, create=False) as store:
            summary = {r["name"]: r for r in store.summary()["raters"]}
            for r in store.list_raters():
                row = summary.get(r.name, {})
                typer.echo(f"{r.name}\t{'held-out' if r.held_out else 'collect'}\tdone={row.get('done', 0)}\t"
                           f"gold_failures={row.get('gold_failures', 0)}/{row.get('gold_total', 0)}\t"
                           f"created={r.created_at}")

    @app.command("admin-token")
    def admin_token(
        db: str | None = typer.Option(None, "--db", help=DB_HELP),
        manifest: Path | None = typer.Option(None, "--manifest", help=MANIFEST_HELP),
        host: str | None = typer.Option(None, "--host", help=LINK_HOST_HELP),
        port: int | None = typer.Option(None, "--port", help=LINK_PORT_HELP),
        public_url: str | None = typer.Option(None, "--public-url", help=PUBLIC_URL_HELP),
    ) -> None:
        """Create an admin token and print it with the admin page's link."""
        with _store(db, manifest) as store:
            base = link_base(store, public_url, host, port)
            token = store.create_admin_token()
        typer.echo(token)
        typer.echo(f"{base}/admin?token={token}", err=True)

    @tasks.command("create")
    def tasks_create(
        manifest: Path = typer.Option(..., "--manifest", help=MANIFEST_HELP),
        db: str | None = typer.Option(None, "--db", help=DB_HELP),
        pairs_per_song: int | None = typer.Option(None, "--pairs-per-song", help="At most K pairs per song."),
        raters_per_pair: int = typer.Option(1, "--raters-per-pair", help="Raters who judge each overlap pair."),
        overlap_share: float = typer.Option(0.2, "--overlap-share", help="Share of pairs judged by 2+ raters."),
        gold_per_rater: int = typer.Option(2, "--gold-per-rater",
                                           help="Gold (screening) pairs with a known answer per rater."),
        ratings_per_song: int = typer.Option(0, "--ratings-per-song", help="Absolute rating tasks per song."),
        campaign: str = typer.Option(DEFAULT_CAMPAIGN, "--campaign", help="Campaign the new tasks belong to."),
        votes_per_pair: int | None = typer.Option(None, "--votes-per-pair", help=VOTES_HELP),
        quota: int | None = typer.Option(None, "--quota", help=QUOTA_HELP),
    ) -> None:
        """Make comparison tasks from the manifest (only what is missing)."""
        from rl_editor.generate.manifest import Manifest

        loaded = Manifest.load(manifest)
        config = _task_config(pairs_per_song, raters_per_pair, overlap_share, gold_per_rater, ratings_per_song,
                              campaign, votes_per_pair, quota)
        with _store(db, loaded.path) as store:
            created = store.create_tasks_from_manifest(loaded, config)
            typer.echo(f"created {created} tasks for {len(loaded.songs)} songs")
            _print_coverage(store, campaign)

    @tasks.command("prioritize")
    def tasks_prioritize(
        ranking: Path | None = typer.Option(None, "--ranking",
                                            help='JSON list of {"song_id","edit_a","edit_b","score"}.'),
        reward_model: Path | None = typer.Option(
            None, "--reward-model", help="Order the campaign's open pairs by this reward ensemble's uncertainty."),
        retrain: bool = typer.Option(False, "--retrain",
                                     help="Retrain an ensemble on the campaign's judgments first (from "
                                          "--reward-model when given), then order by it."),
        db: str | None = typer.Option(None, "--db", help=DB_HELP),
        manifest: Path | None = typer.Option(None, "--manifest", help=MANIFEST_HELP),
        campaign: str | None = typer.Option(None, "--campaign",
                                            help=f"Only this campaign's tasks (with a reward model: default "
                                                 f"{DEFAULT_CAMPAIGN})."),
        create_missing: bool = typer.Option(True, "--create-missing/--no-create-missing",
                                            help="Make tasks for ranked pairs that have none (--ranking)."),
        method: str = typer.Option("disagreement", "--method", help="disagreement or bald (with a reward model)."),
        random_share: float = typer.Option(0.2, "--random-share",
                                           help="Share of random pairs mixed into the order (with a reward model)."),
    ) -> None:
        """Reorder the queue (highest priority first): by a ranking (e.g. from `rl-editor select-pairs`), or by a
        reward ensemble's uncertainty about the campaign's pairs that still need votes."""
        from rl_editor.feedback.storage import FeedbackError

        if (ranking is not None) == (reward_model is not None or retrain):
            raise FeedbackError("give either --ranking FILE, or --reward-model FILE and/or --retrain")
        with _store(db, manifest) as store:
            if ranking is None:
                name = campaign or DEFAULT_CAMPAIGN
                changed = _prioritize_by_reward_model(store, name, reward_model, retrain, method, random_share)
                typer.echo(f"ordered {changed} open pairs of {name} by the reward ensemble's uncertainty")
                return
            priorities = _read_ranking(ranking)
            changed = store.set_task_priorities(priorities, campaign=campaign, create_missing=create_missing)
        if changed == 0 and priorities:
            raise FeedbackError(f"{ranking}: no ranked pair matches a task; check the edit ids")
        typer.echo(f"set the priority of {changed} tasks")

    @tasks.command("release")
    def tasks_release(
        older_than_hours: float = typer.Option(24.0, "--older-than-hours", help="Age of an unjudged assignment."),
        db: str | None = typer.Option(None, "--db", help=DB_HELP),
        manifest: Path | None = typer.Option(None, "--manifest", help=MANIFEST_HELP),
    ) -> None:
        """Give back to the queue tasks that raters took but left unjudged."""
        with _store(db, manifest) as store:
            released = store.release_stale_assignments(older_than_hours * 3600)
        typer.echo(f"released {released} unjudged assignments")

    @tasks.command("campaign")
    def tasks_campaign(
        name: str = typer.Argument(..., help="Campaign name."),
        pairs: Path = typer.Option(..., "--pairs", help='JSON list of \\[edit_a, edit_b] or {"edit_a","edit_b"}.'),
        db: str | None = typer.Option(None, "--db", help=DB_HELP),
        manifest: Path | None = typer.Option(None, "--manifest", help=MANIFEST_HELP),
        held_out_only: bool = typer.Option(True, "--held-out-only/--everyone",
                                           help="Only held-out raters judge it, or every rater."),
        raters_per_pair: int = typer.Option(1, "--raters-per-pair", help="Raters who judge each pair."),
        votes_per_pair: int | None = typer.Option(None, "--votes-per-pair", help=VOTES_HELP),
        quota: int | None = typer.Option(None, "--quota", help=QUOTA_HELP),
    ) -> None:
        """Create a campaign (by default an evaluation campaign for held-out raters)."""
        edit_pairs = [(a, b) for a, b in _read_ranking(pairs)]
        with _store(db, manifest) as store:
            store.create_campaign(name, edit_pairs, held_out_only=held_out_only, raters_per_pair=raters_per_pair,
                                  votes_per_pair=votes_per_pair, rater_quota=quota)
            typer.echo(f"campaign {name}: {len(edit_pairs)} pairs")
            _print_coverage(store, name)

    @tasks.command("size")
    def tasks_size(
        name: str = typer.Argument(DEFAULT_CAMPAIGN, help="Campaign name."),
        votes_per_pair: int | None = typer.Option(None, "--votes-per-pair", help=VOTES_HELP),
        quota: int | None = typer.Option(None, "--quota", help=QUOTA_HELP),
        db: str | None = typer.Option(None, "--db", help=DB_HELP),
        manifest: Path | None = typer.Option(None, "--manifest", help=MANIFEST_HELP),
    ) -> None:
        """Change a running campaign's votes per pair and per-rater quota (a server picks them up at once)."""
        with _store(db, manifest, create=False) as store:
            store.set_campaign_sizing(name, votes_per_pair=votes_per_pair, rater_quota=quota)
            _print_coverage(store, name)

    @tasks.command("coverage")
    def tasks_coverage(
        db: str | None = typer.Option(None, "--db", help=DB_HELP),
        manifest: Path | None = typer.Option(None, "--manifest", help=MANIFEST_HELP),
        campaign: str | None = typer.Option(None, "--campaign", help="Only this campaign (default: all)."),
    ) -> None:
        """Per campaign: pairs complete, judgments, open assignments, and how many pairs have 0, 1, 2, ... votes."""
        with _store(db, manifest, create=False) as store:
            _print_coverage(store, campaign)

    @app.command("export")
    def export(
        out: Path = typer.Option(..., "--out", help="preferences.json (or .csv with --csv)."),
        db: str | None = typer.Option(None, "--db", help=DB_HELP),
        manifest: Path | None = typer.Option(None, "--manifest", help=MANIFEST_HELP),
        campaign: str | None = typer.Option(None, "--campaign", help=CAMPAIGN_HELP),
        csv: bool = typer.Option(False, "--csv", help="Write CSV instead of JSON."),
        include_gold: bool = typer.Option(False, "--include-gold", help="Also export gold (screening) pairs."),
        screen: bool = typer.Option(True, "--screen/--no-screen", help=SCREEN_HELP),
        max_gold_failure_share: float = typer.Option(0.15, "--max-gold-failure-share",
                                                     help="Screening: flag raters failing more than this share "
                                                          "of their gold pairs."),
        min_gold: int = typer.Option(4, "--min-gold", help="Screening: gold pairs judged before a rater can be "
                                                           "flagged."),
        drop_flagged: bool = typer.Option(False, "--drop-flagged", help=DROP_FLAGGED_HELP),
    ) -> None:
        """Write judgments in the preference pair format (edit paths relative to the manifest folder).

        By default raters are screened first (rl_editor.feedback.screening): every judgment carries its
        rater's reliability weight, low for flagged raters (left out with --drop-flagged).
        """
        from rl_editor.feedback.export import select_export_pairs, write_pairs
        from rl_editor.feedback.screening import ScreeningRule, screen_store

        rule = ScreeningRule(max_gold_failure_share=max_gold_failure_share, min_gold_judgments=min_gold,
                             drop_flagged=drop_flagged)
        with _store(db, manifest, create=False) as store:
            report = screen_store(store, rule) if screen else None
            screened = select_export_pairs(store, campaign=campaign, include_gold=include_gold, screening=report)
        write_pairs(out, screened.pairs, as_csv=csv)
        if report is not None:
            typer.echo(report.summary_line(screened))
            for line in report.weight_lines() if report.has_evidence else []:
                typer.echo(line)
        typer.echo(f"wrote {len(screened.pairs)} judgments to {out}")

    @app.command("import")
    def import_(
        path: Path = typer.Argument(..., help="A preference JSON file."),
        db: str | None = typer.Option(None, "--db", help=DB_HELP),
        manifest: Path | None = typer.Option(None, "--manifest", help=MANIFEST_HELP),
    ) -> None:
        """Import a preference file (all or nothing; entries already present are skipped)."""
        from rl_editor.feedback.export import import_file
        from rl_editor.preferences import load_preferences

        load_preferences(path)  # validate before touching the database
        with _store(db, manifest) as store:
            imported, skipped = import_file(store, path)
        typer.echo(f"imported {imported} judgments ({skipped} already present)")

    @app.command("agreement")
    def agreement(
        db: str | None = typer.Option(None, "--db", help=DB_HELP),
        manifest: Path | None = typer.Option(None, "--manifest", help=MANIFEST_HELP),
        campaign: str | None = typer.Option(None, "--campaign", help=CAMPAIGN_HELP),
    ) -> None:
        """Print inter-rater agreement: Krippendorff's alpha, raw agreement, per-rater, position bias."""
        from rl_editor.feedback.agreement import agreement_report

        with _store(db, manifest, create=False) as store:
            report = agreement_report(store.export_pairs(campaign=campaign))
        for line in report.lines():
            typer.echo(line)


def _read_ranking(path: Path) -> dict[tuple[str, str], float]:
    """``{(edit_a, edit_b): score}`` from a ranking file; list order breaks missing scores (first = highest)."""
    from rl_editor.feedback.storage import FeedbackError

    data = read_json(path, FeedbackError, "file")
    if not isinstance(data, list):
        raise FeedbackError(f"{path}: must hold a JSON list")
    out: dict[tuple[str, str], float] = {}
    for i, item in enumerate(data):
        if isinstance(item, dict):
            if not isinstance(item.get("edit_a"), str) or not isinstance(item.get("edit_b"), str):
                raise FeedbackError(f"{path}: entry {i}: needs string fields 'edit_a' and 'edit_b' (edit ids)")
            score = item.get("score", len(data) - i)
            if isinstance(score, bool) or not isinstance(score, (int, float)):
                raise FeedbackError(f"{path}: entry {i}.score: must be a number")
            out[(item["edit_a"], item["edit_b"])] = float(score)
        elif isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item):
            out[(item[0], item[1])] = float(len(data) - i)
        else:
            raise FeedbackError(f"{path}: entry {i}: must be an object with edit_a/edit_b or a pair of edit ids")
    return out
