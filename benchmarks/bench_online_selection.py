"""Online pair selection in a running campaign against random order: held-out accuracy per judgment.

Setup: demo songs (``synthesize_corpus``; ``--songs`` songs of 40-70 s), each
with ``--candidates`` candidate edits sampled without a policy
(``rl_editor.raters.tastes.sample_edits``). One feedback campaign (SQLite, in
a temporary folder) holds every within-song pair of them, one vote per pair.
Four simulated raters with the ``musician`` taste and 10 % mistakes take turns
through the store's own scheduling (``next_task`` / ``submit_judgment``, the
code behind ``/api/next`` and ``/api/judgments``).

Every ``--every`` judgments a reward ensemble is retrained on the campaign's
judgments so far (:func:`rl_editor.feedback.online.retrain_ensemble`, the
server's own) and scored:

- random: the campaign's pairs are handed out in one random order per seed
  (set as priorities, so both arms ask the same first ``--every`` questions);
- online: after each retraining the open pairs are reordered by the ensemble's
  disagreement (:func:`rl_editor.feedback.online.prioritize_campaign`, what
  ``serve --online-selection K`` does every K judgments).

Held-out accuracy: the share of pairs of ``--heldout`` fresh candidates of the
same songs (never in the campaign) that the ensemble orders like the rater's
NOISELESS taste (pairs whose taste gap is below 0.1 are left out). Both curves
are printed per seed and averaged; the summary says how many judgments online
selection needs to reach random order's final accuracy (target: at most 70 %).

With ``RL_EDITOR_MUSIC_DIR`` the campaign runs on the first ``--songs`` real
songs of that folder (by name) and the held-out pairs come from the next
``--heldout-songs`` songs, which the campaign never had.

Usage::

    [RL_EDITOR_MUSIC_DIR=DIR] python benchmarks/bench_online_selection.py [--quick] [--seeds 3] [--budget 160] [--every 20]
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
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_reward_sample_efficiency import interpolate_pairs_needed, taste_agreement  # noqa: E402
from rl_editor.audio.song import SongAnalysis  # noqa: E402
from rl_editor.feedback.online import (  # noqa: E402
    OnlineSelectionConfig,
    SongAnalyses,
    prioritize_campaign,
    retrain_ensemble,
)
from rl_editor.feedback.storage import FeedbackStore  # noqa: E402
from rl_editor.feedback.tasks import TaskConfig  # noqa: E402
from rl_editor.generate.manifest import Manifest  # noqa: E402
from rl_editor.raters.campaign import judge_next_task, sampled_manifest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TASTE = "musician"
MISTAKE = 0.1
N_RATERS = 4


def demo_songs(n_songs: int) -> list[tuple[Path, SongAnalysis]]:
    """Demo songs (synthesized once into ``.cache/bench``) and their analyses."""
    from rl_editor.audio import analyze_song
    from rl_editor.audio.demo_songs import synthesize_corpus

    folder = REPO / ".cache" / "bench" / f"demo-songs-online-{n_songs}"
    paths = sorted(synthesize_corpus(folder, n_songs=n_songs, seed=11, duration_range_s=(40.0, 70.0)))
    return [(p, analyze_song(p)) for p in paths]


def campaign_manifest(root: Path, songs: list[tuple[Path, SongAnalysis]], n_candidates: int, seed: int) -> Manifest:
    """A manifest of sampled candidates (no audio: the store API needs none)."""
    return sampled_manifest(songs, root, n_candidates, np.random.default_rng(seed), render=False)


def real_songs(music_dir: str, n_songs: int, n_heldout: int) -> tuple[list, list]:
    """The first ``n_songs`` songs of ``music_dir`` (by name) for the campaign and the next ``n_heldout`` held out."""
    from rl_editor.audio import analyze_song
    from rl_editor.audio.io import find_songs

    found = find_songs(music_dir)[: n_songs + n_heldout]
    songs = [(f.path, analyze_song(f.path)) for f in found]
    return songs[:n_songs], songs[n_songs:]


def heldout_sets(songs: list[tuple[Path, SongAnalysis]], n: int, seed: int) -> list:
    """Fresh candidates of each song with the noiseless taste's scores."""
    from rl_editor.raters import TASTES
    from rl_editor.raters.tastes import sample_edits

    rng = np.random.default_rng(seed + 5000)
    sets = []
    for _, song in songs:
        actions = np.stack(sample_edits(song, n, rng))
        sets.append((song, actions, TASTES[TASTE].score_batch(song, list(actions))))
    return sets


class SimulatedRaters:
    """Raters taking turns at the store's scheduler, as people at ``/api/next`` would."""

    def __init__(self, store: FeedbackStore, analyses: dict[str, SongAnalysis], seed: int) -> None:
        from sqlalchemy import select

        from rl_editor.feedback.models import Rater
        from rl_editor.raters import load_rater

        self.store, self.analyses = store, analyses
        self.raters = []
        for k in range(N_RATERS):
            store.add_rater(f"sim-{k}")
            with store.transaction(readonly=True) as session:
                rater_id = session.scalars(select(Rater.id).where(Rater.name == f"sim-{k}")).one()
            self.raters.append((rater_id, load_rater(TASTE, seed=seed * 100 + k, mistake=MISTAKE)))
        self.turn = 0

    def judge(self, n: int) -> int:
        """``n`` more judgments (fewer when the campaign runs out); returns how many were made."""
        made = 0
        for _ in range(n):
            rater_id, rater = self.raters[self.turn % len(self.raters)]
            self.turn += 1
            if not judge_next_task(self.store, rater_id, rater, self.analyses):
                break
            made += 1
        return made


