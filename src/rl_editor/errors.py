"""The root of rl-editor's error types.

Each stage raises its own subclass with a one-line message that names the file
or field at fault and what to do; the CLI prints that line and exits with
status 2 instead of a traceback.
"""


class RlEditorError(Exception):
    """Base class of every error rl-editor reports to its users."""
