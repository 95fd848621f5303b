"""How many judged pairs the reward model needs, with random vs uncertainty-selected pairs.

Setup: demo songs (``synthesize_corpus``; 8 songs of 60-100 s, the last 2 held
out) or, with ``RL_EDITOR_MUSIC_DIR`` set, the songs in that folder. Candidate
edits are sampled without a policy by ``rl_editor.raters.tastes.sample_edits``
(keep share drawn from U(0.35, 1); 6 in 10 cut whole bars, the rest cut 1-8
beat runs starting anywhere; 3 in 10 also repeat a few beats). The pool is
every pair of 24 candidates of each training song. A simulated rater with the
``musician`` taste and 10 % mistakes (answers flipped) judges the pairs asked.

Figure: agreement of the ensemble's ranking with the rater's NOISELESS taste
on pairs of 40 fresh candidates of each held-out song (pairs whose taste gap
is below the rater's tie threshold are left out), after training on N pairs:

- random: the first N of a random order of the pool;
- uncertainty: 50 random pairs, then rounds that ask for the pairs the
  ensemble disagrees on most (std over members of P(A beats B); ``--method
  bald`` for information gain), at most ``--max-per-edit`` (2) per candidate
  per round, retraining from scratch after each round.

It also compares the ``bt``, ``bt-ordinal`` and ``mse-margin`` losses on the same random pairs
(agreement, and tie-aware log-likelihood of held-out judged pairs).

Members train for every epoch (``--val-frac 0``, as the loop trains them); ``--val-frac 0.2``
stops each member early on a song-held-out split instead.

The pairs uncertainty selection needs to reach random's 500-pair agreement are
printed per seed and for the mean curves (target: <= 60 % of random's).

Usage::

    python benchmarks/bench_reward_sample_efficiency.py [--quick] [--seeds 2] [--no-loss-comparison]
"""

from __future__ import annotations

import argparse
import os
import time
from itertools import combinations
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from rl_editor.audio.song import SongAnalysis  # noqa: E402
from rl_editor.edit import Edit  # noqa: E402
from rl_editor.preferences import EditRef, PreferencePair  # noqa: E402
from rl_editor.reward.losses import LOSSES  # noqa: E402
from rl_editor.reward.model import RewardEnsemble  # noqa: E402
from rl_editor.reward.select import RankedPair, pair_uncertainty, spread_top  # noqa: E402
from rl_editor.reward.train import RewardTrainConfig, preference_metrics, train_reward_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TASTE = "musician"
MISTAKE = 0.1


def bench_songs(n_songs: int = 8, duration_range_s: tuple[float, float] = (60.0, 100.0)) -> list[SongAnalysis]:
    """Analyses of the benchmark songs: ``$RL_EDITOR_MUSIC_DIR`` if set, else demo songs (cached)."""
    from rl_editor.audio import analyze_song

    given = os.environ.get("RL_EDITOR_MUSIC_DIR")
    if given:
        paths = sorted(p for p in Path(given).iterdir() if p.suffix.lower() in {".wav", ".ogg", ".flac", ".mp3"})
    else:
        from rl_editor.audio.demo_songs import synthesize_corpus

        folder = (
            REPO / ".cache" / "bench" / f"demo-songs-{n_songs}-{int(duration_range_s[0])}-{int(duration_range_s[1])}"
        )
        paths = synthesize_corpus(folder, n_songs=n_songs, seed=7, duration_range_s=duration_range_s)
    return [analyze_song(p) for p in sorted(paths)[:n_songs]]


def candidate_pool(songs: list[SongAnalysis], n_candidates: int, seed: int) -> tuple[dict, list[tuple[str, int, int]]]:
    """Sampled candidates per song and every within-song pair of them."""
    from rl_editor.raters.tastes import sample_edits

    rng = np.random.default_rng(seed)
    candidates = {s.song_id: np.stack(sample_edits(s, n_candidates, rng)) for s in songs}
    pool = [
        (s.song_id, a, b)
        for s in songs
        for a, b in combinations(range(n_candidates), 2)
        if not np.array_equal(candidates[s.song_id][a], candidates[s.song_id][b])
    ]
    return candidates, pool


