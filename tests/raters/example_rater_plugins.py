"""External raters loaded by spec in the plugin tests (``example_rater_plugins:<name>``)."""

from __future__ import annotations

import numpy as np

from rl_editor.raters import Judgment

NOT_CALLABLE = 42


def prefer_longer(song, edit_a, edit_b):
    """A judge function: the edit that plays more beats wins."""
    played_a, played_b = edit_a.beat_sequence().size, edit_b.beat_sequence().size
    return "tie" if played_a == played_b else ("a" if played_a > played_b else "b")


class ShorterRater:
    """A rater class: the edit that plays fewer beats wins, strength 2."""

    def __init__(self, seed: int = 0) -> None:
        self.name = f"shorter-{seed}"

    def judge(self, song, edit_a, edit_b):
        played_a, played_b = edit_a.beat_sequence().size, edit_b.beat_sequence().size
        if played_a == played_b:
            return Judgment("tie", 1, "both_bad")
        return Judgment("a" if played_a < played_b else "b", 2)


def make_shorter_rater(seed: int = 0) -> ShorterRater:
    """A factory returning a rater object."""
    return ShorterRater(seed=seed)


def returns_junk():
    return np.zeros(3)
