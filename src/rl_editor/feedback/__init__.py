"""Collecting human judgments: the feedback server and its store.

- ``storage``: :class:`~rl_editor.feedback.storage.FeedbackStore` (SQLite or PostgreSQL, Alembic schema);
- ``tasks``: which pairs to compare and who judges what next;
- ``app``: the FastAPI routes (JSON API, audio), ``create_app(manifest_path, db_url)``;
- ``export``: preference JSON/CSV out and in; ``agreement``: inter-rater agreement;
- ``commands``: ``rl-editor serve | raters | admin-token | tasks | export | import | agreement``.
"""
