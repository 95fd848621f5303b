"""Old policy against new, judged by raters who did not train the reward model.

For each held-out song, each policy samples ``edits_per_song`` edits with the
same seeds (common random numbers: edit ``k`` of both policies draws the same
random numbers, so the two differ only where the policies do, and a policy
against itself gives identical edits); edit ``k`` of the old policy is paired
with edit ``k`` of the new one and every rater judges every pair, shown in an
order drawn at random per judgment and mapped back to "new", "old" or "tie".
Identical edits are a tie without asking (there is nothing to hear), and the
result says how many pairs were identical. (An evaluation campaign for people,
:func:`create_evaluation_campaign`, samples the two policies with their own
seeds, so people are never handed two copies of one edit.) :func:`~rl_editor.rlhf.winrate.win_rate`
turns the outcomes into the headline, the tie-inclusive preference share
``(wins + ties / 2) / judgments`` with a song-clustered 95% interval, and
beside it the decisive win rate, the tie share, Wilson's interval and the
sign-test p-value (those two treat judgments as independent).

The result also says how the edits changed from old to new (length as a share
of the song, splices per minute of output, bar-line share of splices, mean
splice quality): a preference without a change in behaviour is noise.
Raters should be fresh instances (own seeds) of tastes nobody trained on.

Given a reward model, a third arm is judged too: the old policy with
best-of-N sampling (:func:`best_of_n_edits`; ``rl-editor edit --best-of N``
ranks its samples the same way), against the old policy's same edits. It says
how much of the gain the reward model gives without any fine-tuning, and,
beside the new policy's share, whether fine-tuning added to it.
"""

from __future__ import annotations

import sys
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rl_editor.audio.song import SongAnalysis
from rl_editor.edit import Edit, beat_sequence
from rl_editor.formats import Preference
from rl_editor.io_utils import read_json, write_json_atomic
from rl_editor.policy.dense_reward import edit_stats
from rl_editor.rlhf.errors import RLHFError
from rl_editor.rlhf.evaluation_result import (
    BestOfArm,
    EvaluationResult,
    Judged,
    outcomes_summary,
)


def _as_trainer(policy: Any) -> Any:
    from rl_editor.policy.trainer import PPOTrainer

    if isinstance(policy, (str, Path)):
        if not Path(policy).is_file():
            raise RLHFError(f"{policy}: no such policy file")
        return PPOTrainer.from_checkpoint(policy)
    return policy


def _as_analyses(songs: Sequence[SongAnalysis | str | Path]) -> list[SongAnalysis]:
    from rl_editor.audio import analyze_song

    out = []
    for s in songs:
        if isinstance(s, SongAnalysis):
            out.append(s)
        elif Path(s).is_file():
            out.append(analyze_song(s))
        else:
            raise RLHFError(f"{s}: no such song file")
    if not out:
        raise RLHFError("evaluation needs at least one held-out song")
    return out


PAIRED_SIDE = "paired"  # the seeds' label of both policies' edits in a simulated evaluation


def _seeds(song_id: str, side: str, n: int, seed: int) -> list[int]:
    base = zlib.crc32(f"{seed}|{song_id}|{side}".encode())
    return [int(base + 104729 * k) & 0x7FFFFFFF for k in range(n)]


def sample_policy_edits(
    policy: Any, analyses: Sequence[SongAnalysis], side: str, edits_per_song: int, temperature: float, seed: int
) -> dict[str, list[np.ndarray]]:
    """``edits_per_song`` edits of each song by one policy, seeded by song, side and ``seed``."""
    return {
        a.song_id: policy.generate_edits(
            a, [temperature] * edits_per_song, _seeds(a.song_id, side, edits_per_song, seed)
        )
        for a in analyses
    }


