"""``rl-editor finetune-policy``, ``evaluate``, ``loop``, ``report``, ``demo`` and ``edit``: thin layers over the API.

``rl-editor train-policy --init POLICY --reward-model REWARD`` can dispatch to
:func:`finetune_from_cli` (same arguments as ``finetune-policy``).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import typer

from rl_editor.raters.commands import RATER_HELP
from rl_editor.rlhf.demo import DemoConfig
from rl_editor.rlhf.edit import EditConfig
from rl_editor.rlhf.finetune import FinetuneConfig
from rl_editor.rlhf.loop_config import LoopConfig

# the options' defaults come from the configs
FINETUNE = FinetuneConfig()
LOOP = LoopConfig(songs_dir="")
DEMO = DemoConfig()


def targets_text(targets: tuple[float | None, ...]) -> str:
    """``--targets`` text of candidate lengths (None: ``auto``, the policy's own choice)."""
    return ",".join("auto" if t is None else f"{t:g}" for t in targets)


def finetune_from_cli(
    init: Path,
    reward_model: Path,
    songs: Path,
    out: Path,
    episodes: int = FINETUNE.episodes,
    kl_coef: float = FINETUNE.kl_coef,
    uncertainty_coef: float = FINETUNE.uncertainty_coef,
    dense_reward_scale: float = FINETUNE.dense_reward_scale,
    seed: int = FINETUNE.seed,
    progress: bool = True,
) -> Path:
    """Fine-tune ``init`` on ``reward_model`` over the songs in ``songs``; write ``out``; return its path.

    Logs go to ``<out stem>_logs/`` (``finetune_curve.csv``, ``learning_curve.csv``, TensorBoard).
    """
    from rl_editor.rlhf.finetune import finetune_policy
    from rl_editor.rlhf.layout import logs_dir_for

    log_dir = logs_dir_for(out)
    config = FinetuneConfig(
        episodes=episodes,
        kl_coef=kl_coef,
        uncertainty_coef=uncertainty_coef,
        dense_reward_scale=dense_reward_scale,
        seed=seed,
    )
    trainer = finetune_policy(init, reward_model, config, songs_dir=songs, log_dir=log_dir, progress=progress)
    path = trainer.save_checkpoint(out)
    m = trainer.meta.metrics
    typer.echo(
        f"wrote {path} ({trainer.meta.version}, parent {trainer.meta.parent}, reward model "
        f"{trainer.meta.trained_on.get('reward_model')}); learned reward "
        f"{m.get('finetune_mean_learned_reward', float('nan')):.3f}, "
        f"KL {m.get('finetune_mean_kl', float('nan')):.3f}"
    )
    if m.get("acceptance"):
        from rl_editor.rlhf.acceptance import acceptance_text

        typer.echo(f"fine-tuning {acceptance_text(m['acceptance'])}")
    typer.echo(f"logs: {log_dir / 'finetune_curve.csv'}, TensorBoard: {log_dir / 'tensorboard'}")
    return path


def _analysed_songs(songs: Path) -> list:
    """The songs under ``songs``, analysed under the ids ``find_songs`` gives them."""
    from rl_editor.audio.load import load_songs

    return load_songs(songs, progress=True)


def _print_result(result) -> None:
    from rl_editor.rlhf.winrate import WinRate

    typer.echo(result.summary())
    for rater, data in result.per_rater.items():
        w = WinRate.from_json(data)
        typer.echo(
            f"  {rater}: new preferred {w.preference_share:.1%} (ties count half); "
            f"{w.wins} wins, {w.losses} losses, {w.ties} ties"
        )


def register(app: typer.Typer) -> None:
    """Add the RLHF commands to the ``rl-editor`` app."""

    @app.command("finetune-policy")
    def finetune_policy_cmd(
        init: Path = typer.Option(..., "--init", help="Policy file to start from (also the KL reference)."),
        reward_model: Path = typer.Option(..., "--reward-model", help="Reward model file (rl-editor train-reward)."),
        songs: Path = typer.Option(..., "--songs", help="Folder of audio files to train on."),
        out: Path = typer.Option(..., "--out", help="Policy file to write (.pt)."),
        episodes: int = typer.Option(
            FINETUNE.episodes, "--episodes", min=1, help="Episodes (one song edited once each)."
        ),
        kl_coef: float = typer.Option(
            FINETUNE.kl_coef, "--kl-coef", min=0.0, help="Weight of the KL penalty per edit."
        ),
        uncertainty_coef: float = typer.Option(
            FINETUNE.uncertainty_coef, "--uncertainty-coef", min=0.0, help="Reward = mean - this x ensemble std."
        ),
        dense_reward_scale: float = typer.Option(
            FINETUNE.dense_reward_scale,
            "--dense-reward-scale",
            min=0.0,
            help="Keep the dense quality terms at this scale.",
        ),
        seed: int = typer.Option(FINETUNE.seed, "--seed"),
    ) -> None:
        """Fine-tune a policy with PPO on a learned reward model, with a KL penalty to where it started."""
        finetune_from_cli(init, reward_model, songs, out, episodes, kl_coef, uncertainty_coef, dense_reward_scale, seed)

    @app.command("evaluate")
    def evaluate_cmd(
        old: Path | None = typer.Option(None, "--old", help="Previous policy file."),
        new: Path | None = typer.Option(None, "--new", help="New policy file."),
        songs: Path | None = typer.Option(None, "--songs", help="Folder of held-out songs."),
        rater: list[str] = typer.Option([LOOP.rater], "--rater", help=RATER_HELP + " Repeatable."),
        raters_per_spec: int = typer.Option(
            LOOP.eval_raters, "--raters-per-spec", min=1, help="Independent instances (own seeds) of each rater spec."
        ),
        judgments_per_song: int = typer.Option(
            LOOP.eval_edits_per_song,
            "--judgments-per-song",
            min=1,
            help="Edit pairs per song, each judged by every rater.",
        ),
        temperature: float = typer.Option(
            LOOP.eval_temperature, "--temperature", min=0.0, help="Sampling temperature of both policies."
        ),
        seed: int = typer.Option(LOOP.seed, "--seed"),
        out: Path | None = typer.Option(
            None, "--out", help="Write the full result as JSON (or the edits' folder with --create-campaign)."
        ),
        db: str | None = typer.Option(None, "--db", help="Feedback database URL (people judge instead)."),
        create_campaign: bool = typer.Option(
            False, "--create-campaign", help="Render the edits and create a held-out campaign on --db."
        ),
        campaign: str | None = typer.Option(None, "--campaign", help="Read a campaign's judgments from --db."),
        campaign_file: Path | None = typer.Option(
            None,
            "--campaign-file",
            help="With --campaign: its campaign.json (written by --create-campaign), for the policies' versions.",
        ),
        reward_model: Path | None = typer.Option(
            None,
            "--reward-model",
            help="Also judge the old policy's best of --best-of samples, "
            "ranked by this reward model, against the old policy.",
        ),
        best_of: int = typer.Option(4, "--best-of", min=1, help="Samples per edit of the best-of arm."),
    ) -> None:
        """How much held-out raters (or people) prefer a new policy's edits to an old one's, on held-out songs.

        The headline is the tie-inclusive preference share, (wins + ties/2) / judgments, with a 95% interval
        that resamples whole songs; then the decisive win rate, the tie share and how the edits changed."""
        from rl_editor.rlhf.errors import RLHFError

        if campaign is not None:
            from rl_editor.rlhf.evaluate import campaign_result

            if db is None:
                raise RLHFError("--campaign needs --db (the feedback database)")
            result = campaign_result(db, campaign, campaign_file)
            _print_result(result)
            if out:
                result.save(out)
            return
        if campaign_file is not None:
            raise RLHFError("--campaign-file goes with --campaign ID --db URL")
        if old is None or new is None or songs is None:
            raise RLHFError("evaluate needs --old, --new and --songs (or --campaign ID --db URL)")
        if create_campaign:
            from rl_editor.rlhf.evaluate import create_evaluation_campaign

            if db is None:
                raise RLHFError("--create-campaign needs --db (the feedback database)")
            campaign_dir = out or Path("evaluation")
            name = create_evaluation_campaign(
                old,
                new,
                _analysed_songs(songs),
                db,
                campaign_dir,
                edits_per_song=judgments_per_song,
                temperature=temperature,
                seed=seed,
                progress=True,
            )
            campaign_json = campaign_dir.resolve() / "campaign.json"
            typer.echo(
                f"created campaign {name}; held-out raters (rl-editor raters add NAME --held-out) judge it; "
                f"then: rl-editor evaluate --campaign {name} --db {db} --campaign-file {campaign_json}"
            )
            return
        from rl_editor.rlhf.evaluate import evaluate_policies, held_out_raters

        raters = []
        for k, spec in enumerate(rater):
            raters += held_out_raters(spec, raters_per_spec, seed=1000 * (k + 1) + seed)
        if reward_model is not None and not reward_model.is_file():
            raise RLHFError(f"{reward_model}: no such reward model file (--reward-model)")
        result = evaluate_policies(
            old,
            new,
            _analysed_songs(songs),
            raters,
            temperature=temperature,
            seed=seed,
            edits_per_song=judgments_per_song,
            progress=True,
            reward_model=reward_model,
            best_of=best_of,
        )
        _print_result(result)
        if out:
            typer.echo(f"wrote {result.save(out)}")

    @app.command("loop")
    def loop_cmd(
        songs: Path = typer.Option(..., "--songs", help="Folder of songs; the last --heldout (by name) are held out."),
        iterations: int = typer.Option(LOOP.iterations, "--iterations", min=1),
        pairs: int = typer.Option(LOOP.pairs, "--pairs", min=1, help="Judged pairs per iteration."),
        rater: str = typer.Option(LOOP.rater, "--rater", help=RATER_HELP),
        eval_rater: str | None = typer.Option(None, "--eval-rater", help="Held-out raters' spec (default --rater)."),
        run_dir: Path = typer.Option(
            Path(LOOP.run_dir), "--run-dir", help="Folder of every model and data set of the run."
        ),
        policy: Path | None = typer.Option(
            None, "--policy", help="Starting policy (default: train one on the dense reward)."
        ),
        reward_model: Path | None = typer.Option(
            None, "--reward-model", help="Starting reward model (default: train one on dense preferences)."
        ),
        heldout: int = typer.Option(LOOP.heldout_songs, "--heldout", min=1, help="Songs held out for evaluation."),
        episodes: int = typer.Option(
            LOOP.finetune.episodes, "--episodes", min=1, help="Fine-tuning episodes per iteration."
        ),
        kl_coef: float = typer.Option(LOOP.finetune.kl_coef, "--kl-coef", min=0.0),
        db: str | None = typer.Option(
            None,
            "--db",
            help="Feedback database: people judge the pairs (serve the "
            "iteration's manifest with this --db) instead of --rater.",
        ),
        wait_timeout: float | None = typer.Option(
            None, "--wait-timeout", help="Seconds to wait for people's judgments (default: no limit)."
        ),
        pair_selection: str = typer.Option(
            LOOP.pair_selection,
            "--pair-selection",
            help="Which candidate pairs the rater judges: disagreement or bald (what the reward ensemble is least "
            "sure of) or random; songs take turns, and pairs that sound alike are never asked.",
        ),
        targets: str = typer.Option(
            targets_text(LOOP.targets),
            "--targets",
            help="Candidate lengths as shares of each song ('auto': the policy's choice).",
        ),
        seed: int = typer.Option(LOOP.seed, "--seed"),
    ) -> None:
        """Run (or resume) the feedback loop: generate, judge, train reward, fine-tune, evaluate."""
        from rl_editor.generate.commands import parse_targets
        from rl_editor.rlhf.loop import loop_summary, run_loop
        from rl_editor.rlhf.report import write_report

        config = LoopConfig(
            songs_dir=str(songs),
            run_dir=str(run_dir),
            iterations=iterations,
            pairs=pairs,
            rater=rater,
            eval_rater=eval_rater,
            policy=str(policy) if policy else None,
            bootstrap_reward=str(reward_model) if reward_model else None,
            heldout_songs=heldout,
            finetune=replace(LOOP.finetune, episodes=episodes, kl_coef=kl_coef),
            seed=seed,
            db=db,
            wait_timeout_s=wait_timeout,
            pair_selection=pair_selection,
            targets=tuple(parse_targets(targets)),
        )
        result = run_loop(config)
        typer.echo(loop_summary(result))
        redone = f" ({len(result.redone)} redone after a change)" if result.redone else ""
        typer.echo(f"ran {len(result.steps_run)} steps{redone}, {len(result.steps_skipped)} were done before")
        typer.echo(f"report: {write_report(run_dir)}")

    @app.command("report")
    def report_cmd(run_dir: Path = typer.Argument(..., help="Run folder of `rl-editor loop`.")) -> None:
        """Write report.md and its plots for a loop run."""
        from rl_editor.rlhf.report import write_report

        typer.echo(f"wrote {write_report(run_dir)}")

    @app.command("demo")
    def demo_cmd(
        out: Path = typer.Option(Path(DEMO.out_dir), "--out", help="Folder of the demo's songs and run."),
        quick: bool = typer.Option(DEMO.quick, "--quick", help="A tiny version (about a minute)."),
        seed: int = typer.Option(DEMO.seed, "--seed"),
    ) -> None:
        """Run the whole pipeline on songs it synthesizes; ends with how to open the rater page."""
        from rl_editor.rlhf.demo import run_demo

        run_demo(DemoConfig(out_dir=str(out), quick=quick, seed=seed))

    @app.command("edit")
    def edit_cmd(
        songs: list[Path] = typer.Argument(..., help="Audio files and folders (searched recursively) to edit."),
        policy: Path = typer.Option(..., "--policy", help="Policy file (rl-editor train-policy)."),
        out: Path = typer.Option(..., "--out", help="Folder of the edits: <song>.wav and <song>.json each."),
        reward_model: Path | None = typer.Option(
            None, "--reward-model", help="Reward model that picks the best of --best-of edits."
        ),
        best_of: int | None = typer.Option(
            None,
            "--best-of",
            min=1,
            help="Edits sampled per song and ranked by --reward-model (default: 4 with --reward-model, else 1).",
        ),
        length: str | None = typer.Option(
            None,
            "--length",
            help="Target length: a share of the song up to 1 (0.55), a time m:ss (3:30) or seconds with a unit (210s).",
        ),
        temperature: float = typer.Option(0.7, "--temperature", help="Sampling temperature (0 = greedy)."),
        content_noise: float = typer.Option(
            EditConfig.content_noise,
            "--content-noise",
            min=0.0,
            help="With --best-of, half the samples get this random preference (nats) for cutting each section, "
            "so the reward model picks among edits that keep different material (0: plain samples).",
        ),
        seed: int = typer.Option(0, "--seed"),
        bpm_range: str | None = typer.Option(
            None,
            "--bpm-range",
            help="The songs' tempo: a range (160-200) or one tempo (174) in BPM, so fast music gets its bars right.",
        ),
    ) -> None:
        """Edit songs with a trained policy: sample edits, keep the reward model's favourite, render it.

        Prints each sampled edit's length and splice count, and writes the chosen edit's audio and a JSON of its
        actions (song_id, actions, duration_seconds, target, temperature, policy version, reward score).
        Songs that cannot be read are skipped with one line each on stderr and the others are still edited;
        the command then exits with status 1."""
        from tqdm.auto import tqdm

        from rl_editor.audio.commands import bpm_range_option
        from rl_editor.rlhf.edit import edit_songs

        config = EditConfig(
            policy=str(policy),
            out_dir=str(out),
            reward_model=str(reward_model) if reward_model else None,
            best_of=best_of if best_of is not None else (4 if reward_model else 1),
            length=length,
            temperature=temperature,
            content_noise=content_noise,
            seed=seed,
            bpm_range=bpm_range_option(bpm_range),
        )
        skipped: list[str] = []

        def skip(path: str, reason: str) -> None:
            skipped.append(path)
            tqdm.write(f"skipped {path}: {reason}", file=sys.stderr)

        edit_songs(
            songs, config, on_song=lambda song: tqdm.write("\n".join(song.lines()), file=sys.stdout), on_skip=skip
        )
        if skipped:
            raise typer.Exit(1)  # the good songs are edited; the exit status still says some were not
