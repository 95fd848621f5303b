"""Do later iterations keep improving? ``loop --iterations N`` per seed, each policy against its predecessor and iteration 0.

Usage::

    RL_EDITOR_MUSIC_DIR=/path/to/songs python benchmarks/bench_loop_iterations.py \
        [--iterations 3] [--seeds 0,1,2] [--rater brief:mistake=0.1] [--heldout 6] [--pairs 500] [--out DIR]

For each seed, one run of the loop (the rater judges ``--pairs`` pairs per
iteration; 5 held-out raters of the same taste judge the held-out songs, the
last ``--heldout`` by name). One row per (seed, iteration), every row printed:

- the tie-inclusive share of the new policy against its predecessor, with its
  song-clustered 95% interval, wins / losses / ties and the share of pairs whose
  two edits were identical (target: >= 0.5, "preferred or tied");
- what fine-tuning kept (new or previous weights, and the length), the reward
  model's predicted gain and its lower bound;
- the share against iteration 0, judged by 5 other held-out raters on the same
  songs (target: rises, or holds, from one iteration to the next);
- the mean KL per edit from the predecessor during fine-tuning (target: bounded);
- the edits' length (share of the song);
- headroom (``taste_headroom.py``): the rater's taste's own score of the policy against iteration 0's, as a share
  of iteration 0's headroom (its best of 64 samples) on the held-out songs (target: >= 70% after 3 iterations).

Without ``RL_EDITOR_MUSIC_DIR`` it runs on 14 synthesized demo songs (a smoke
run; the targets are about real songs).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from bench_rlhf_tastes import songs_folder  # noqa: E402


def rows_of(run: Path, config, heldout) -> list[dict]:
    from rl_editor.raters.tastes import TASTES
    from rl_editor.registry import load_model_file
    from rl_editor.rlhf.acceptance import best_change
    from rl_editor.rlhf.evaluate import evaluate_policies, held_out_raters
    from rl_editor.rlhf.evaluation_result import EvaluationResult
    from rl_editor.rlhf.layout import RunLayout
    from taste_headroom import headroom

    layout = RunLayout(run)
    rows = []
    for it in range(1, config.iterations + 1):
        folder = layout.iteration(it)
        evaluation = EvaluationResult.load(folder.eval)
        metrics = load_model_file(folder.policy)[1].metrics
        acceptance = metrics.get("acceptance") or {}
        shown = best_change(acceptance) if acceptance else None  # the change kept, or the best refused
        # fresh raters (same seeds) for every policy: identical policies get identical judgments
        raters = held_out_raters(config.eval_rater or config.rater, config.eval_raters, seed=20_000)
        against_first = evaluate_policies(
            layout.bootstrap_policy,
            folder.policy,
            heldout,
            raters,
            temperature=config.eval_temperature,
            seed=config.seed,
            edits_per_song=config.eval_edits_per_song,
        ).win
        w = evaluation.win
        taste = (config.eval_rater or config.rater).split(":")[0]
        room = (
            headroom(layout.bootstrap_policy, folder.policy, None, taste, run, config.seed) if taste in TASTES else {}
        )
        rows.append(
            {
                "captured": room.get("captured"),
                "taste_old": room.get("old"),
                "taste_new": room.get("new"),
                "taste_best64": room.get("best64"),
                "seed": config.seed,
                "iteration": it,
                "share": w.preference_share,
                "ci_low": w.share_ci_low,
                "ci_high": w.share_ci_high,
                "wins": w.wins,
                "losses": w.losses,
                "ties": w.ties,
                "identical": evaluation.identical_share,
                "kept_weights": acceptance.get("weights"),
                "kept_length": acceptance.get("target"),
                "gain": shown["gain"] if shown else None,
                "lower_bound": shown["lower_bound"] if shown else None,
                "vs_first": against_first.preference_share,
                "vs_first_ci_low": against_first.share_ci_low,
                "vs_first_ci_high": against_first.share_ci_high,
                "kl": metrics.get("finetune_mean_kl"),
                "length_old": evaluation.edit_stats["old"]["duration_share"],
                "length_new": evaluation.edit_stats["new"]["duration_share"],
            }
        )
    return rows


def print_row(r: dict) -> None:
    ci = lambda low, high: "n/a" if low is None else f"{low:.2f}-{high:.2f}"  # noqa: E731
    what = "predicted gain" if r["identical"] < 1 else "best refused change's predicted gain"
    gain = "" if r["gain"] is None else f", {what} {r['gain']:+.2f} (bound {r['lower_bound']:+.2f})"
    print(
        f"seed {r['seed']} iteration {r['iteration']}: vs predecessor {r['share']:.3f} "
        f"(CI {ci(r['ci_low'], r['ci_high'])}; {r['wins']}/{r['losses']}/{r['ties']} wins/losses/ties, "
        f"{r['identical']:.0%} identical); kept {r['kept_weights']} weights at length {r['kept_length']}{gain}; "
        f"vs iteration 0 {r['vs_first']:.3f} (CI {ci(r['vs_first_ci_low'], r['vs_first_ci_high'])}); "
        f"KL {r['kl']:.2f}; length {r['length_old']:.2f} -> {r['length_new']:.2f}"
        + (
            ""
            if r.get("captured") is None
            else f"; headroom of iteration 0 captured {r['captured']:.0%} (taste "
            f"score {r['taste_old']:+.2f} -> {r['taste_new']:+.2f}, best of 64 {r['taste_best64']:+.2f})"
        ),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--rater", default="brief:mistake=0.1")
    parser.add_argument("--heldout", type=int, default=6)
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--out", type=Path, default=None, help="Keep the runs here (default: a temporary folder).")
    args = parser.parse_args()

    from rl_editor.rlhf.loop import LoopConfig, run_loop, split_songs

    scratch = args.out or Path(tempfile.mkdtemp(prefix="bench-loop-iterations-"))
    songs, described = songs_folder(False, scratch)
    print(
        f"songs: {described}; rater {args.rater}; {args.iterations} iterations of {args.pairs} pairs; "
        f"{args.heldout} held out",
        flush=True,
    )
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        run = scratch / f"seed-{seed}"
        config = LoopConfig(
            songs_dir=str(songs),
            run_dir=str(run),
            iterations=args.iterations,
            pairs=args.pairs,
            rater=args.rater,
            heldout_songs=args.heldout,
            seed=seed,
        )
        start = time.perf_counter()
        run_loop(config, progress=False)
        heldout = split_songs(songs, config.heldout_songs, progress=False).heldout
        for row in rows_of(run, config, heldout):
            row["seconds"] = time.perf_counter() - start
            print_row(row)
            rows.append(row)
    later = [r for r in rows if r["iteration"] > 1]
    print(
        f"iterations preferred to or tied with their predecessor (share >= 0.5): "
        f"{sum(r['share'] >= 0.5 for r in rows)} of {len(rows)}; after the first: "
        f"{sum(r['share'] >= 0.5 for r in later)} of {len(later)}"
    )
    by_seed: dict[int, list[dict]] = {}
    for r in rows:
        by_seed.setdefault(r["seed"], []).append(r)
    rising = [all(b["vs_first"] >= a["vs_first"] - 1e-9 for a, b in zip(rs, rs[1:])) for rs in by_seed.values()]
    change = ", ".join(f"seed {seed} {rs[-1]['vs_first'] - rs[0]['vs_first']:+.3f}" for seed, rs in by_seed.items())
    worst = min((b["vs_first"] - a["vs_first"] for rs in by_seed.values() for a, b in zip(rs, rs[1:])), default=0.0)
    print(
        f"share against iteration 0 never falls: {sum(rising)} of {len(rising)} seeds; last minus first "
        f"iteration: {change}; largest fall from one iteration to the next {min(worst, 0.0):+.3f}"
    )
    print(f"policies changed after the first iteration: {sum(r['identical'] < 1 for r in later)} of {len(later)}")
    last = [rs[-1]["captured"] for rs in by_seed.values() if rs[-1].get("captured") is not None]
    if last:
        print(
            "headroom of iteration 0 captured by the last iteration: "
            + ", ".join(f"{c:.0%}" for c in last)
            + " (target >= 70%)"
        )
    print(f"mean KL per edit: {min(r['kl'] for r in rows):.2f}-{max(r['kl'] for r in rows):.2f}")
    (scratch / "rows.json").write_text(json.dumps(rows, indent=1, default=float))
    print(f"rows: {scratch / 'rows.json'}")


if __name__ == "__main__":
    main()