def edit_behaviour(analysis: SongAnalysis, actions: np.ndarray) -> dict[str, float]:
    """:func:`~rl_editor.policy.dense_reward.edit_stats` plus ``splices_per_minute`` of output.

    ``duration_share`` is the edit's length as a share of the song (seconds);
    ``splices_per_minute`` counts jumps in playback per minute of the rendered
    edit (NaN for an edit that plays nothing).
    """
    stats = edit_stats(analysis, actions)
    played_s = float(analysis.beat_durations_s[beat_sequence(np.asarray(actions))].sum())
    stats["splices_per_minute"] = stats["n_splices"] / (played_s / 60) if played_s > 0 else float("nan")
    return stats


def _mean_stats(analyses: Sequence[SongAnalysis], edits: dict[str, list[np.ndarray]]) -> dict[str, float]:
    rows = [edit_behaviour(a, e) for a in analyses for e in edits[a.song_id]]
    with warnings.catch_warnings():  # a figure NaN for every edit (no splices anywhere) stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]} if rows else {}


def evaluate_policies(
    old_path: Any,
    new_path: Any,
    songs: Sequence[SongAnalysis | str | Path],
    raters: Sequence[Any],
    temperature: float = 0.5,
    seed: int = 0,
    edits_per_song: int = 8,
    progress: bool = False,
    reward_model: Any = None,
    best_of: int = 4,
) -> EvaluationResult:
    """A/B test of two policies on held-out songs with held-out raters (and the old policy with best-of-N).

    Parameters
    ----------
    old_path, new_path : path or PPOTrainer
        The policies (files or loaded trainers).
    songs : sequence of SongAnalysis or audio paths
        Held-out songs (none of them used to train either policy or the reward model).
    raters : sequence of Rater
        Objects with ``name`` and ``judge(song, edit_a, edit_b)``; each judges every pair.
    temperature : float
        Sampling temperature of both policies (0 = greedy: one distinct edit per song).
    seed : int
        Seeds edit sampling and the A/B order.
    edits_per_song : int
        Edit pairs per song; judgments = songs x edits_per_song x raters.
    progress : bool
        Show a tqdm bar over songs.
    reward_model : path or RewardEnsemble, optional
        Adds the third arm (:attr:`EvaluationResult.best_of`): the old policy's best of ``best_of``
        samples by this reward model, judged against the old policy's edits by the same raters.
    best_of : int
        Samples per edit of the third arm.

    Returns
    -------
    EvaluationResult
    """
    if not raters:
        raise RLHFError("evaluation needs at least one rater (--rater NAME)")
    if edits_per_song < 1:
        raise RLHFError(f"edits_per_song must be at least 1, got {edits_per_song}")
    old, new = _as_trainer(old_path), _as_trainer(new_path)
    analyses = _as_analyses(songs)
    old_edits = sample_policy_edits(old, analyses, PAIRED_SIDE, edits_per_song, temperature, seed)
    new_edits = sample_policy_edits(new, analyses, PAIRED_SIDE, edits_per_song, temperature, seed)
    rng = np.random.default_rng(seed)
    judgments = judge_pairs(analyses, old_edits, new_edits, raters, rng, progress)
    arm = None
    if reward_model is not None:
        arm = best_of_arm(old, reward_model, analyses, old_edits, raters, best_of, temperature, seed, rng)
    win, per_rater, per_song = outcomes_summary(judgments)
    version = lambda t: t.meta.version if getattr(t, "meta", None) else "?"  # noqa: E731
    return EvaluationResult(
        win=win,
        judgments=judgments,
        old_version=version(old),
        new_version=version(new),
        per_rater=per_rater,
        per_song=per_song,
        edit_stats={"old": _mean_stats(analyses, old_edits), "new": _mean_stats(analyses, new_edits)},
        edits={
            a.song_id: {
                "old": [[int(x) for x in e] for e in old_edits[a.song_id]],
                "new": [[int(x) for x in e] for e in new_edits[a.song_id]],
            }
            for a in analyses
        },
        settings={
            "temperature": temperature,
            "seed": seed,
            "edits_per_song": edits_per_song,
            "raters": [str(getattr(r, "name", "rater")) for r in raters],
            "songs": [a.song_id for a in analyses],
        },
        best_of=arm,
    )


