"""Where every file of a feedback-loop run lives: one object, shared by the loop, the report and the demo.

::

    run/
      state.json                 completed steps (:mod:`rl_editor.rlhf.run_state`)
      split.json                 which songs train, which are held out, the loop's settings
      bootstrap/policy.pt        iteration-1 policy on the dense reward (+ policy_logs/)
      bootstrap/preferences.json dense-taste judgments of iter-01's candidates
      bootstrap/reward.pt        the bootstrap reward model
      iter-01/candidates/        manifest.json (+ audio.json once people's audio is rendered)
      iter-01/preferences.json   the rater's judgments
      iter-01/reward.pt          reward model fine-tuned from the previous one
      iter-01/reward_eval.json   held-out accuracy of the new and the previous reward model
      iter-01/policy.pt          policy fine-tuned on the new reward model (+ policy_logs/)
      iter-01/eval.json          new policy against the previous one
      report.md, *.png           the report

Example
-------
>>> layout = RunLayout(Path("run"))
>>> layout.iteration(1).policy_logs
PosixPath('run/iter-01/policy_logs')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FINETUNE_CURVE = "finetune_curve.csv"
LEARNING_CURVE = "learning_curve.csv"


def logs_dir_for(model_file: Path) -> Path:
    """Folder beside a policy file that holds its learning curves and TensorBoard logs (``<stem>_logs``)."""
    return model_file.with_name(f"{model_file.stem}_logs")


@dataclass(frozen=True)
class IterationLayout:
    """The files of one feedback iteration (``iter-XX/``)."""

    folder: Path

    @property
    def name(self) -> str:
        """``iter-XX``, also the prefix of the iteration's step names."""
        return self.folder.name

    @property
    def candidates(self) -> Path:
        return self.folder / "candidates"

    @property
    def manifest(self) -> Path:
        return self.candidates / "manifest.json"

    @property
    def audio_marker(self) -> Path:
        """Written once the candidates' audio is rendered (for people)."""
        return self.candidates / "audio.json"

    @property
    def preferences(self) -> Path:
        return self.folder / "preferences.json"

    @property
    def reward(self) -> Path:
        return self.folder / "reward.pt"

    @property
    def reward_eval(self) -> Path:
        return self.folder / "reward_eval.json"

    @property
    def policy(self) -> Path:
        return self.folder / "policy.pt"

    @property
    def policy_logs(self) -> Path:
        return logs_dir_for(self.policy)

    @property
    def finetune_curve(self) -> Path:
        return self.policy_logs / FINETUNE_CURVE

    @property
    def eval(self) -> Path:
        return self.folder / "eval.json"

    @property
    def campaign(self) -> Path:
        """With people (``loop --db``): the iteration's campaign, its coverage, screening and agreement."""
        return self.folder / "campaign.json"


@dataclass(frozen=True)
class RunLayout:
    """The files of a run folder (module docstring)."""

    root: Path

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def split(self) -> Path:
        return self.root / "split.json"

    @property
    def report(self) -> Path:
        return self.root / "report.md"

    @property
    def bootstrap(self) -> Path:
        return self.root / "bootstrap"

    @property
    def bootstrap_policy(self) -> Path:
        return self.bootstrap / "policy.pt"

    @property
    def bootstrap_learning_curve(self) -> Path:
        return logs_dir_for(self.bootstrap_policy) / LEARNING_CURVE

    @property
    def bootstrap_preferences(self) -> Path:
        return self.bootstrap / "preferences.json"

    @property
    def bootstrap_reward(self) -> Path:
        return self.bootstrap / "reward.pt"

    def iteration(self, number: int) -> IterationLayout:
        """``iter-XX/`` of iteration ``number`` (from 1)."""
        return IterationLayout(self.root / f"iter-{number:02d}")

    def iterations_on_disk(self) -> list[IterationLayout]:
        """The iteration folders that exist, in order."""
        return [IterationLayout(p) for p in sorted(self.root.glob("iter-*")) if p.is_dir()]

    def plot(self, name: str) -> Path:
        """A report plot (``win_rates.png``, ...)."""
        return self.root / name


__all__ = ["FINETUNE_CURVE", "LEARNING_CURVE", "IterationLayout", "RunLayout", "logs_dir_for"]