def seeded_random_order(manifest: Manifest, seed: int) -> dict[tuple[str, str], float]:
    """Priorities putting the campaign's pairs in one random order per seed (the same for both arms)."""
    from itertools import combinations

    pairs = [(a.edit_id, b.edit_id) for entry in manifest.songs for a, b in combinations(entry.candidates, 2)]
    order = np.random.default_rng(seed + 7).permutation(len(pairs))
    return {pairs[k]: float(len(pairs) - rank) for rank, k in enumerate(order)}


def run_arm(
    online: bool, seed: int, songs: list[tuple[Path, SongAnalysis]], heldout: list, args: argparse.Namespace
) -> dict[int, float]:
    """Held-out accuracy after every ``args.every`` judgments of one campaign."""
    torch.manual_seed(seed)
    config = OnlineSelectionConfig(
        every_judgments=args.every,
        members=args.members,
        epochs=args.epochs,
        seed=seed,
        min_pairs=1,
        random_share=args.random_share,
        max_per_edit=args.max_per_edit,
    )
    analyses = SongAnalyses({song.song_id: song for _, song in songs})
    curve: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-online-") as tmp:
        manifest = campaign_manifest(Path(tmp), songs, args.candidates, seed)
        with FeedbackStore.open(None, manifest.path) as store:
            store.create_tasks_from_manifest(manifest, TaskConfig(votes_per_pair=1, gold_per_rater=0, seed=seed))
            store.reprioritize_campaign(config.campaign, seeded_random_order(manifest, seed))
            raters = SimulatedRaters(store, analyses.by_id, seed)
            judged = 0
            while judged < args.budget:
                made = raters.judge(args.every)
                if made == 0:
                    break
                judged += made
                ensemble = retrain_ensemble(store, config, analyses)
                assert ensemble is not None
                curve[judged] = taste_agreement(ensemble, heldout)
                if online:
                    prioritize_campaign(store, ensemble, config, analyses)
                print(
                    f"  seed {seed} {'online' if online else 'random':6s} {judged:>4} judgments: "
                    f"held-out accuracy {curve[judged]:.3f}",
                    flush=True,
                )
    return curve


def mean_curve(curves: list[dict[int, float]]) -> dict[int, float]:
    sizes = sorted(set.intersection(*(set(c) for c in curves)))
    return {n: float(np.mean([c[n] for c in curves])) for n in sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, a small budget (a smoke run)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--songs", type=int, default=6)
    parser.add_argument("--candidates", type=int, default=10, help="candidate edits per song in the campaign")
    parser.add_argument("--heldout", type=int, default=30, help="fresh candidates per song for the held-out pairs")
    parser.add_argument(
        "--heldout-songs",
        type=int,
        default=4,
        help="with RL_EDITOR_MUSIC_DIR: songs held out of the campaign for the held-out pairs",
    )
    parser.add_argument("--budget", type=int, default=160, help="judgments per campaign")
    parser.add_argument("--every", type=int, default=20, help="K: retrain (and, online, reorder) every K judgments")
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--random-share", type=float, default=0.2)
    parser.add_argument("--max-per-edit", type=int, default=2)
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.songs, args.budget, args.every = 1, 3, 40, 20
    started = time.perf_counter()
    music = os.environ.get("RL_EDITOR_MUSIC_DIR")
    if music:  # real songs: the held-out pairs come from songs the campaign never had
        songs, heldout_songs = real_songs(music, args.songs, args.heldout_songs)
        print(
            f"real songs in {music}: campaign {[s.song_id for _, s in songs]}, "
            f"held out {[s.song_id for _, s in heldout_songs]}"
        )
    else:
        songs = demo_songs(args.songs)
        heldout_songs = songs
    curves: dict[str, list[dict[int, float]]] = {"random": [], "online": []}
    for seed in range(args.seeds):
        heldout = heldout_sets(heldout_songs, args.heldout, seed)
        for arm in ("random", "online"):
            curves[arm].append(run_arm(arm == "online", seed, songs, heldout, args))
    means = {arm: mean_curve(c) for arm, c in curves.items()}
    print(
        f"\nheld-out accuracy (noiseless {TASTE} taste) by judgments, mean of {args.seeds} seeds; "
        f"{args.songs} songs x {args.candidates} candidates, {N_RATERS} raters with {MISTAKE:.0%} mistakes, "
        f"retrained every {args.every} judgments"
    )
    print("  judgments  " + " ".join(f"{n:>6}" for n in means["random"]))
    for arm in ("random", "online"):
        print(f"  {arm:9s}  " + " ".join(f"{means[arm][n]:6.3f}" for n in means["random"]))
    final_n = max(means["random"])
    target = means["random"][final_n]
    needed = interpolate_pairs_needed(means["online"], target)
    share = None if needed is None else needed / final_n
    print(
        f"random order reaches {target:.3f} with {final_n} judgments; online selection reaches it with "
        + (
            f"{needed:.0f} ({share:.0%}); target <= 70%: {'met' if share <= 0.7 else 'NOT met'}"
            if share is not None
            else f"no budget up to {final_n} (target <= 70%: NOT met)"
        )
    )
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
