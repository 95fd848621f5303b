"""A Markdown report of a feedback-loop run, with PNG plots (matplotlib, Agg backend).

``write_report(run_dir)`` reads what :func:`rl_editor.rlhf.loop.run_loop` left
in the run folder and writes ``report.md`` beside:

- ``policy_learning.png``: the bootstrap policy's dense-reward learning curve
  and, per iteration, the learned reward during fine-tuning;
- ``kl.png``: KL divergence from the reference policy and the dense quality
  terms during fine-tuning (a learned reward rising while quality falls is
  reward hacking);
- ``reward_accuracy.png``: held-out accuracy against the rater's labels of each
  iteration's reward model and of the one it was fine-tuned from;
- ``win_rates.png``: per iteration, the tie-inclusive preference share of the
  new policy over the previous one (the headline) and the decisive win rate,
  each with its song-clustered 95% interval, against the 50% line and the 60% target.

Rater agreement (Krippendorff's alpha, raw agreement) of the held-out raters,
and of an iteration's training judgments when several raters judged the same
pairs, comes from :mod:`rl_editor.feedback.agreement`.
"""

from __future__ import annotations

import csv
import html
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from rl_editor.errors import RlEditorError
from rl_editor.io_utils import read_json
from rl_editor.rlhf.layout import IterationLayout, RunLayout
from rl_editor.rlhf.winrate import TARGET_PREFERENCE_SHARE, WinRate


class ReportError(RlEditorError):
    """A folder that is not a run of ``rl-editor loop``, or a run file that cannot be read."""