class Oracle:
    """The noisy rater answering questions, remembering each answer (asked once)."""

    def __init__(self, songs: dict[str, SongAnalysis], candidates: dict, seed: int) -> None:
        from rl_editor.raters import load_rater

        self.rater = load_rater(TASTE, seed=seed, mistake=MISTAKE)
        self.songs, self.candidates = songs, candidates
        self.answers: dict[tuple[str, int, int], PreferencePair] = {}

    def ask(self, question: tuple[str, int, int]) -> PreferencePair:
        if question not in self.answers:
            song_id, a, b = question
            acts_a, acts_b = self.candidates[song_id][a], self.candidates[song_id][b]
            j = self.rater.judge(self.songs[song_id], Edit(song_id, acts_a), Edit(song_id, acts_b))
            self.answers[question] = PreferencePair(
                song_id,
                EditRef(f"{a}", acts_a.tolist(), 0.0),
                EditRef(f"{b}", acts_b.tolist(), 0.0),
                j.preference,
                int(j.strength),
                self.rater.name,
                "2026-01-01T00:00:00",
            )
        return self.answers[question]


def taste_agreement(ensemble: RewardEnsemble, test_sets: list[tuple[SongAnalysis, np.ndarray, np.ndarray]]) -> float:
    """Share of test pairs the ensemble orders like the noiseless taste."""
    hits, total = 0, 0
    for song, actions, truth in test_sets:
        mean, _ = ensemble.score(song, actions)
        a, b = np.triu_indices(len(actions), k=1)
        gap_true = truth[a] - truth[b]
        keep = np.abs(gap_true) > 0.1
        hits += int(np.sum(np.sign(mean[a] - mean[b])[keep] == np.sign(gap_true[keep])))
        total += int(keep.sum())
    return hits / max(total, 1)


def judged_test_pairs(songs: list[SongAnalysis], test_sets, seed: int, n_per_song: int = 150) -> list[PreferencePair]:
    """Held-out pairs judged by the noisy rater (for log-likelihood)."""
    rng = np.random.default_rng(seed)
    oracle = Oracle({s.song_id: s for s in songs}, {s.song_id: acts for s, acts, _ in test_sets}, seed + 99)
    pairs = []
    for song, acts, _ in test_sets:
        a, b = np.triu_indices(len(acts), k=1)
        for k in rng.choice(len(a), size=min(n_per_song, len(a)), replace=False):
            pairs.append(oracle.ask((song.song_id, int(a[k]), int(b[k]))))
    return pairs


def heldout_loglik(ensemble: RewardEnsemble, pairs: list[PreferencePair], songs: dict[str, SongAnalysis]) -> float:
    gaps, outcomes, strengths = [], [], []
    for p in pairs:
        mean, _ = ensemble.score(songs[p.song_id], np.array([p.edit_a.actions, p.edit_b.actions]))
        gaps.append(mean[0] - mean[1])
        outcomes.append({"a": 0, "b": 1, "tie": 2}[p.preference])
        strengths.append(p.strength)
    return preference_metrics(np.array(gaps), np.array(outcomes), np.array(strengths), ensemble.calibration)[
        "log_likelihood"
    ]


def train(pairs: list[PreferencePair], analyses: dict, config: RewardTrainConfig) -> RewardEnsemble:
    return train_reward_model(pairs, config, analyses=analyses)[0]


