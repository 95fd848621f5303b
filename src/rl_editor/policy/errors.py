"""The policy stage's error type: songs, policy files, settings and targets it refuses."""

from rl_editor.errors import RlEditorError


class PolicyError(RlEditorError):
    """Bad input to the policy stage (songs, checkpoints, configuration, targets)."""


__all__ = ["PolicyError"]
