from pathlib import Path

import numpy as np
import pytest
from scipy.stats import kendalltau

from rl_editor.edit import CUT, KEEP, REPEAT, Edit
from rl_editor.raters.tastes import TASTES, CriteriaTaste, RaterError, Taste, edit_criteria, sample_edits

BUILT_IN = ("musician", "radio", "purist", "brief", "complete")


def cut(song, start, stop):
    actions = np.full(song.n_beats, KEEP, dtype=np.int8)
    actions[start:stop] = CUT
    return Edit(song.song_id, actions)


def test_every_named_taste_follows_the_taste_protocol():
    assert set(BUILT_IN) | {"dense"} <= set(TASTES)
    for taste in TASTES.values():
        assert isinstance(taste, Taste)


@pytest.mark.parametrize("name", BUILT_IN)
def test_scores_are_deterministic_and_batch_matches_single(song, name):
    edits = sample_edits(song, 12, np.random.default_rng(5))
    batch = TASTES[name].score_batch(song, edits)
    single = [TASTES[name].score(song, Edit(song.song_id, a)) for a in edits]
    assert batch.shape == (12,)
    np.testing.assert_allclose(batch, single)
    np.testing.assert_allclose(TASTES[name].score_batch(song, edits), batch)


@pytest.mark.parametrize("name", BUILT_IN)
def test_scores_are_normalised_so_typical_gaps_are_order_one(song_factory, name):
    song = song_factory("fresh", seed=11)
    scores = TASTES[name].score_batch(song, sample_edits(song, 200, np.random.default_rng(99)))
    assert abs(np.median(scores)) < 0.4
    iqr = np.subtract(*np.percentile(scores, [75, 25]))
    assert 0.6 < iqr < 2.5
    gaps = np.abs(scores[::2] - scores[1::2])
    assert 0.3 < np.median(gaps) < 3.0


def test_musician_prefers_a_bar_aligned_cut_to_an_off_beat_cut(song):
    aligned = cut(song, 96, 112)  # bars 24-27: four whole bars of the second verse
    off_beat = cut(song, 98, 114)  # the same length, starting and ending mid-bar
    taste = TASTES["musician"]
    assert taste.score(song, aligned) > taste.score(song, off_beat)
    assert edit_criteria(song, aligned.actions)["bar_aligned"] == 1.0
    assert edit_criteria(song, off_beat.actions)["bar_aligned"] == 0.0


@pytest.mark.parametrize("name", ["musician", "radio"])
def test_keeping_the_chorus_beats_cutting_it(song, name):
    assert song.section_names[16] == "verse" and song.section_names[48] == "chorus"
    cut_verse = cut(song, 16, 48)
    cut_chorus = cut(song, 48, 80)
    assert TASTES[name].score(song, cut_verse) > TASTES[name].score(song, cut_chorus)


def test_musician_dislikes_stutter_repeats(song):
    clean = cut(song, 16, 48)
    stutter = Edit(song.song_id, clean.actions.copy())
    stutter.actions[[50, 61, 70]] = REPEAT
    assert TASTES["musician"].score(song, clean) > TASTES["musician"].score(song, stutter)


def test_purist_prefers_keeping_everything_to_any_cut(song):
    everything = Edit(song.song_id, np.zeros(song.n_beats, dtype=np.int8))
    purist = TASTES["purist"]
    for actions in sample_edits(song, 20, np.random.default_rng(3)):
        if np.any(actions != KEEP):
            assert purist.score(song, everything) > purist.score(song, Edit(song.song_id, actions))


def test_radio_prefers_a_short_chorus_edit_to_the_whole_song(song):
    chorus_only = np.full(song.n_beats, CUT, dtype=np.int8)
    chorus_only[[0, -1]] = KEEP
    chorus_only[48:80] = KEEP
    chorus_only[112:144] = KEEP
    everything = np.zeros(song.n_beats, dtype=np.int8)
    radio = TASTES["radio"]
    assert radio.score(song, Edit(song.song_id, chorus_only)) > radio.score(song, Edit(song.song_id, everything)) + 1.0


def test_built_in_tastes_rank_the_same_candidates_differently(songs):
    taus = {}
    for first, second in [("musician", "radio"), ("musician", "purist"), ("radio", "purist")]:
        values = []
        for song in songs:
            edits = sample_edits(song, 40, np.random.default_rng(7))
            values.append(
                kendalltau(TASTES[first].score_batch(song, edits), TASTES[second].score_batch(song, edits))[0]
            )
        taus[(first, second)] = float(np.mean(values))
    assert all(tau < 0.6 for tau in taus.values()), taus


def test_musician_disagrees_with_the_dense_reward(songs):
    values = []
    for song in songs:
        edits = sample_edits(song, 40, np.random.default_rng(8))
        values.append(
            kendalltau(TASTES["musician"].score_batch(song, edits), TASTES["dense"].score_batch(song, edits))[0]
        )
    assert float(np.mean(values)) < 0.75


def test_myopia_weights_the_end_of_the_edit_more(song):
    early_bad = cut(song, 18, 22)  # an off-beat cut near the start
    late_bad = cut(song, 150, 154)  # the same cut near the end
    taste = TASTES["musician"]
    far_sighted = taste.score(song, early_bad) - taste.score(song, late_bad)
    myopic = taste.score(song, early_bad, myopia=0.95) - taste.score(song, late_bad, myopia=0.95)
    assert myopic > far_sighted