def _read_csv(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    rows = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            parsed: dict[str, Any] = {}
            for k, v in row.items():
                try:
                    parsed[k] = float(v)
                except (TypeError, ValueError):
                    parsed[k] = v
            rows.append(parsed)
    return rows


def _smooth(values: list[float], window: int = 20) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if len(x) == 0:
        return x
    window = max(1, min(window, len(x)))
    kernel = np.ones(window) / window
    padded = np.concatenate([np.full(window - 1, x[0]), x])
    return np.convolve(padded, kernel, mode="valid")


def _load_json(path: Path) -> Any:
    """The run file's JSON, or None while the loop has not written it yet."""
    return read_json(path, ReportError, "run file") if path.is_file() else None


def check_run_folder(run: Path) -> None:
    """Raise :class:`ReportError` unless ``run`` is a folder written by ``rl-editor loop``."""
    if not run.exists():
        raise ReportError(f"{run}: no such run folder")
    if not run.is_dir():
        raise ReportError(f"{run}: not a folder; give the run folder of `rl-editor loop`")
    layout = RunLayout(run)
    if not layout.split.is_file() and not layout.iterations_on_disk():
        raise ReportError(f"{run}: not a run folder of `rl-editor loop` (no split.json and no iter-* folders)")


def _evaluation(path: Path, data: dict[str, Any]) -> Any:
    """An ``eval.json`` as an :class:`~rl_editor.rlhf.evaluation_result.EvaluationResult` (older files get today's figures)."""
    from rl_editor.rlhf.evaluation_result import EvaluationResult

    try:
        return EvaluationResult.from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(f"{path}: not an evaluation result of `rl-editor loop` ({exc})") from None


def _pairs_from_judgments(evaluation: dict[str, Any]) -> list[Any]:
    """Evaluation judgments as preference pairs (edit ids ``<song>-old-k`` / ``-new-k``) for agreement."""
    from rl_editor.formats import Preference, PresentedOrder, Strength
    from rl_editor.preferences import EditRef, PreferencePair

    pairs = []
    for j in evaluation.get("judgments", []):
        old = EditRef(path="", actions=[], duration_seconds=0.0, edit_id=f"{j['song_id']}-old-{j['k']}")
        new = EditRef(path="", actions=[], duration_seconds=0.0, edit_id=f"{j['song_id']}-new-{j['k']}")
        a, b = (new, old) if j["new_shown_as"] == "a" else (old, new)
        pairs.append(
            PreferencePair(
                song_id=j["song_id"],
                edit_a=a,
                edit_b=b,
                preference=Preference(j["preference"]),
                strength=Strength(int(j["strength"])),
                rater=j["rater"],
                timestamp="",
                notes="",
                presented_order=PresentedOrder.AB,
            )
        )
    return pairs


def _training_agreement_lines(iteration: IterationLayout) -> list[str]:
    """Agreement (Krippendorff's alpha and the rest) of an iteration's training judgments, when several raters
    judged the same pairs; nothing otherwise."""
    from rl_editor.feedback.agreement import agreement_report
    from rl_editor.preferences import PreferenceFormatError, load_preferences

    path = iteration.preferences
    if not path.is_file():
        return []
    try:
        report = agreement_report(load_preferences(path))
    except PreferenceFormatError as exc:
        raise ReportError(str(exc)) from None
    if not report.n_pairs_multi_rated:
        return []
    return (
        [f"**{iteration.name}** (training judgments):", ""]
        + [f"- {md_text(line.strip())}" for line in report.lines()]
        + [""]
    )


def _campaign_lines(iteration: IterationLayout) -> list[str]:
    """With people: the iteration's campaign coverage, screening and agreement (``campaign.json``); nothing
    otherwise."""
    record = _load_json(iteration.campaign)
    if not record:
        return []
    lines = [
        f"**{iteration.name}** (campaign {md_text(record['campaign'])}, {md_text(record['n_judgments'])} judgments):",
        "",
    ]
    coverage = record.get("coverage")
    if coverage:
        votes = ", ".join(f"{count} with {n}" for n, count in coverage["votes"].items())
        lines.append(
            f"- coverage: {coverage['complete']} of {coverage['pairs']} pairs have their "
            f"{coverage['votes_per_pair'] or 1} vote(s); pairs by votes: {votes}"
        )
    lines.append(f"- {md_text(record['screening_line'])}")
    alpha = record.get("krippendorff_alpha")
    lines.append(
        "- Krippendorff's alpha: " + ("n/a (no pair judged by several people)" if alpha is None else f"{alpha:.3f}")
    )
    return lines + [""]


def _acceptance_lines(run: RunLayout, identical_shares: dict[str, float]) -> list[str]:
    """What each iteration's fine-tuning kept (weights and length), and how many evaluation pairs were identical
    (``identical_shares`` by iteration name, from the evaluations the report has read)."""
    from rl_editor.rlhf.acceptance import acceptance_text, recorded_acceptance

    rows = []
    for d in run.iterations_on_disk():
        if not d.policy.is_file():
            continue
        acceptance = recorded_acceptance(d.policy)
        identical = identical_shares.get(d.name)
        rows.append(
            f"| {d.name} | {acceptance_text(acceptance) if acceptance else 'every change kept (no check)'} "
            f"| {_fmt(identical, True)} |"
        )
    if not rows:
        return []
    return [
        "## What fine-tuning kept",
        "",
        "| iteration | decision | identical evaluation pairs |",
        "|---|---|---|",
        *rows,
        "",
        "A change (new weights, new length) is kept only when the reward ensemble's lower confidence "
        "bound of its gain over the previous policy, on the training songs, is above zero; otherwise the previous "
        "policy stays, its edits are identical to the previous ones, and the evaluation's pairs are ties without "
        "asking.",
        "",
    ]


def _plot_learning(run: RunLayout, out: Path) -> bool:
    import matplotlib.pyplot as plt

    boot = _read_csv(run.bootstrap_learning_curve)
    iters = [(d.name, _read_csv(d.finetune_curve)) for d in run.iterations_on_disk()]
    if not boot and not any(rows for _, rows in iters):
        return False
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    if boot:
        axes[0].plot([r["episode"] for r in boot], _smooth([r["dense_total"] for r in boot]), label="dense reward")
        axes[0].set_title("bootstrap policy (dense reward)")
        axes[0].set_xlabel("episode")
        axes[0].legend()
    for name, rows in iters:
        if rows:
            axes[1].plot([r["episode"] for r in rows], _smooth([r["learned_reward"] for r in rows]), label=name)
    axes[1].set_title("fine-tuning: learned reward (z-scored)")
    axes[1].set_xlabel("episode")
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return True


def _plot_kl(run: RunLayout, out: Path) -> bool:
    import matplotlib.pyplot as plt

    iters = [(d.name, _read_csv(d.finetune_curve)) for d in run.iterations_on_disk()]
    if not any(rows for _, rows in iters):
        return False
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for name, rows in iters:
        if not rows:
            continue
        ep = [r["episode"] for r in rows]
        axes[0].plot(ep, _smooth([r["kl"] for r in rows]), label=name)
        axes[1].plot(ep, _smooth([r["dense_total"] for r in rows]), label=name)
        axes[2].plot(ep, _smooth([r["keep_share"] for r in rows]), label=name)
    for ax, title in zip(axes, ("KL(policy || reference) per edit", "dense quality terms", "keep share")):
        ax.set_title(title)
        ax.set_xlabel("episode")
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return True


def _plot_reward_accuracy(rows: list[tuple[str, dict]], out: Path) -> bool:
    import matplotlib.pyplot as plt

    if not rows:
        return False
    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.arange(len(rows))
    new = [r["new"]["accuracy"] for _, r in rows]
    prev = [r["previous"]["accuracy"] for _, r in rows]
    ax.bar(x - 0.2, prev, 0.4, label="previous (bootstrap at iteration 1)")
    ax.bar(x + 0.2, new, 0.4, label="new")
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xticks(x, [name for name, _ in rows])
    ax.set_ylim(0, 1.2)  # room above the bars for the legend
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("held-out accuracy vs rater labels")
    ax.legend(loc="upper center", ncol=2, fontsize="small")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return True


def _plot_win_rates(rows: list[tuple[str, WinRate]], out: Path) -> bool:
    import matplotlib.pyplot as plt

    rows = [(n, w) for n, w in rows if w.n > 0]
    if not rows:
        return False
    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.arange(len(rows))
    series = (
        ("preference share (ties count half)", "preference_share", "share_ci_low", "share_ci_high", -0.08),
        ("decisive win rate (ties left out)", "win_rate", "cluster_ci_low", "cluster_ci_high", 0.08),
    )
    for label, key, low_key, high_key, offset in series:
        value = np.array([getattr(w, key) for _, w in rows], dtype=np.float64)
        # an interval that could not be computed (fewer than two songs) gets no bar, not a point
        low = np.array([np.nan if getattr(w, low_key) is None else getattr(w, low_key) for _, w in rows])
        high = np.array([np.nan if getattr(w, high_key) is None else getattr(w, high_key) for _, w in rows])
        errors = np.nan_to_num(np.stack([value - low, high - value]), nan=0.0)
        ax.errorbar(x + offset, value, yerr=errors, fmt="o", capsize=6, label=label)
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.axhline(TARGET_PREFERENCE_SHARE, color="tab:green", lw=0.8, ls=":", label="target (preference share)")
    ax.set_xticks(x, [n for n, _ in rows])
    ax.set_xlim(-0.5, len(rows) - 0.5)
    ax.set_ylim(0, 1.25)  # room above for the legend
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("new policy over the previous one (95% CI, clustered)")
    ax.legend(loc="upper center", fontsize="small")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return True


MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~#!])")


def md_text(value: Any) -> str:
    """``value`` as inert Markdown text: no markup, no HTML, no table cell break, on one line.

    Names that come from files and people (song ids, campaign and rater names) may hold
    ``<img onerror=...>`` or Markdown; rendered, the report must show them, never run them.
    Markdown punctuation gets a backslash, ``&``, ``<`` and ``>`` become entities, and line breaks spaces.
    """
    text = " ".join(str(value).splitlines())
    return html.escape(MARKDOWN_SPECIAL.sub(r"\\\1", text), quote=False)


def md_code(value: Any) -> str:
    """``value`` as a Markdown code span, or as :func:`md_text` when it holds a backtick or a line break."""
    text = str(value)
    return f"`{text}`" if "`" not in text and "\n" not in text and "\r" not in text else md_text(text)


def _fmt(x: Any, pct: bool = False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.1%}" if pct else (f"{x:.3f}" if isinstance(x, float) else str(x))


def write_report(run_dir: str | Path) -> Path:
    """Write ``report.md`` and its plots into a run folder; returns the report's path.

    Raises :class:`ReportError` when ``run_dir`` is missing or not a run folder of ``rl-editor loop``.
    """
    import matplotlib

    matplotlib.use("Agg")
    from rl_editor.feedback.agreement import agreement_report
    from rl_editor.rlhf.evaluation_result import behaviour_change

    run = Path(run_dir)
    check_run_folder(run)
    layout = RunLayout(run)
    lines = [f"# rl-editor run report: {md_code(run.name)}", ""]
    split = _load_json(layout.split) or {}
    if split:
        lines += [
            f"Training songs: {', '.join(map(md_text, split.get('train', [])))}  ",
            f"Held-out songs (evaluation only): {', '.join(map(md_text, split.get('heldout', [])))}",
            "",
        ]
        cfg = split.get("config", {})
        lines += [
            f"Rater: {md_code(cfg.get('rater'))}, {md_text(cfg.get('pairs'))} pairs per iteration; held-out "
            f"raters: {md_text(cfg.get('eval_raters'))} fresh instances of "
            f"{md_code(cfg.get('eval_rater') or cfg.get('rater'))}; "
            f"bootstrap rater {md_code(cfg.get('bootstrap_rater'))}.",
            "",
        ]

    win_rows, acc_rows, behaviour_rows, best_of_rows = [], [], [], []
    changed_lines: list[tuple[str, str]] = []
    lines += [
        "## Results per iteration",
        "",
        "| iteration | new preferred (ties count half) | 95% CI (clustered) | target > 60% | decisive win rate | "
        "95% CI (clustered) | ties | wins / losses / ties | reward acc. new | reward acc. previous |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    agreement_lines: list[str] = []
    identical_shares: dict[str, float] = {}
    for d in layout.iterations_on_disk():
        agreement_lines += _campaign_lines(d) + _training_agreement_lines(d)
        ev, acc = _load_json(d.eval), _load_json(d.reward_eval)
        if acc:
            acc_rows.append((d.name, acc))
        if not ev:
            lines.append(f"| {d.name} | (not evaluated yet) | | | | | | | | |")
            continue
        result = _evaluation(d.eval, ev)
        identical_shares[d.name] = result.identical_share
        w = result.win
        win_rows.append((d.name, w))
        behaviour_rows.append((d.name, behaviour_change(result.edit_stats) if result.edit_stats else None))
        changed_lines.append((d.name, result.what_changed()))
        if result.best_of is not None:
            b = result.best_of
            best_of_rows.append(
                f"| {d.name} | best-of-{b.n} by {b.reward_version} | **{_fmt(b.win.preference_share, True)}** "
                f"| {b.win.share_interval_text()} | {_fmt(b.win.win_rate, True)} | {_fmt(b.win.tie_share, True)} "
                f"| {_fmt(w.preference_share, True)} |"
            )
        lines.append(
            f"| {d.name} | **{_fmt(w.preference_share, True)}** | {w.share_interval_text()} "
            f"| {'met' if w.target_met else 'not met'} | {_fmt(w.win_rate, True)} | {w.decisive_interval_text()} "
            f"| {_fmt(w.tie_share, True)} | {w.wins} / {w.losses} / {w.ties} "
            f"| {_fmt(acc['new']['accuracy'] if acc else None, True)} "
            f"| {_fmt(acc['previous']['accuracy'] if acc else None, True)} |"
        )
        report = agreement_report(_pairs_from_judgments(ev))
        agreement_lines += [f"**{d.name}** (held-out raters):", ""]
        agreement_lines += [f"- {md_text(line.strip())}" for line in report.lines()] + [""]
    lines.append("")
    lines += [
        "The headline is the **tie-inclusive preference share**: (wins + ties / 2) / judgments, the share of "
        "held-out judgments that went to the new policy when a tie counts half for each side; 50% means no "
        "difference. Its interval is clustered by rater and song (by song alone with one rater): judgments of "
        "one song, or by one rater, are not independent. It is never narrower than Wilson's interval of the "
        "same share; with fewer than two songs there is none "
        "(n/a). The design's target (> 60%) is met when the share is above 60% and its interval above 50%. "
        "The decisive win rate leaves the ties out: it says which way the decisive judgments went, not how "
        "many there were, so read it beside the tie share. "
        "Reward accuracy = share of the held-out rater's decisive judgments of held-out songs' candidates "
        "that the reward model orders the same way.",
        "",
    ]
    if best_of_rows:
        lines += [
            "## The previous policy with best-of-N sampling, against itself",
            "",
            "| iteration | ranking | preferred (ties count half) | 95% CI by song | decisive win rate | ties | "
            "fine-tuned policy's share |",
            "|---|---|---|---|---|---|---|",
            *best_of_rows,
            "",
            "The previous policy's edits, each the reward model's favourite of N samples, judged against its "
            "plain edits by the same held-out raters: what the reward model gives without fine-tuning.",
            "",
        ]
    if behaviour_rows:
        labels = [label for label, _, _ in behaviour_change({})]
        lines += [
            "## How the edits changed (old -> new, means over the held-out edits)",
            "",
            "| iteration | " + " | ".join(labels) + " |",
            "|---|" + "---|" * len(labels),
        ]
        for name, change in behaviour_rows:
            cells = [f"{old} -> {new}" for _, old, new in change] if change else ["n/a"] * len(labels)
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += [""] + [f"- {name}: {text}" for name, text in changed_lines]
        lines += [
            "",
            "A preference without a change in the edits is noise: read the headline beside this table. "
            "Length is what a target could have set; material is which beats an edit plays at its length.",
            "",
        ]
    lines += _acceptance_lines(layout, identical_shares)

    plots = [
        (
            "win_rates.png",
            "New policy over the previous one: preference share and decisive win rate",
            _plot_win_rates(win_rows, layout.plot("win_rates.png")),
        ),
        (
            "reward_accuracy.png",
            "Reward model held-out accuracy",
            _plot_reward_accuracy(acc_rows, layout.plot("reward_accuracy.png")),
        ),
        ("policy_learning.png", "Policy learning curves", _plot_learning(layout, layout.plot("policy_learning.png"))),
        (
            "kl.png",
            "KL from the reference, quality terms and length during fine-tuning",
            _plot_kl(layout, layout.plot("kl.png")),
        ),
    ]
    lines += ["## Plots", ""]
    for name, title, made in plots:
        if made:
            lines += [f"### {title}", "", f"![{title}]({name})", ""]
    if agreement_lines:
        lines += ["## Rater agreement", ""] + agreement_lines

    from rl_editor.registry import lineage_lines, list_models

    lines += ["## Models (lineage)", "", "```"] + lineage_lines(list_models(run)) + ["```", ""]
    out = layout.report
    out.write_text("\n".join(lines), encoding="utf-8")
    return out


__all__ = ["ReportError", "check_run_folder", "write_report"]
