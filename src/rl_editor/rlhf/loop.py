"""The human-feedback loop: generate -> collect -> train reward -> fine-tune -> evaluate, resumable.

Every model and data set of a run lives in one folder, laid out by
:class:`rl_editor.rlhf.layout.RunLayout` (``state.json``, ``split.json``,
``bootstrap/``, ``iter-XX/`` with candidates, preferences, reward model,
policy and evaluation, and the report).

Each step is a small function; :func:`plan_steps` lists them in order with
what each is made from, and :func:`run_loop` runs the list and records each in ``state.json`` once its outputs are written, with the settings
it read and the identity of its inputs (:mod:`rl_editor.rlhf.run_state`). A
step counts as done only while it is recorded, its outputs exist and it was
made from the same settings and inputs, so after a crash (or after deleting a
step's output) a rerun does exactly the missing steps, and after a change of
settings it redoes the steps that read the changed setting, saying which setting
changed. Either way the steps that read what was redone are redone too (a new
reward model means a new policy). People's judgments cannot be redone by the
loop: a changed setting that would redo them is refused with a message naming
it, before any step runs.

Held-out raters are fresh instances of the rater spec with their own seeds;
held-out songs are never used to train a policy or a reward model.

Preferences come from a rater spec (simulated, or any ``module:callable``),
or, with ``db`` set, from people: the loop creates a campaign of comparison
tasks over the training songs' candidates on the feedback database
(``<run folder name>-iter-01``) and waits until ``pairs`` judgments have
arrived (serve them with ``rl-editor serve --manifest
run/iter-01/candidates/manifest.json --db URL``). If ``wait_timeout_s`` passes
first the run stops with an error; rerunning resumes the wait. Evaluation
stays with simulated held-out raters; with people use ``rl-editor evaluate
--create-campaign`` / ``--campaign``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from rl_editor.config import config_to_json
from rl_editor.io_utils import file_sha256, write_json_atomic
from rl_editor.rlhf.errors import RLHFError
from rl_editor.rlhf.layout import RunLayout
from rl_editor.rlhf.loop_config import (
    DEFAULT_CANDIDATE_TARGETS,
    DEFAULT_CANDIDATE_TEMPERATURES,
    PAIR_SELECTIONS,
    LoopConfig,
    LoopResult,
)
from rl_editor.rlhf.loop_plan import PlannedStep, plan_steps
from rl_editor.rlhf.loop_steps import SongSplit, say, split_songs
from rl_editor.rlhf.run_state import RunState, StepRecord


def loop_summary(result: LoopResult) -> str:
    """Per iteration: the evaluation's headline, decisive win rate, ties and edit change, and the reward
    model's held-out accuracy (what ``rl-editor loop`` and ``rl-editor demo`` print)."""
    from rl_editor.rlhf.acceptance import acceptance_text, recorded_acceptance
    from rl_editor.rlhf.evaluation_result import EvaluationResult

    lines = []
    for it, acc in enumerate(result.reward_evaluations, start=1):
        folder = RunLayout(result.run_dir).iteration(it)
        evaluation = EvaluationResult.load(folder.eval)
        lines += [
            f"iteration {it}: {evaluation.summary()}",
            f"  reward model held-out accuracy {acc['new']['accuracy']:.1%} "
            f"(previous {acc['previous']['accuracy']:.1%})",
        ]
        acceptance = recorded_acceptance(folder.policy)
        if acceptance:
            lines.append(f"  fine-tuning {acceptance_text(acceptance)}")
    return "\n".join(lines)


def _refuse_redoing_people(plan: Sequence[PlannedStep], state: RunState, record_of: Callable[..., StepRecord]) -> None:
    """Before anything runs: refuse when a change would redo judgments that people gave (the loop cannot
    ask them again), naming what changed. Steps after a step that will be redone will be redone too."""
    redone: set[str] = set()
    for step in plan:
        upstream = sorted(src for src in step.inputs.values() if isinstance(src, str) and src in redone)
        if upstream:
            changes = [f"{name} would be redone" for name in upstream]
        else:
            record = record_of(step)
            if state.done(step.name, record):
                continue
            changes = state.changes(step.name, record) if state.outputs_exist(step.name) else []
        redone.add(step.name)
        if step.people and changes and state.outputs_exist(step.name):
            raise RLHFError(
                f"{step.name}: people gave these judgments before {'; '.join(changes)}, and the loop "
                "cannot ask them again; rerun with the earlier settings or give a new --run-dir"
            )


