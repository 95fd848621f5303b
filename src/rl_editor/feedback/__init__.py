"""Collecting human judgments: the feedback server and its store.

- ``storage``: :class:`~rl_editor.feedback.storage.FeedbackStore` (SQLite or PostgreSQL, Alembic schema),
  a facade over the parts in ``store/`` (accounts, catalog, planning, campaigns, assignments,
  judgments, exchange, summaries) that share one engine;
- ``tasks``: which pairs to compare and who judges what next; ``gold``: the audio of gold pairs;
- ``app``: the FastAPI routes (JSON API, audio), ``create_app(manifest_path, db_url)``;
- ``export``: preference JSON/CSV out and in; ``agreement``: inter-rater agreement;
- ``commands``: ``rl-editor serve | raters | admin-token | tasks | export | import | agreement``.
"""