def judge_pairs(
    analyses: Sequence[SongAnalysis],
    old_edits: dict[str, list[np.ndarray]],
    new_edits: dict[str, list[np.ndarray]],
    raters: Sequence[Any],
    rng: np.random.Generator,
    progress: bool = False,
) -> list[Judged]:
    """Every rater judges edit ``k`` of old against edit ``k`` of new, in an order drawn per judgment."""
    from tqdm.auto import tqdm

    from rl_editor.raters import as_judgment

    judgments: list[Judged] = []
    for a in tqdm(analyses, desc="evaluating", unit="song", disable=not progress, file=sys.stderr):
        for k, (old_actions, new_actions) in enumerate(zip(old_edits[a.song_id], new_edits[a.song_id])):
            e_old, e_new = Edit(a.song_id, np.asarray(old_actions)), Edit(a.song_id, np.asarray(new_actions))
            same = np.array_equal(e_old.actions, e_new.actions)
            for rater in raters:
                name = str(getattr(rater, "name", "rater"))
                if same:  # nothing to hear: a tie, not a question
                    judgments.append(
                        Judged(
                            song_id=a.song_id,
                            k=k,
                            rater=name,
                            new_shown_as="a",
                            preference=Preference.TIE,
                            strength=1,
                            outcome="tie",
                            identical=True,
                        )
                    )
                    continue
                new_first = bool(rng.random() < 0.5)
                first, second = (e_new, e_old) if new_first else (e_old, e_new)
                j = as_judgment(rater.judge(a, first, second), name)
                if j.preference == Preference.TIE:
                    outcome = "tie"
                else:
                    outcome = "new" if (j.preference == "a") == new_first else "old"
                s_first, s_second = float(j.score_a), float(j.score_b)
                judgments.append(
                    Judged(
                        song_id=a.song_id,
                        k=k,
                        rater=name,
                        new_shown_as="a" if new_first else "b",
                        preference=Preference(j.preference),
                        strength=int(j.strength),
                        outcome=outcome,
                        score_new=s_first if new_first else s_second,
                        score_old=s_second if new_first else s_first,
                    )
                )
    return judgments


def best_of_n_edits(
    policy: Any,
    ensemble: Any,
    analyses: Sequence[SongAnalysis],
    edits_per_song: int,
    n: int,
    temperature: float,
    seed: int,
) -> dict[str, list[np.ndarray]]:
    """Per song, ``edits_per_song`` edits, each the reward model's favourite of ``n`` samples by ``policy``.

    The samples are ranked by the ensemble's mean score, as ``rl-editor edit --best-of N`` ranks them
    (:func:`rl_editor.rlhf.edit.rank_by_reward`); their seeds differ from the policy's plain edits.
    """
    samples = sample_policy_edits(policy, analyses, f"best-of-{n}", edits_per_song * n, temperature, seed)
    chosen: dict[str, list[np.ndarray]] = {}
    for a in analyses:
        batch = np.stack(samples[a.song_id]).reshape(edits_per_song, n, a.n_beats)
        mean, _ = ensemble.score(a, batch.reshape(edits_per_song * n, a.n_beats))
        best = np.asarray(mean).reshape(edits_per_song, n).argmax(axis=1)
        chosen[a.song_id] = [batch[k, best[k]] for k in range(edits_per_song)]
    return chosen


