import numpy as np
import pytest

from rl_editor.edit import CUT, KEEP, REPEAT, Edit, EditError, beat_sequence, splice_pairs, validate_actions


def test_beat_sequence_plays_kept_once_repeated_twice_and_skips_cut():
    actions = np.array([KEEP, CUT, REPEAT, KEEP])
    assert beat_sequence(actions).tolist() == [0, 2, 2, 3]


def test_splice_pairs_mark_jumps_after_cuts_and_at_repeats():
    actions = np.array([KEEP, CUT, CUT, KEEP, REPEAT, KEEP])
    # played: 0, 3, 4, 4, 5 -> jumps 0->3 (cut) and 4->4 (repeat restart)
    assert splice_pairs(actions).tolist() == [[0, 3], [4, 4]]


def test_keep_everything_has_no_splices():
    assert splice_pairs(np.zeros(16, dtype=int)).shape == (0, 2)


def test_duration_follows_from_actions_without_rendering():
    durations = np.array([0.5, 0.5, 0.6, 0.4])
    edit = Edit("song", np.array([KEEP, CUT, REPEAT, KEEP]))
    assert edit.duration_seconds(durations) == pytest.approx(0.5 + 0.6 + 0.6 + 0.4)
    assert edit.cut_share() == pytest.approx(0.25)


@pytest.mark.parametrize("bad", [[0, 3], [-1, 0], [[0, 1]], [0.5, 1]])
def test_invalid_actions_are_rejected(bad):
    with pytest.raises(EditError):
        validate_actions(bad)


def test_length_must_match_the_song():
    with pytest.raises(EditError, match="3 actions for a song of 4 beats"):
        validate_actions([0, 0, 0], n_beats=4)


def test_edits_compare_by_song_and_actions():
    a = Edit("s", np.array([0, 1, 0]))
    assert a == Edit("s", [0, 1, 0])
    assert a != Edit("t", [0, 1, 0])
    assert len({a, Edit("s", [0, 1, 0])}) == 1
