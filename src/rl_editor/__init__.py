"""rl-editor: learn to edit songs the way people like them (RLHF for beat-level audio editing)."""

__version__ = "0.1.0"
