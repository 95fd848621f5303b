"""Does screening raters help the reward model? A simulated campaign through the HTTP API, with and without it.

Setup per seed: demo songs (``synthesize_corpus``, 35-45 s; the last
``--heldout`` songs held out) or, with ``RL_EDITOR_MUSIC_DIR`` set, the songs in
that folder. Candidates are sampled without a policy
(:func:`rl_editor.raters.campaign.sampled_manifest`), served by the real
feedback app and judged by five rater bots through ``/api/next`` and
``/api/judgments`` (:func:`rl_editor.raters.campaign.simulate_campaign`): four
``musician`` raters with 5 % mistakes and one careless one with 40 %. Each
pair is meant for ``--raters-per-pair`` raters (default 1), a share
``--overlap`` of them (default 0.3) for at least two (the task planner's
layout: a few shared pairs measure agreement, the others add data); each
rater also gets ``--gold`` gold pairs (default 20; in BS.1534 every trial
hides the reference, so screening rests on many items).

Figures per seed:

- who screening flags (:func:`rl_editor.feedback.screening.screen_pairs`,
  default rule: more than 15 % of 4+ gold pairs failed) and the weights;
- the reward model's held-out accuracy trained on the same judgments without
  screening, screened with flagged raters down-weighted (every judgment at its
  rater's reliability weight; the default), and screened with flagged raters
  dropped (``ScreeningRule(drop_flagged=True)``, the rest weighted): the share
  of pairs of 40 fresh edits of each held-out song that it orders like the
  raters' noiseless taste (pairs the taste scores within 0.1 left out).

Usage::

    python benchmarks/bench_screening.py [--seeds 4] [--members 3] [--raters-per-pair 1] [--overlap 0.3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_reward_sample_efficiency import taste_agreement  # noqa: E402
from rl_editor.audio.song import SongAnalysis  # noqa: E402
from rl_editor.feedback.screening import ScreeningRule, is_gold, screen_pairs  # noqa: E402
from rl_editor.feedback.tasks import TaskConfig  # noqa: E402
from rl_editor.preferences import PreferencePair  # noqa: E402
from rl_editor.raters import TASTES, load_rater  # noqa: E402
from rl_editor.raters.campaign import sampled_manifest, simulate_campaign  # noqa: E402
from rl_editor.reward.model import RewardEnsemble  # noqa: E402
from rl_editor.reward.train import RewardTrainConfig, train_reward_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TASTE = "musician"
GOOD_MISTAKE, CARELESS_MISTAKE = 0.05, 0.4


def bench_songs(n_songs: int) -> list[tuple[Path, SongAnalysis]]:
    """``(path, analysis)`` of the songs: ``$RL_EDITOR_MUSIC_DIR`` if set, else demo songs (cached)."""
    from rl_editor.audio import analyze_song

    given = os.environ.get("RL_EDITOR_MUSIC_DIR")
    if given:
        paths = sorted(p for p in Path(given).iterdir() if p.suffix.lower() in {".wav", ".ogg", ".flac", ".mp3"})
    else:
        from rl_editor.audio.demo_songs import synthesize_corpus

        folder = REPO / ".cache" / "bench" / f"demo-songs-screening-{n_songs}"
        paths = synthesize_corpus(folder, n_songs=n_songs, seed=11, duration_range_s=(35.0, 45.0))
    return [(Path(p), analyze_song(p)) for p in sorted(paths)[:n_songs]]


def campaign_raters(seed: int) -> dict:
    """Four careful raters and one careless one, each with its own seed."""
    raters = {f"careful-{k}": load_rater(TASTE, seed=100 * seed + k, mistake=GOOD_MISTAKE) for k in range(1, 5)}
    raters["careless"] = load_rater(TASTE, seed=100 * seed + 9, mistake=CARELESS_MISTAKE)
    return raters


def heldout_sets(songs: list[SongAnalysis], seed: int) -> list[tuple[SongAnalysis, np.ndarray, np.ndarray]]:
    """Per held-out song: 40 fresh edits and their noiseless taste scores."""
    from rl_editor.raters.tastes import sample_edits

    rng = np.random.default_rng(seed + 1000)
    out = []
    for song in songs:
        actions = np.stack(sample_edits(song, 40, rng))
        out.append((song, actions, TASTES[TASTE].score_batch(song, list(actions))))
    return out


def train(pairs: list[PreferencePair], analyses: dict[str, SongAnalysis], seed: int, members: int) -> RewardEnsemble:
    config = RewardTrainConfig(epochs=20, members=members, seed=seed)
    return train_reward_model(pairs, config, analyses=analyses)[0]


def run_seed(seed: int, songs: list[tuple[Path, SongAnalysis]], args: argparse.Namespace) -> dict:
    campaign_songs, heldout = songs[: -args.heldout], [a for _, a in songs[-args.heldout :]]
    analyses = {a.song_id: a for _, a in campaign_songs}
    with tempfile.TemporaryDirectory(prefix="bench-screening-") as tmp:
        started = time.perf_counter()
        manifest = sampled_manifest(
            campaign_songs, Path(tmp) / "campaign", args.candidates, np.random.default_rng(seed)
        )
        judged = simulate_campaign(
            manifest,
            campaign_raters(seed),
            TaskConfig(
                raters_per_pair=args.raters_per_pair, overlap_share=args.overlap, gold_per_rater=args.gold, seed=seed
            ),
        )
        campaign_s = time.perf_counter() - started
    regular = [p for p in judged if not is_gold(p)]
    down_weighted = screen_pairs(judged, ScreeningRule(drop_flagged=False))
    dropped = screen_pairs(judged, ScreeningRule(drop_flagged=True)).apply(regular)
    print(
        f"seed {seed}: {len(judged)} judgments through the HTTP API in {campaign_s:.0f} s "
        f"({len(judged) - len(regular)} gold); {down_weighted.summary_line()}; dropping flagged raters "
        f"would drop {dropped.n_dropped} of {len(regular)} judgments",
        flush=True,
    )
    for line in down_weighted.weight_lines():
        print(line, flush=True)
    test_sets = heldout_sets(heldout, seed)
    accuracy = {
        name: taste_agreement(train(pairs, analyses, seed, args.members), test_sets)
        for name, pairs in (
            ("unscreened", regular),
            ("down-weighted", down_weighted.apply(regular).pairs),
            ("dropped", dropped.pairs),
        )
    }
    print("  held-out accuracy: " + ", ".join(f"{name} {value:.3f}" for name, value in accuracy.items()), flush=True)
    return {"flagged": down_weighted.flagged, **accuracy}


def paired_interval(differences: np.ndarray) -> str:
    """``(95% CI -0.010 to +0.014 over seeds)``: Student's t on the per-seed differences."""
    if len(differences) < 2:
        return ""
    from scipy.stats import t

    half = float(t.ppf(0.975, len(differences) - 1)) * float(np.std(differences, ddof=1)) / np.sqrt(len(differences))
    mean = float(np.mean(differences))
    return f"(95% CI {mean - half:+.3f} to {mean + half:+.3f} over seeds)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--songs", type=int, default=6, help="Songs in all (campaign + held out).")
    parser.add_argument("--heldout", type=int, default=2)
    parser.add_argument("--candidates", type=int, default=8, help="Sampled edits per campaign song.")
    parser.add_argument("--gold", type=int, default=20, help="Gold pairs per rater.")
    parser.add_argument("--raters-per-pair", type=int, default=1, help="Raters meant to judge each pair.")
    parser.add_argument("--overlap", type=float, default=0.3, help="Share of pairs meant for 2+ raters.")
    parser.add_argument("--members", type=int, default=3)
    args = parser.parse_args()
    songs = bench_songs(args.songs)
    results = [run_seed(seed, songs, args) for seed in range(args.seeds)]
    flagged_right = sum(r["flagged"] == ["careless"] for r in results)
    print(f"\nscreening flagged exactly the careless rater in {flagged_right} of {len(results)} seeds")
    unscreened = np.array([r["unscreened"] for r in results])
    for name in ("unscreened", "down-weighted", "dropped"):
        values = np.array([r[name] for r in results])
        better = (
            ""
            if name == "unscreened"
            else (
                f"; above unscreened in {int(np.sum(values > unscreened))} of {len(results)} seeds, "
                f"mean difference {np.mean(values - unscreened):+.3f} {paired_interval(values - unscreened)}"
            )
        )
        print(
            f"held-out accuracy {name:<13} mean {values.mean():.3f} (per seed "
            f"{', '.join(f'{x:.3f}' for x in values)}){better}"
        )


if __name__ == "__main__":
    main()
