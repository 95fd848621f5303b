"""Simulated raters: tastes plus noise, pluggable raters, synthetic preferences and the rater bot.

Examples
--------
>>> from rl_editor.raters import load_rater
>>> rater = load_rater("musician:mistake=0.1,beta=5", seed=1)
>>> rater.name
'musician'
"""

from rl_editor.raters.plugin import FunctionRater, as_judgment, load_rater
from rl_editor.raters.simulated import NOISE_PRESETS, Judgment, NoiseModel, Rater, SimulatedRater
from rl_editor.raters.synth import synthesize_preferences
from rl_editor.raters.tastes import TASTES, RaterError, Taste, edit_criteria, sample_edits

__all__ = [
    "FunctionRater",
    "Judgment",
    "NOISE_PRESETS",
    "NoiseModel",
    "Rater",
    "RaterError",
    "SimulatedRater",
    "TASTES",
    "Taste",
    "as_judgment",
    "edit_criteria",
    "load_rater",
    "run_rater_bot",
    "sample_edits",
    "synthesize_preferences",
]


def __getattr__(name: str):
    if name == "run_rater_bot":  # keeps httpx out of plain imports
        from rl_editor.raters.bot import run_rater_bot

        return run_rater_bot
    raise AttributeError(name)
