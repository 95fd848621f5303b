"""What the feedback store raises; the web routes map each kind to an HTTP status."""

from __future__ import annotations

from rl_editor.errors import RlEditorError


class FeedbackError(RlEditorError):
    """A feedback-store operation that cannot be done; the message says why and what to do."""


class NotFoundError(FeedbackError, LookupError):
    """An unknown task, rater, edit or campaign."""


class ForbiddenError(FeedbackError, PermissionError):
    """A rater acting on a task that is not theirs."""


class ConflictError(FeedbackError):
    """A request that contradicts what is already stored (e.g. a task judged twice)."""


class InvalidJudgmentError(FeedbackError, ValueError):
    """A judgment whose fields do not fit its task."""


class AudioUnavailableError(NotFoundError):
    """A registered audio file that is gone, moved out of its folder, or changed since registration."""


class SongLibraryError(FeedbackError, ValueError):
    """A manifest song that is not an audio file inside the song library."""


class InvalidNameError(FeedbackError, ValueError):
    """A rater name that is empty, too long, or has control or format characters."""
