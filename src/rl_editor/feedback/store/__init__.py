"""The parts of the feedback store, each over one shared :class:`~.database.Database`.

:class:`rl_editor.feedback.storage.FeedbackStore` puts them behind one facade:

- ``database``: the engine, its SQLite/PostgreSQL set-up, the schema upgrade and transactions;
- ``errors``, ``views``: what the parts raise and return;
- ``meta``: settings kept with the data (gold pairs per rater, link base URLs);
- ``accounts``: raters, admin tokens and authentication;
- ``catalog``: songs, edits and campaigns as manifests register them;
- ``planning``: tasks from a manifest, gold pairs, priorities, evaluation campaigns;
- ``assignments``: who judges what next, and the audio of an assigned task;
- ``judgments``: checking and recording answers;
- ``exchange``: preference pairs and ratings out and in;
- ``summaries``: the admin page's progress and agreement.
"""
