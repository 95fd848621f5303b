"""The RLHF stage's error type: fine-tuning, evaluation and the loop raise it."""

from rl_editor.errors import RlEditorError


class RLHFError(RlEditorError):
    """Bad input to fine-tuning, evaluation or the loop (files, songs, settings)."""


__all__ = ["RLHFError"]