def run_seed(seed: int, songs: list[SongAnalysis], args: argparse.Namespace) -> dict:
    torch.manual_seed(seed)
    train_songs, test_songs = songs[:-2], songs[-2:]
    analyses = {s.song_id: s for s in songs}
    candidates, pool = candidate_pool(train_songs, args.candidates, seed)
    oracle = Oracle(analyses, candidates, seed)
    from rl_editor.raters import TASTES
    from rl_editor.raters.tastes import sample_edits

    rng = np.random.default_rng(seed + 1000)
    test_sets = []
    for s in test_songs:
        acts = np.stack(sample_edits(s, 40, rng))
        test_sets.append((s, acts, TASTES[TASTE].score_batch(s, list(acts))))
    config = RewardTrainConfig(epochs=20, members=args.members, seed=seed, val_frac=args.val_frac)
    order = np.random.default_rng(seed).permutation(len(pool))
    sizes = [n for n in args.sizes if n <= len(pool)]
    out: dict = {"random": {}, "uncertainty": {}, "loss": {}}

    for n in sizes:
        pairs = [oracle.ask(pool[k]) for k in order[:n]]
        out["random"][n] = taste_agreement(train(pairs, analyses, config), test_sets)
        print(f"  seed {seed} random      {n:>5} pairs: agreement {out['random'][n]:.3f}", flush=True)

    asked = [pool[k] for k in order[: sizes[0]]]
    for n_next in sizes[1:] + [None]:
        ensemble = train([oracle.ask(q) for q in asked], analyses, config)
        out["uncertainty"][len(asked)] = taste_agreement(ensemble, test_sets)
        print(
            f"  seed {seed} uncertainty {len(asked):>5} pairs: agreement {out['uncertainty'][len(asked)]:.3f}",
            flush=True,
        )
        if n_next is None:
            break
        taken = set(asked)
        scored = []
        for song in train_songs:
            member = ensemble.member_scores(song, candidates[song.song_id])
            qs = [q for q in pool if q[0] == song.song_id and q not in taken]
            if qs:
                u = pair_uncertainty(
                    member, np.array([q[1] for q in qs]), np.array([q[2] for q in qs]), ensemble, args.method
                )
                scored.extend(zip(u, qs))
        ranked = sorted(
            (RankedPair(q[0], str(q[1]), str(q[2]), float(u)) for u, q in scored), key=lambda p: p.score, reverse=True
        )
        picked = spread_top(ranked, n_next - len(asked), args.max_per_edit)
        asked += [(p.song_id, int(p.edit_a), int(p.edit_b)) for p in picked]

    print(f"  seed {seed}: {efficiency_text(out['random'], out['uncertainty'])}", flush=True)
    test_pairs = judged_test_pairs(test_songs, test_sets, seed) if args.loss_sizes else []
    for n in args.loss_sizes:
        pairs = [oracle.ask(pool[k]) for k in order[:n]]
        for loss in LOSSES:
            ens = train(
                pairs,
                analyses,
                RewardTrainConfig(epochs=20, members=args.members, seed=seed, loss=loss, val_frac=args.val_frac),
            )
            out["loss"][(loss, n)] = (taste_agreement(ens, test_sets), heldout_loglik(ens, test_pairs, analyses))
            print(
                f"  seed {seed} {loss:<10} {n:>5} pairs: agreement {out['loss'][(loss, n)][0]:.3f} "
                f"held-out log-lik {out['loss'][(loss, n)][1]:.3f}",
                flush=True,
            )
    return out


def interpolate_pairs_needed(curve: dict[int, float], target: float) -> float | None:
    """Fewest pairs at which a (piecewise linear) curve reaches ``target``."""
    points = sorted(curve.items())
    for (n0, a0), (n1, a1) in zip(points, points[1:]):
        if a0 >= target:
            return float(n0)
        if a1 >= target:
            return n0 + (target - a0) / (a1 - a0) * (n1 - n0)
    return float(points[0][0]) if points and points[0][1] >= target else None


