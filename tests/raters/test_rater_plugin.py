import math

import numpy as np
import pytest

from rl_editor.edit import CUT, Edit
from rl_editor.raters import NOISE_PRESETS, TASTES, FunctionRater, Judgment, RaterError, SimulatedRater, load_rater


@pytest.fixture
def short_and_long(song):
    long = Edit(song.song_id, np.zeros(song.n_beats, dtype=np.int8))
    actions = np.zeros(song.n_beats, dtype=np.int8)
    actions[16:48] = CUT
    return Edit(song.song_id, actions), long


def test_a_taste_name_gives_a_simulated_rater_with_default_noise():
    rater = load_rater("musician", seed=3)
    assert isinstance(rater, SimulatedRater)
    assert rater.name == "musician" and rater.taste is TASTES["musician"]
    assert rater.noise == NOISE_PRESETS["default"] and rater.seed == 3


def test_spec_options_override_noise_name_and_seed():
    rater = load_rater("radio:mistake=0.1,beta=5,tie=0.2,myopia=0.99,bias=0.3,name=alice,seed=9")
    assert rater.name == "alice" and rater.seed == 9 and rater.taste is TASTES["radio"]
    assert (rater.noise.mistake, rater.noise.beta, rater.noise.tie_threshold) == (0.1, 5.0, 0.2)
    assert (rater.noise.myopia, rater.noise.position_bias) == (0.99, 0.3)


def test_keyword_overrides_apply_after_the_spec_and_presets_fill_the_rest():
    rater = load_rater("purist:noise=human,mistake=0.3", mistake=0.05, beta="inf")
    assert rater.noise.mistake == 0.05 and math.isinf(rater.noise.beta)
    assert rater.noise.position_bias == NOISE_PRESETS["human"].position_bias


def test_a_judge_function_becomes_a_rater(song, short_and_long):
    short, long = short_and_long
    rater = load_rater("example_rater_plugins:prefer_longer")
    assert isinstance(rater, FunctionRater)
    assert rater.name == "example_rater_plugins:prefer_longer"
    judgment = rater.judge(song, short, long)
    assert isinstance(judgment, Judgment) and judgment.preference == "b"
    assert rater.judge(song, long, long).preference == "tie"


@pytest.mark.parametrize("spec", ["example_rater_plugins:make_shorter_rater", "example_rater_plugins:ShorterRater"])
def test_a_factory_or_class_returning_a_rater_is_called_with_the_seed(song, short_and_long, spec):
    short, long = short_and_long
    rater = load_rater(spec, seed=4)
    assert rater.name == "shorter-4"
    judgment = rater.judge(song, short, long)
    assert (judgment.preference, judgment.strength) == ("a", 2)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("", "taste name"),
        ("loud", "unknown rater 'loud'"),
        ("loud:mistake=0.1", "unknown taste 'loud'"),
        ("musician:mistake", "key=value"),
        ("musician:sloppiness=1", "unknown key 'sloppiness'"),
        ("musician:mistake=lots", "is not a number"),
        ("musician:mistake=2", "mistake"),
        ("musician:noise=drunk", "unknown noise preset"),
        ("no_such_module_for_raters:judge", "cannot import module"),
        ("example_rater_plugins:missing", "no attribute 'missing'"),
        ("example_rater_plugins:NOT_CALLABLE", "neither callable"),
        ("example_rater_plugins:returns_junk", "no judge"),
    ],
)
def test_bad_specs_give_a_clear_error(spec, message):
    with pytest.raises(RaterError, match=message):
        load_rater(spec)


def test_noise_overrides_are_refused_for_external_raters():
    with pytest.raises(RaterError, match="only apply to built-in tastes"):
        load_rater("example_rater_plugins:prefer_longer", mistake=0.1)
