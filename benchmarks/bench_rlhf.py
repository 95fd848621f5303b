"""Benchmark of one human-feedback iteration: does the fine-tuned policy win, does the reward model learn?

Runs the loop of ``rl-editor demo`` (iteration-1 policy on the dense reward,
bootstrap reward model on ``dense``-taste judgments, one iteration of 500
judgments by a ``musician`` rater with 10% mistakes, fine-tuning, evaluation by
5 held-out musician raters on held-out songs) and prints:

- the new policy's tie-inclusive preference share over the old on held-out
  songs with its song-clustered 95% interval (acceptance, the design's target:
  share > 60% and interval above 50%), the decisive win rate and the tie share;
- the held-out accuracy against the musician's labels of the new reward model
  and of the bootstrap one (acceptance: new > bootstrap);
- wall time per step.

On demo songs it synthesizes (10 songs of 50-80 s, 3 held out), and also on real
music when ``RL_EDITOR_MUSIC_DIR`` names a folder of songs (the last 3 by name
are held out).

Usage::

    python benchmarks/bench_rlhf.py [--quick] [--out DIR] [--seed 0]
    RL_EDITOR_MUSIC_DIR=/path/to/songs python benchmarks/bench_rlhf.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from rl_editor.rlhf.winrate import WinRate


def step_seconds(run: Path) -> dict[str, float]:
    """Seconds each step took after the first, from the finish times in ``state.json`` (the first step,
    the bootstrap policy, is in the total: the run state records no start time)."""
    steps = json.loads((run / "state.json").read_text())["completed"]
    times = [(name, dt.datetime.fromisoformat(info["finished"])) for name, info in steps.items()]
    return {name: (t - times[i - 1][1]).total_seconds() for i, (name, t) in enumerate(times) if i > 0}


def report(label: str, result, run: Path, seconds: float) -> None:
    print(f"\n== {label} ==")
    for it, (win, acc) in enumerate(zip(result.evaluations, result.reward_evaluations), start=1):
        headline = WinRate.from_json(win)
        ok_acc = acc["new"]["accuracy"] > acc["previous"]["accuracy"]
        print(
            f"iteration {it}: {headline.summary()}  [{'PASS' if headline.target_met else 'FAIL'}: "
            "share > 60%, CI by song above 50%]"
        )
        print(
            f"  reward model held-out accuracy vs {acc['rater']} labels ({acc['new']['n']} decisive pairs of "
            f"held-out songs): new {acc['new']['accuracy']:.1%}, bootstrap {acc['previous']['accuracy']:.1%}  "
            f"[{'PASS' if ok_acc else 'FAIL'}: new > bootstrap]"
        )
        ev = json.loads((run / f"iter-{it:02d}" / "eval.json").read_text())
        stats = ev["edit_stats"]
        print(
            f"  keep share old {stats['old']['keep_share']:.2f} -> new {stats['new']['keep_share']:.2f}; "
            f"bar-line splices old {stats['old']['bar_line_share']:.2f} -> new {stats['new']['bar_line_share']:.2f}"
        )
    print("step seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in step_seconds(run).items()))
    print(f"total {seconds / 60:.1f} min (includes song analysis); report: {run / 'report.md'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="The tiny demo configuration (smoke test).")
    parser.add_argument("--out", type=Path, default=None, help="Folder for songs and runs (default: a temp folder).")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from rl_editor.audio.demo_songs import synthesize_corpus
    from rl_editor.rlhf.demo import DemoConfig, demo_loop_config
    from rl_editor.rlhf.loop import run_loop
    from rl_editor.rlhf.report import write_report

    out = args.out or Path(tempfile.mkdtemp(prefix="bench-rlhf-"))
    demo = DemoConfig(out_dir=str(out), quick=args.quick, seed=args.seed, progress=False)
    if args.quick:
        demo = replace(demo, n_songs=4, duration_range_s=(16.0, 22.0))
    songs = out / "demo-songs"
    synthesize_corpus(songs, n_songs=demo.n_songs, seed=args.seed, duration_range_s=demo.duration_range_s)
    start = time.perf_counter()
    run = out / "run-demo"
    result = run_loop(demo_loop_config(demo, songs, run), progress=False)
    write_report(run)
    report(
        f"demo songs ({demo.n_songs}, {demo.heldout_songs if not args.quick else 1} held out)",
        result,
        run,
        time.perf_counter() - start,
    )

    music = os.environ.get("RL_EDITOR_MUSIC_DIR")
    if music:
        start = time.perf_counter()
        run = out / "run-real"
        config = demo_loop_config(demo, Path(music), run)
        result = run_loop(config, progress=False)
        write_report(run)
        report(f"real music in {music} ({config.heldout_songs} held out)", result, run, time.perf_counter() - start)
    else:
        print("\n(set RL_EDITOR_MUSIC_DIR to a folder of songs to also run on real music)")


if __name__ == "__main__":
    main()