def best_of_arm(
    old: Any,
    reward_model: Any,
    analyses: Sequence[SongAnalysis],
    old_edits: dict[str, list[np.ndarray]],
    raters: Sequence[Any],
    n: int,
    temperature: float,
    seed: int,
    rng: np.random.Generator,
) -> BestOfArm:
    """The old policy with best-of-``n`` sampling judged against the old policy's ``old_edits``."""
    from rl_editor.reward import load_reward_model

    if n < 1:
        raise RLHFError(f"best_of must be at least 1, got {n}")
    ensemble = load_reward_model(reward_model) if isinstance(reward_model, (str, Path)) else reward_model
    edits_per_song = len(next(iter(old_edits.values())))
    chosen = best_of_n_edits(old, ensemble, analyses, edits_per_song, n, temperature, seed)
    judgments = judge_pairs(analyses, old_edits, chosen, raters, rng)
    win, _, _ = outcomes_summary(judgments)
    return BestOfArm(
        n=n,
        reward_version=str(getattr(ensemble, "version", None) or "reward model"),
        win=win,
        judgments=judgments,
        edit_stats={"old": _mean_stats(analyses, old_edits), "best_of": _mean_stats(analyses, chosen)},
        edits={a.song_id: [[int(x) for x in e] for e in chosen[a.song_id]] for a in analyses},
    )


def held_out_raters(spec: str, n: int, seed: int = 1000) -> list[Any]:
    """``n`` independent instances of a rater spec, named ``<name>-heldout-<i>``, seeds from ``seed``."""
    from rl_editor.raters import load_rater

    raters = []
    for i in range(n):
        rater = load_rater(spec, seed=seed + i)
        try:
            rater.name = f"{getattr(rater, 'name', 'rater')}-heldout-{i + 1}"
        except AttributeError:
            pass
        raters.append(rater)
    return raters


def create_evaluation_campaign(
    old_path: Any,
    new_path: Any,
    songs: Sequence[SongAnalysis | str | Path],
    db_url: str,
    out_dir: str | Path,
    edits_per_song: int = 4,
    temperature: float = 0.5,
    seed: int = 0,
    raters_per_pair: int = 3,
    name: str | None = None,
    progress: bool = False,
) -> str:
    """Render old/new edits of held-out songs and create a held-out campaign for people to judge.

    Writes ``out_dir/manifest.json`` and the edits' audio (edit ids
    ``<song>-eval-old-<k>`` / ``<song>-eval-new-<k>``), registers the edits in
    the feedback database and creates a campaign whose tasks go only to raters
    marked held-out. Serve ``out_dir/manifest.json`` with the same ``--db`` so
    the audio is found. Also writes ``out_dir/campaign.json`` (campaign name,
    ``old`` and ``new`` policy versions, pairs) for :func:`campaign_result`.
    ``progress`` shows a tqdm bar (on stderr) over the songs being rendered.
    A database without a song library gets the songs' common folder as its library.
    Returns the campaign's name.
    """
    import datetime as _dt

    from tqdm.auto import tqdm

    from rl_editor.audio import load_audio
    from rl_editor.feedback.storage import FeedbackStore
    from rl_editor.feedback.store.catalog import songs_common_folder
    from rl_editor.generate import Manifest, new_song_entry, write_candidate

    old, new = _as_trainer(old_path), _as_trainer(new_path)
    analyses = _as_analyses(songs)
    out_dir = Path(out_dir).resolve()
    manifest = Manifest(root=out_dir)
    edits = {
        "old": sample_policy_edits(old, analyses, "old", edits_per_song, temperature, seed),
        "new": sample_policy_edits(new, analyses, "new", edits_per_song, temperature, seed),
    }
    versions = {"old": old.meta.version if old.meta else "old", "new": new.meta.version if new.meta else "new"}
    rng = np.random.default_rng(seed)
    pairs: list[tuple[str, str]] = []
    for a in tqdm(analyses, desc="rendering evaluation edits", unit="song", disable=not progress, file=sys.stderr):
        entry = new_song_entry(a, a.path, out_dir)
        source = load_audio(a.path)
        ids = {}
        for side in ("old", "new"):
            for k, actions in enumerate(edits[side][a.song_id]):
                edit_id = f"{a.song_id}-eval-{side}-{k}"
                write_candidate(
                    entry,
                    out_dir,
                    a,
                    source,
                    actions,
                    temperature=temperature,
                    seed=seed,
                    k=k,
                    policy=versions[side],
                    edit_id=edit_id,
                    extra={"evaluation_side": side},
                )
                ids[side, k] = edit_id
        manifest.songs.append(entry)
        for k in range(edits_per_song):
            pair = (ids["old", k], ids["new", k])
            pairs.append(pair if rng.random() < 0.5 else pair[::-1])
    manifest.save()
    name = name or f"eval-{_dt.datetime.now(_dt.UTC).strftime('%Y%m%d-%H%M%S')}"
    with FeedbackStore.open(db_url, manifest.path) as store:
        store.set_song_library(songs_common_folder(manifest), keep_existing=True)
        store.register_edits(manifest)
        store.create_campaign(name, pairs, held_out_only=True, raters_per_pair=raters_per_pair)
    write_json_atomic(
        out_dir / "campaign.json",
        {"campaign": name, "old": versions["old"], "new": versions["new"], "pairs": pairs},
        indent=1,
        default=float,
    )
    return name