def test_unknown_criterion_is_rejected():
    with pytest.raises(RaterError, match="unknown criteria"):
        CriteriaTaste(name="odd", weights={"loudness_war": 1.0})


def _bars_from(song, start_s, n_bars):
    downbeats = np.flatnonzero(song.beat_in_bar == 0)
    first = downbeats[np.searchsorted(song.beat_times_s[downbeats], start_s - 1e-3)]
    k = np.searchsorted(downbeats, first)
    return int(first), int(downbeats[min(k + n_bars, downbeats.size - 1)])


@pytest.fixture(scope="module")
def full_length_demo_songs(tmp_path_factory):
    """Two demo songs long enough (80-100 s) that verse and chorus each span several bars.

    In the session's 40-second demo songs a section is two or three bars, so
    "two bars from the verse's start" runs into the next section.
    """
    from rl_editor.audio import analyze_song
    from rl_editor.audio.demo_songs import synthesize_corpus

    folder = tmp_path_factory.mktemp("full-length-demo")
    paths = synthesize_corpus(folder, n_songs=2, seed=1234, duration_range_s=(80.0, 100.0))
    return folder, [analyze_song(p) for p in paths]


def test_on_demo_songs_musician_keeps_the_chorus_and_cuts_a_verse(full_length_demo_songs):
    """On analysed demo songs (sections and their energy known), cutting a chorus loses to cutting a verse."""
    import json

    demo_songs_dir, analyses = full_length_demo_songs
    checked = 0
    for song in analyses:
        sections = json.loads((demo_songs_dir / f"{Path(song.path).stem}.json").read_text())["sections"]
        verse = next(s for s in sections if s["name"] == "verse")
        chorus = next(s for s in sections if s["name"] == "chorus")
        n_bars = 2
        cut_verse = cut(song, *_bars_from(song, verse["start_s"], n_bars))
        cut_chorus = cut(song, *_bars_from(song, chorus["start_s"], n_bars))
        assert cut_verse.cut_share() == pytest.approx(cut_chorus.cut_share(), abs=0.05)
        for name in ("musician", "radio"):
            assert TASTES[name].score(song, cut_verse) > TASTES[name].score(song, cut_chorus), (song.song_id, name)
        checked += 1
    assert checked == len(analyses) >= 2


@pytest.mark.parametrize("name, short_wins", [("brief", True), ("complete", False)])
def test_brief_and_complete_want_lengths_far_from_the_dense_rewards(song, name, short_wins):
    """``brief`` (about 45 %) and ``complete`` (about 95 %) sit 0.2-0.3 away from the dense reward's 75 %."""
    n = song.n_beats
    short = np.full(n, KEEP, dtype=np.int8)
    short[16 : 16 + int(0.55 * n) // 16 * 16] = CUT  # about 45 % kept, whole bars
    long = np.full(n, KEEP, dtype=np.int8)
    long[16:24] = CUT  # about 95 % kept
    taste = TASTES[name]
    preferred = taste.score(song, Edit(song.song_id, short)) > taste.score(song, Edit(song.song_id, long))
    assert preferred == short_wins
    assert abs(taste.target_keep_share - 0.75) >= 0.2 - 1e-9


def test_the_rater_option_help_names_every_shipped_taste():
    from rl_editor.raters.commands import RATER_HELP

    listed = RATER_HELP.split("a taste (", 1)[1].split(")", 1)[0]
    named = [name.strip() for part in listed.split(";") for name in part.split(":")[-1].split(",")]
    assert sorted(named) == sorted(TASTES)


def _cut_bars(song, bar_ranges) -> np.ndarray:
    actions = np.full(song.n_beats, KEEP, dtype=np.int8)
    for first, last in bar_ranges:
        actions[4 * first : 4 * last] = CUT
    return actions


def test_content_tastes_want_the_same_length_and_differ_only_in_what_goes(song):
    """Layout: intro 0-4, verse 4-12, chorus 12-20, verse 20-28, chorus 28-36, bridge 36-40, outro 40-44 (bars).
    Every edit below cuts 8 bars: what goes differs, the length does not."""
    from rl_editor.raters.tastes import CONTENT_TASTES

    second_chorus = _cut_bars(song, [(28, 36)])
    second_verse = _cut_bars(song, [(20, 28)])
    intro_and_bridge = _cut_bars(song, [(0, 4), (36, 40)])
    bridge_and_outro = _cut_bars(song, [(36, 44)])
    first_verse = _cut_bars(song, [(4, 12)])

    def prefers(name: str, better: np.ndarray, worse: np.ndarray) -> bool:
        taste = TASTES[name]
        return taste.score(song, better) > taste.score(song, worse)

    assert {TASTES[name].target_keep_share for name in CONTENT_TASTES} == {0.75}
    # the loud chorus: kept by one listener, cut by the other
    assert prefers("energetic", second_verse, second_chorus)
    assert prefers("background", second_chorus, second_verse)
    # the intro: cut by a cold open, kept by a listener who wants the song's start and end
    assert prefers("cold_open", intro_and_bridge, bridge_and_outro)
    assert prefers("bookends", first_verse, intro_and_bridge)
    # reprises: the second verse goes, not the first
    assert prefers("first_takes", second_verse, first_verse)