def efficiency_text(random_curve: dict[int, float], active_curve: dict[int, float]) -> str:
    """``uncertainty selection reaches random's 500-pair agreement (0.812) at 230 pairs = 46% of 500 (...)``."""
    reference = 500 if 500 in random_curve else max(random_curve)
    needed = interpolate_pairs_needed(active_curve, random_curve[reference])
    share = None if needed is None else needed / reference
    verdict = "" if share is None else f", {'met' if share <= 0.6 else 'not met'}"
    return (
        f"uncertainty selection reaches random's {reference}-pair agreement ({random_curve[reference]:.3f}) at "
        f"{'never' if needed is None else f'{needed:.0f} pairs = {share:.0%} of {reference}'} "
        f"(target <= 60%{verdict})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer songs, sizes and members (a smoke run)")
    parser.add_argument("--seeds", type=int, default=2, help="repetitions with different pools, raters and inits")
    parser.add_argument("--method", default="disagreement", help="uncertainty measure: disagreement or bald")
    parser.add_argument("--max-per-edit", type=int, default=2, help="cap on questions per candidate per round")
    parser.add_argument(
        "--val-frac",
        type=float,
        default=0.0,
        help="share of training songs that stop each member early (0: every epoch, as the loop)",
    )
    parser.add_argument("--no-loss-comparison", action="store_true", help="leave out the comparison of losses")
    args = parser.parse_args()
    if args.quick:
        args.n_songs, args.candidates, args.members, args.seeds = 5, 16, 3, 1
        args.sizes, args.loss_sizes, duration = [50, 100, 200], [100], (40.0, 60.0)
    else:
        args.n_songs, args.candidates, args.members = 8, 24, 5
        args.sizes, args.loss_sizes, duration = [50, 100, 150, 200, 300, 400, 500, 700, 1000], [200, 500], (60.0, 100.0)
    if args.no_loss_comparison:
        args.loss_sizes = []
    start = time.perf_counter()
    songs = bench_songs(args.n_songs, duration)
    print(
        f"{len(songs)} songs ({len(songs) - 2} train, 2 held out), {sum(s.n_beats for s in songs)} beats; "
        f"rater {TASTE} with {MISTAKE:.0%} mistakes; {args.members} members"
    )
    results = [run_seed(seed, songs, args) for seed in range(args.seeds)]

    def mean_curve(kind: str) -> dict[int, float]:
        sizes = set.intersection(*(set(r[kind]) for r in results))
        return {n: float(np.mean([r[kind][n] for r in results])) for n in sorted(sizes)}

    random_curve, active_curve = mean_curve("random"), mean_curve("uncertainty")
    print(f"\nagreement with the noiseless {TASTE} taste on held-out songs (mean of {args.seeds} seeds)")
    print(f"{'pairs':>6} {'random':>8} {'uncertainty':>12}")
    for n in sorted(set(random_curve) | set(active_curve)):
        r = f"{random_curve[n]:.3f}" if n in random_curve else "-"
        a = f"{active_curve[n]:.3f}" if n in active_curve else "-"
        print(f"{n:>6} {r:>8} {a:>12}")
    if 200 in random_curve:
        print(f"random at 200 pairs: {random_curve[200]:.3f} (target >= 0.80)")
    print(f"mean curves: {efficiency_text(random_curve, active_curve)}")
    for seed, r in enumerate(results):
        print(f"seed {seed}: {efficiency_text(r['random'], r['uncertainty'])}")
    if not args.loss_sizes:
        print(f"\ntotal time {time.perf_counter() - start:.0f} s")
        return
    print("\nloss comparison on random pairs (mean over seeds): agreement / held-out tie-aware log-likelihood")
    for n in args.loss_sizes:
        for loss in LOSSES:
            agree = np.mean([r["loss"][(loss, n)][0] for r in results])
            ll = np.mean([r["loss"][(loss, n)][1] for r in results])
            print(f"  {loss:<10} {n:>5} pairs: agreement {agree:.3f}  log-likelihood {ll:.3f}")
    print(f"\ntotal time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