def campaign_versions(campaign_file: str | Path, campaign: str) -> dict[str, str]:
    """``{"old": version, "new": version}`` from the ``campaign.json`` of :func:`create_evaluation_campaign`."""
    path = Path(campaign_file)
    data = read_json(path, RLHFError, "campaign file (--campaign-file)")
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("campaign", "old", "new")):
        raise RLHFError(f"{path}: not a campaign file (needs string keys campaign, old and new)")
    if data["campaign"] != campaign:
        raise RLHFError(f"{path}: describes campaign {data['campaign']!r}, not {campaign!r}")
    return {"old": data["old"], "new": data["new"]}


def campaign_result(db_url: str, campaign: str, campaign_file: str | Path | None = None) -> EvaluationResult:
    """Read the judgments of an evaluation campaign and compute the new policy's win rate.

    Parameters
    ----------
    db_url : str
        Feedback database; it must exist already (a mistyped SQLite path is an error).
    campaign : str
        Campaign name.
    campaign_file : path, optional
        The campaign's ``campaign.json`` (written beside its manifest); gives the
        policies' versions, which are ``"old"`` and ``"new"`` without it.
    """
    from rl_editor.feedback.storage import FeedbackStore

    versions = campaign_versions(campaign_file, campaign) if campaign_file is not None else {"old": "old", "new": "new"}
    with FeedbackStore.open(db_url, create=False) as store:
        pairs = store.export_pairs(campaign=campaign)
    if not pairs:
        raise RLHFError(f"campaign {campaign!r}: no judgments yet (or no such campaign) in {db_url}")
    judgments = []
    for p in pairs:
        id_a = p.edit_a.edit_id or ""
        new_first = "-eval-new-" in id_a
        outcome = (
            "tie"
            if p.preference == Preference.TIE
            else ("new" if (p.preference == Preference.A) == new_first else "old")
        )
        k = int(id_a.rsplit("-", 1)[-1]) if id_a.rsplit("-", 1)[-1].isdigit() else 0
        judgments.append(
            Judged(
                song_id=p.song_id,
                k=k,
                rater=p.rater,
                new_shown_as="a" if new_first else "b",
                preference=p.preference,
                strength=int(p.strength),
                outcome=outcome,
            )
        )
    win, per_rater, per_song = outcomes_summary(judgments)
    return EvaluationResult(
        win=win,
        judgments=judgments,
        old_version=versions["old"],
        new_version=versions["new"],
        per_rater=per_rater,
        per_song=per_song,
        settings={"campaign": campaign},
    )


__all__ = [
    "best_of_arm",
    "best_of_n_edits",
    "campaign_result",
    "campaign_versions",
    "create_evaluation_campaign",
    "edit_behaviour",
    "evaluate_policies",
    "held_out_raters",
    "judge_pairs",
    "sample_policy_edits",
]
