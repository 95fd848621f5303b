"""Does one feedback iteration move the policy toward any taste? Every (taste, seed) on held-out songs.

Usage::

    RL_EDITOR_MUSIC_DIR=/path/to/songs python benchmarks/bench_rlhf_tastes.py \
        [--tastes musician,radio,purist,brief,complete] [--seeds 0,1,2] [--heldout 5] [--pairs 500] [--out DIR]

For each seed, one loop per taste (``rl-editor loop`` with ``--rater TASTE:mistake=0.1``,
one iteration of ``--pairs`` judgments, evaluation by 5 held-out raters of the
same taste on the held-out songs, the last ``--heldout`` by name). The tastes of
one seed share the iteration-1 policy and the bootstrap reward model (trained
by the first taste's loop), so rows of a seed differ only by the taste.

One row per (taste, seed), every row printed:

- the tie-inclusive preference share of new over old, (wins + ties/2) / judgments,
  with its song-clustered 95% interval (target: >= 0.65 with the interval above 0.5
  in >= 80% of rows, no row below 0.45);
- the decisive win rate and the tie share (target: ties <= 40%);
- edit length (share of the song) old -> new beside the taste's preferred length
  (target, for tastes with a length preference: new moves at least half way);
- the reward model's held-out accuracy (new, and the bootstrap model's);
- the third arm: the old policy's best of 4 samples ranked by the new reward model, its share against old;
- headroom (``taste_headroom.py``): the taste's own noise-free score of old and new edits beside the best of
  64 samples of the old policy, the share of that headroom captured (target: >= 50% for content tastes), the
  reward model's best of 8, the taste's signature criterion old -> new and distinct edits of 8 samples.

Without ``RL_EDITOR_MUSIC_DIR`` it runs on 14 synthesized demo songs (for a smoke
run; the targets are about real songs).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))


def songs_folder(quick: bool, scratch: Path) -> tuple[Path, str]:
    music = os.environ.get("RL_EDITOR_MUSIC_DIR")
    if music:
        return Path(music), f"real songs in {music}"
    from rl_editor.audio.demo_songs import synthesize_corpus

    folder = scratch / "songs"
    n = 8 if quick else 14
    synthesize_corpus(folder, n_songs=n, seed=0, duration_range_s=(30.0, 60.0))
    return folder, f"{n} synthesized demo songs (no RL_EDITOR_MUSIC_DIR)"


def row_of(run: Path, taste: str, seed: int, seconds: float, old_policy: Path) -> dict:
    from rl_editor.raters.tastes import TASTES
    from rl_editor.rlhf.winrate import WinRate
    from taste_headroom import headroom

    evaluation = json.loads((run / "iter-01" / "eval.json").read_text())
    accuracy = json.loads((run / "iter-01" / "reward_eval.json").read_text())
    win = WinRate.from_json(evaluation["win"])
    old, new = evaluation["edit_stats"]["old"], evaluation["edit_stats"]["new"]
    preferred = getattr(TASTES[taste], "target_keep_share", None)
    moved = None
    if preferred is not None and abs(preferred - old["duration_share"]) > 0.05:
        moved = (new["duration_share"] - old["duration_share"]) / (preferred - old["duration_share"])
    return {
        "taste": taste,
        "seed": seed,
        "share": win.preference_share,
        "ci_low": win.share_ci_low,
        "ci_high": win.share_ci_high,
        "p": win.share_p_value,
        "decisive": win.win_rate,
        "ties": win.tie_share,
        "n": win.n,
        "songs": win.n_songs,
        "length_old": old["duration_share"],
        "length_new": new["duration_share"],
        "preferred": preferred,
        "moved": moved,
        "splices_per_min_old": old.get("splices_per_minute"),
        "splices_per_min_new": new.get("splices_per_minute"),
        "reward_acc": accuracy["new"]["accuracy"],
        "reward_acc_bootstrap": accuracy["previous"]["accuracy"],
        "seconds": seconds,
        "best_of_share": (
            WinRate.from_json(evaluation["best_of"]["win"]).preference_share if evaluation.get("best_of") else None
        ),
        "headroom": headroom(
            old_policy, run / "iter-01" / "policy.pt", run / "iter-01" / "reward.pt", taste, run, seed
        ),
    }


def print_row(r: dict) -> None:
    from taste_headroom import headroom_text

    ci = "n/a" if r["ci_low"] is None else f"{r['ci_low']:.2f}-{r['ci_high']:.2f}"
    moved = "" if r["moved"] is None else f" (moved {r['moved']:+.0%} of the way)"
    preferred = "none" if r["preferred"] is None else f"{r['preferred']:.2f}"
    best_of = "n/a" if r.get("best_of_share") is None else f"{r['best_of_share']:.3f}"
    print(
        f"{r['taste']:9s} seed {r['seed']} | share {r['share']:.3f} CI {ci} over {r['songs']} songs, p {r['p']:.2g} "
        f"| decisive {r['decisive']:.2f}, ties {r['ties']:.0%} of {r['n']} | length {r['length_old']:.2f} -> "
        f"{r['length_new']:.2f} (taste {preferred}){moved} | splices/min {r['splices_per_min_old']:.2f} -> "
        f"{r['splices_per_min_new']:.2f} | reward acc {r['reward_acc']:.2f} (bootstrap "
        f"{r['reward_acc_bootstrap']:.2f}) | old + best-of-4 share {best_of} | {r['seconds']:.0f} s",
        flush=True,
    )
    print(f"          {headroom_text(r['headroom'])}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tastes", default="musician,radio,purist,brief,complete")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--heldout", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--out", default=None, help="Run folders (default: a temporary folder)")
    parser.add_argument("--kl-coef", type=float, default=None, help="fine-tuning KL weight (default: the loop's)")
    parser.add_argument(
        "--uncertainty-coef",
        type=float,
        default=None,
        help="fine-tuning reward = mean - this x ensemble spread (default: the loop's)",
    )
    parser.add_argument("--quick", action="store_true", help="one taste, one seed, 150 pairs")
    args = parser.parse_args()

    from rl_editor.rlhf.loop import LoopConfig, run_loop

    tastes = ["brief"] if args.quick else args.tastes.split(",")
    seeds = [0] if args.quick else [int(s) for s in args.seeds.split(",")]
    pairs = 150 if args.quick else args.pairs
    scratch = Path(args.out or tempfile.mkdtemp(prefix="bench-rlhf-tastes-"))
    songs, where = songs_folder(args.quick, scratch)
    print(f"{where}; {args.heldout} held out; {pairs} judged pairs per iteration; runs in {scratch}")
    extra = "".join(
        f" --{k.replace('_', '-')} {v}"
        for k, v in (("kl_coef", args.kl_coef), ("uncertainty_coef", args.uncertainty_coef))
        if v is not None
    )
    print(
        f"command: python benchmarks/bench_rlhf_tastes.py --tastes {','.join(tastes)} "
        f"--seeds {','.join(map(str, seeds))} --heldout {args.heldout} --pairs {pairs}{extra}"
    )
    rows = []
    for seed in seeds:
        shared: dict[str, str] = {}
        for taste in tastes:
            run = scratch / f"seed-{seed}" / taste
            config = LoopConfig(
                songs_dir=str(songs),
                run_dir=str(run),
                iterations=1,
                pairs=pairs,
                rater=f"{taste}:mistake=0.1",
                heldout_songs=args.heldout,
                seed=seed,
            )
            finetune = config.finetune
            if args.kl_coef is not None:
                finetune = replace(finetune, kl_coef=args.kl_coef)
            if args.uncertainty_coef is not None:
                finetune = replace(finetune, uncertainty_coef=args.uncertainty_coef)
            config = replace(config, finetune=finetune)
            if shared:
                config = replace(config, policy=shared["policy"], bootstrap_reward=shared["reward"])
            start = time.perf_counter()
            run_loop(config, progress=False)
            if not shared:
                shared = {
                    "policy": str(run / "bootstrap" / "policy.pt"),
                    "reward": str(run / "bootstrap" / "reward.pt"),
                }
            rows.append(row_of(run, taste, seed, time.perf_counter() - start, Path(shared["policy"])))
            print_row(rows[-1])
    (scratch / "rows.json").write_text(json.dumps(rows, indent=1))
    met = [r for r in rows if r["share"] >= 0.65 and r["ci_low"] is not None and r["ci_low"] > 0.5]
    with_length = [r for r in rows if r["moved"] is not None]
    print(
        f"\nrows with share >= 0.65 and CI above 0.5: {len(met)} of {len(rows)} (target >= 80%); "
        f"lowest share {min(r['share'] for r in rows):.3f} (target >= 0.45)"
    )
    print(f"ties <= 40%: {sum(r['ties'] <= 0.4 for r in rows)} of {len(rows)} rows")
    from rl_editor.raters.tastes import CONTENT_TASTES

    content = [r for r in rows if r["taste"] in CONTENT_TASTES]  # headroom at the old length means nothing else
    if content:
        captured = [r["headroom"]["captured"] for r in content]
        rm_captured = [r["headroom"].get("rm_captured", float("nan")) for r in content]
        met = sum(r["share"] >= 0.65 and r["ci_low"] is not None and r["ci_low"] > 0.5 for r in content)
        print(
            f"content tastes: {met} of {len(content)} rows with share >= 0.65 and CI above 0.5; headroom captured "
            f"(best of 64 of the old policy, the taste's own score) mean {np.nanmean(captured):.0%} (target >= 50%); "
            f"the reward model's best of 8: mean {np.nanmean(rm_captured):.0%}"
        )
    if with_length:
        print(
            f"length moved at least half way to the taste's: {sum(r['moved'] >= 0.5 for r in with_length)} of "
            f"{len(with_length)} rows with a length preference"
        )
    print(f"rows: {scratch / 'rows.json'}")


if __name__ == "__main__":
    main()
