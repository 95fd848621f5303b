"""``rl-editor demo``: the whole pipeline on songs it synthesizes, no downloads, no people.

1. Synthesize demo songs (:func:`rl_editor.audio.demo_songs.synthesize_corpus`);
   the last few are held out for evaluation.
2. Train the iteration-1 policy with PPO on the dense reward.
3. Generate candidates; the ``dense`` taste judges pairs of them and the
   bootstrap ("v8") reward model is trained on those judgments.
4. One human-feedback iteration with simulated raters whose taste differs from
   the dense reward (``musician``, 10% mistakes): ~500 judged pairs, the reward
   model fine-tuned on them, the policy fine-tuned on the new reward model.
5. Held-out simulated raters (fresh instances, own seeds) compare old and new
   policies on the held-out songs. The headline is the tie-inclusive preference
   share, (wins + ties/2) / judgments, with a 95% interval by song; beside it
   the decisive win rate, the tie share and how the edits changed.
6. ``report.md`` with plots, and how to open the rater page on the same candidates.

Evaluation size: 4 held-out songs x 8 edit pairs x 5 raters = 160 judgments.
With only 4 songs the song-clustered interval is wide (Student's t on 3
degrees of freedom); it says how far the result may carry to other songs,
which 160 judgments of 4 songs cannot.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from rl_editor.rlhf.finetune import FinetuneConfig
from rl_editor.rlhf.layout import RunLayout
from rl_editor.rlhf.loop import LoopConfig, LoopResult, loop_summary, run_loop, say


@dataclass
class DemoConfig:
    """Settings of the demo; ``quick`` makes a tiny version (tests, smoke checks).

    Attributes
    ----------
    out_dir : str
        Folder of the demo's songs and run.
    quick : bool
        A few short songs and short training runs (about a minute).
    seed : int
    n_songs, heldout_songs : int
        Songs synthesized, and how many of them are held out.
    duration_range_s : tuple of float
        Length range of the synthesized songs, seconds.
    progress : bool
    """

    out_dir: str = "rl-editor-demo"
    quick: bool = False
    seed: int = 0
    n_songs: int = 12
    heldout_songs: int = 4
    duration_range_s: tuple[float, float] = (50.0, 80.0)
    progress: bool = True
    loop: LoopConfig | None = field(default=None)


def demo_loop_config(config: DemoConfig, songs_dir: Path, run_dir: Path) -> LoopConfig:
    """The loop settings of the demo (full or quick)."""
    if config.loop is not None:
        return replace(config.loop, songs_dir=str(songs_dir), run_dir=str(run_dir))
    base = LoopConfig(
        songs_dir=str(songs_dir),
        run_dir=str(run_dir),
        iterations=1,
        pairs=500,
        rater="musician:mistake=0.1",
        heldout_songs=config.heldout_songs,
        seed=config.seed,
    )
    if not config.quick:
        return base
    return replace(
        base,
        pairs=60,
        heldout_songs=1,
        policy_episodes=200,
        policy_n_envs=4,
        temperatures=(0.5, 1.0),
        per_temperature=1,
        reward_epochs=4,
        reward_members=2,
        eval_raters=2,
        eval_edits_per_song=3,
        finetune=FinetuneConfig(episodes=100, n_steps=32, batch_size=64, n_epochs=2, reference_edits_per_song=4),
    )


def run_demo(config: DemoConfig | None = None) -> LoopResult:
    """Run the demo end to end; returns the loop's result (the report is ``<out>/run/report.md``)."""
    from rl_editor.audio.demo_songs import synthesize_corpus
    from rl_editor.rlhf.report import write_report

    config = config or DemoConfig()
    if config.quick:
        config = replace(config, n_songs=min(config.n_songs, 4), duration_range_s=(16.0, 22.0))
    out = Path(config.out_dir).resolve()
    songs, run = out / "songs", out / "run"
    start = time.perf_counter()
    say(f"demo: synthesizing {config.n_songs} songs into {songs}", config.progress)
    synthesize_corpus(songs, n_songs=config.n_songs, seed=config.seed, duration_range_s=config.duration_range_s)
    result = run_loop(demo_loop_config(config, songs, run), progress=config.progress)
    report = write_report(run)
    minutes = (time.perf_counter() - start) / 60
    if config.progress:
        lines = [f"demo finished in {minutes:.1f} min; report: {report}"]
        lines.append(loop_summary(result))
        manifest = RunLayout(run).iteration(1).manifest
        lines += [
            "judge the same candidates yourself:",
            f"  rl-editor serve --manifest {manifest}",
            f"  rl-editor raters add YOUR_NAME --manifest {manifest}   # prints your personal link",
        ]
        print("\n".join(lines))  # the results, on stdout (progress went to stderr)
    return result


__all__ = ["DemoConfig", "demo_loop_config", "run_demo"]