def run_loop(config: LoopConfig, *, progress: bool = True) -> LoopResult:
    """Run (or resume) the feedback loop; see the module docstring for the layout.

    Returns
    -------
    LoopResult
        Which steps ran now and which were already complete, why completed steps were
        redone, and each iteration's figures.

    Raises
    ------
    RLHFError
        For bad settings, missing starting files, and (before any step runs) when a
        changed setting would redo preferences that people gave (``db``).
    """
    if config.iterations < 1:
        raise RLHFError(f"iterations must be at least 1, got {config.iterations}")
    if config.pairs < 1:
        raise RLHFError(f"pairs must be at least 1, got {config.pairs}")
    run = Path(config.run_dir).resolve()
    layout = RunLayout(run)
    policy = Path(config.policy).resolve() if config.policy else layout.bootstrap_policy
    if config.policy is not None and not policy.is_file():
        raise RLHFError(f"{policy}: no such policy file (--policy)")
    reward = Path(config.bootstrap_reward).resolve() if config.bootstrap_reward else None
    if reward is not None and not reward.is_file():
        raise RLHFError(f"{reward}: no such reward model file (--reward-model)")
    state = RunState(run)
    split = split_songs(config.songs_dir, config.heldout_songs, progress)
    run.mkdir(parents=True, exist_ok=True)
    write_json_atomic(
        layout.split,
        {
            "train": [a.song_id for a in split.train],
            "heldout": [a.song_id for a in split.heldout],
            "config": config_to_json(config),
        },
        indent=1,
        default=float,
    )
    file_hashes: dict[Path, str] = {}

    def record_of(step: PlannedStep) -> StepRecord:
        """A step made in this run is named by its completion; a file given from outside by its hash."""
        inputs = {}
        for label, source in step.inputs.items():
            if isinstance(source, Path):
                if source not in file_hashes:
                    file_hashes[source] = f"sha256:{file_sha256(source)}"
                inputs[label] = file_hashes[source]
            else:
                inputs[label] = state.identity(source)
        return StepRecord(step.settings, inputs)

    plan = plan_steps(config, run, split, policy, reward, progress)
    _refuse_redoing_people(plan, state, record_of)
    result = LoopResult(run_dir=run, steps_run=[], steps_skipped=[])
    for number, step in enumerate(plan, start=1):
        where = f"[{number}/{len(plan)}] {step.name}"
        record = record_of(step)
        if state.done(step.name, record):
            result.steps_skipped.append(step.name)
            say(f"{where}: done before, skipped", progress)
            continue
        changes = state.changes(step.name, record) if state.outputs_exist(step.name) else []
        if changes:
            result.redone[step.name] = changes
            say(f"{where}: {'; '.join(changes)}; redoing it and the steps that use it", True)
            if step.folder is not None and step.folder.is_dir():
                shutil.rmtree(step.folder)
        else:
            say(f"{where} ...", progress)
        step.run()
        state.complete(step.name, step.outputs, record)
        result.steps_run.append(step.name)
    for it in range(1, config.iterations + 1):
        d = layout.iteration(it)
        result.evaluations.append(json.loads(d.eval.read_text(encoding="utf-8"))["win"])
        result.reward_evaluations.append(json.loads(d.reward_eval.read_text(encoding="utf-8")))
    result.final_policy = layout.iteration(config.iterations).policy
    return result


__all__ = [
    "DEFAULT_CANDIDATE_TARGETS",
    "DEFAULT_CANDIDATE_TEMPERATURES",
    "PAIR_SELECTIONS",
    "LoopConfig",
    "LoopResult",
    "PlannedStep",
    "RunState",
    "SongSplit",
    "loop_summary",
    "plan_steps",
    "run_loop",
    "say",
    "split_songs",
]
