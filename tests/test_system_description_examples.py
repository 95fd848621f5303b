"""Every code example of the system description (human-feedback-pipeline.md), run against the public API.

Only paths change, except where an example cannot run as written; each such
adaptation is minimal and its comment says why.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory, demo_analyses) -> Path:
    """``./models/policy_final.pt``, ``policy_v14.pt``: a briefly trained policy."""
    from rl_editor.policy.trainer import PolicyConfig, PPOTrainer

    folder = tmp_path_factory.mktemp("models")
    trainer = PPOTrainer(PolicyConfig(seed=0, n_envs=4, n_steps=64, batch_size=128, n_epochs=2))
    trainer.train(12, analyses=demo_analyses[:3], progress=False)
    trainer.save_checkpoint(folder / "policy_final.pt")
    trainer.save_checkpoint(folder / "policy_v14.pt")
    return folder


def test_step1_generate_edits_at_several_temperatures(tmp_path, models_dir, demo_songs_dir):
    # The trainer lives in rl_editor.policy.trainer (the description's rl_editor.trainer).
    from rl_editor.audio import extract_features, load_audio, save_audio
    from rl_editor.policy.trainer import PolicyConfig, PPOTrainer

    config = PolicyConfig()
    song_wav = sorted(demo_songs_dir.glob("*.wav"))[0]

    policy = PPOTrainer(config)
    policy.load_checkpoint(models_dir / "policy_final.pt")

    raw_audio = load_audio(song_wav)
    beat_features = extract_features(raw_audio)

    policy.set_temperature(0.1)
    edit_a = policy.generate_edit(beat_features)
    policy.set_temperature(0.7)
    edit_b = policy.generate_edit(beat_features)
    policy.set_temperature(0.5)
    edit_c = policy.generate_edit(beat_features)

    # generate_edit returns the per-beat actions; audio needs the song itself, so the
    # edits are rendered from the song file (render=True) before save_audio.
    for name, edit in (("edit_a", edit_a), ("edit_b", edit_b), ("edit_c", edit_c)):
        assert edit.shape == (len(beat_features),) and set(np.unique(edit)) <= {0, 1, 2}
        policy.set_temperature({"edit_a": 0.1, "edit_b": 0.7, "edit_c": 0.5}[name])
        _, audio = policy.generate_edit(song_wav, render=True)
        save_audio(tmp_path / f"{name}.wav", audio)
        assert (tmp_path / f"{name}.wav").stat().st_size > 1000


def test_the_preference_json_of_the_description_loads(tmp_path):
    from rl_editor.preferences import load_preferences

    # The description's second entry elides its edits ({...}); they are spelled out here.
    data = [
        {
            "song_id": "song_001",
            "edit_a": {"path": "outputs/song_001_edit_a.wav", "actions": [0, 1, 0, 1, 2, 0], "duration_seconds": 215},
            "edit_b": {"path": "outputs/song_001_edit_b.wav", "actions": [0, 0, 1, 0, 2, 1], "duration_seconds": 230},
            "preference": "a",
            "strength": 2,
            "rater": "user_123",
            "timestamp": "2025-12-06T15:30:00",
            "notes": "Edit A is tighter and more energetic",
        },
        {
            "song_id": "song_002",
            "edit_a": {"path": "outputs/song_002_edit_a.wav", "actions": [0, 1, 0], "duration_seconds": 100},
            "edit_b": {"path": "outputs/song_002_edit_b.wav", "actions": [0, 0, 0], "duration_seconds": 120},
            "preference": "b",
            "strength": 1,
            "rater": "user_456",
            "timestamp": "2025-12-06T15:35:00",
            "notes": "Both are similar, slight preference for B's flow",
        },
    ]
    path = tmp_path / "preferences.json"
    path.write_text(json.dumps(data))
    pairs = load_preferences(path)
    assert [p.signed_strength for p in pairs] == [2, -1]


@pytest.fixture(scope="module")
def feedback_dir(tmp_path_factory, models_dir, demo_songs_dir) -> Path:
    """``feedback/preferences.json``: a musician's judgments of rendered candidates of two songs."""
    from rl_editor.generate import GenerateConfig, generate_candidates
    from rl_editor.raters import load_rater, synthesize_preferences

    root = tmp_path_factory.mktemp("feedback")
    songs = root / "songs"
    songs.mkdir()
    for wav in sorted(demo_songs_dir.glob("*.wav"))[:2]:
        (songs / wav.name).symlink_to(wav)
    manifest = generate_candidates(
        GenerateConfig(
            models_dir / "policy_final.pt",
            songs,
            root / "eval_outputs",
            temperatures=(0.5, 1.5),
            per_temperature=2,
            workers=1,
            progress=False,
        )
    )
    from rl_editor.preferences import save_preferences

    pairs = synthesize_preferences(manifest, load_rater("musician", seed=0), n_pairs=6, progress=False)
    for p in pairs:  # paths relative to the working directory the example runs in
        p.edit_a.path = str(manifest.resolve(p.edit_a.path))
        p.edit_b.path = str(manifest.resolve(p.edit_b.path))
    save_preferences(root / "feedback" / "preferences.json", pairs)
    return root


def test_step3_train_the_reward_model_on_preferences(feedback_dir, monkeypatch):
    monkeypatch.chdir(feedback_dir)
    (feedback_dir / "models").mkdir(exist_ok=True)
    from torch.utils.data import DataLoader

    from rl_editor.audio import extract_features
    from rl_editor.reward import LearnedRewardModel

    def load_json(path):
        with open(path) as f:
            return json.load(f)

    # Load preference data
    preference_data = load_json("feedback/preferences.json")

    training_pairs = []
    for pair in preference_data:
        edit_a_features = extract_features(pair["edit_a"]["path"])
        edit_b_features = extract_features(pair["edit_b"]["path"])
        if pair["preference"] == "a":
            target = pair["strength"]
        elif pair["preference"] == "b":
            target = -pair["strength"]
        else:
            target = 0
        training_pairs.append(
            {
                "features_a": edit_a_features,
                "features_b": edit_b_features,
                "target": target,
            }
        )

    # Edits have different numbers of beats, so the default collate cannot stack
    # them: pad each batch and pass a mask (the model's forward takes one).
    def collate(items):
        def pad(key):
            n = max(len(it[key]) for it in items)
            x = torch.zeros(len(items), n, 125)
            m = torch.zeros(len(items), n)
            for i, it in enumerate(items):
                x[i, : len(it[key])] = torch.as_tensor(it[key])
                m[i, : len(it[key])] = 1
            return x, m

        (fa, ma), (fb, mb) = pad("features_a"), pad("features_b")
        return {
            "features_a": fa,
            "mask_a": ma,
            "features_b": fb,
            "mask_b": mb,
            "target": torch.tensor([float(it["target"]) for it in items]),
        }

    dataloader = DataLoader(training_pairs, batch_size=32, shuffle=True, collate_fn=collate)

    reward_model = LearnedRewardModel(input_dim=125)
    optimizer = torch.optim.Adam(reward_model.parameters(), lr=1e-4)

    losses = []
    for _epoch in range(10):
        for batch in dataloader:
            score_a = reward_model(batch["features_a"], mask=batch["mask_a"])
            score_b = reward_model(batch["features_b"], mask=batch["mask_b"])
            preference_loss = torch.nn.functional.mse_loss(score_a - score_b, batch["target"])
            optimizer.zero_grad()
            preference_loss.backward()
            optimizer.step()
            losses.append(preference_loss.item())

    torch.save(reward_model.state_dict(), "models/reward_model_v9_with_feedback.pt")
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert Path("models/reward_model_v9_with_feedback.pt").stat().st_size > 1000


def test_phase1_generate_an_evaluation_set(feedback_dir, models_dir, demo_songs_dir, monkeypatch):
    monkeypatch.chdir(feedback_dir)
    import os

    from rl_editor.audio import extract_features, save_audio
    from rl_editor.policy.trainer import PolicyConfig, PPOTrainer

    config = PolicyConfig()
    sr = 22050
    os.makedirs("eval_outputs", exist_ok=True)

    policy = PPOTrainer(config)
    policy.load_checkpoint(models_dir / "policy_final.pt")

    eval_songs = list(Path(demo_songs_dir).glob("*.wav"))[:2]
    outputs = []
    for song_path in eval_songs:
        beat_features = extract_features(song_path)
        candidates = []
        for temp in [0.1, 0.3, 0.5, 0.7, 0.9]:
            # Rendering needs the song's audio: pass its path and render=True; the
            # result is (actions, AudioClip), and len() of audio is its sample count.
            actions, edit = policy.generate_edit(song_path, temperature=temp, render=True)
            assert len(actions) == len(beat_features)
            output_path = f"eval_outputs/{song_path.stem}_temp{temp}.wav"
            save_audio(output_path, edit)
            candidates.append(
                {"temperature": temp, "path": output_path, "duration": len(edit.samples) / edit.sample_rate}
            )
        outputs.append({"song": str(song_path), "candidates": candidates})

    with open("eval_outputs/manifest.json", "w") as f:
        json.dump(outputs, f)
    assert all(Path(c["path"]).is_file() and c["duration"] > 1 for o in outputs for c in o["candidates"])
    assert sr == 22050


def test_phase3_finetune_the_reward_model_from_v8(feedback_dir, monkeypatch):
    monkeypatch.chdir(feedback_dir)
    (feedback_dir / "models" / "reward_model_v8_long").mkdir(parents=True, exist_ok=True)
    # The model lives in rl_editor.reward (the description's rl_editor.learned_reward_integration).
    from rl_editor.preferences import load_preferences
    from rl_editor.reward import LearnedRewardModel
    from rl_editor.reward.train import RewardTrainConfig, build_pair_data, pair_gaps, resolve_analyses

    torch.save(LearnedRewardModel(input_dim=125).state_dict(), "models/reward_model_v8_long/reward_model_final.pt")

    # convert_to_training_pairs and train_epoch are the description's placeholders;
    # here they are the reward trainer's pair tensors and one Bradley-Terry epoch.
    def convert_to_training_pairs(preferences):
        analyses = resolve_analyses(preferences, RewardTrainConfig(base_dir=str(feedback_dir / "feedback")))
        return build_pair_data(preferences, analyses)

    def train_epoch(model, optimizer, data):
        gaps = pair_gaps(model, data, torch.arange(len(data.song_ids)))
        target = data.signed_strength.sign()
        loss = torch.nn.functional.softplus(-target * gaps).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    preferences = load_preferences("feedback/preferences.json")
    training_data = convert_to_training_pairs(preferences)

    model = LearnedRewardModel(input_dim=125)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    model.load_state_dict(torch.load("models/reward_model_v8_long/reward_model_final.pt"))

    for epoch in range(20):
        total_loss = train_epoch(model, optimizer, training_data)
        print(f"Epoch {epoch + 1}: Loss = {total_loss:.4f}")

    torch.save(model.state_dict(), "models/reward_model_v9_feedback.pt")
    assert np.isfinite(total_loss)


def test_phase4_finetune_the_policy_from_the_command_line(tmp_path, models_dir, demo_analyses, demo_songs_dir):
    from rl_editor.reward import RewardTrainConfig, reward_meta, train_reward_model
    from rlhf.rlhf_helpers import judged_pairs

    pairs = judged_pairs(models_dir / "policy_final.pt", demo_analyses[:2], n_edits=8)
    config = RewardTrainConfig(epochs=3, members=1, val_frac=0.0)
    ensemble, report = train_reward_model(pairs, config, analyses={a.song_id: a for a in demo_analyses[:2]})
    reward = tmp_path / "reward_model_v9_feedback.pt"
    ensemble.save(reward, reward_meta(pairs, config, report))
    # `python train_rlhf_stable.py --episodes 500 --reward_model ...` is `rl-editor finetune-policy`.
    out = tmp_path / "policy_v15.pt"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rl_editor.cli",
            "finetune-policy",
            "--init",
            str(models_dir / "policy_v14.pt"),
            "--reward-model",
            str(reward),
            "--songs",
            str(demo_songs_dir),
            "--episodes",
            "8",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.is_file() and "parent" in proc.stdout


@pytest.fixture(scope="module")
def policy_v15(models_dir, demo_analyses) -> Path:
    """``./models/policy_v15.pt``: ``policy_v14.pt`` fine-tuned on a reward learned from a musician's judgments."""
    from rl_editor.reward import RewardTrainConfig, reward_meta, train_reward_model
    from rl_editor.rlhf.finetune import FinetuneConfig, finetune_policy
    from rlhf.rlhf_helpers import judged_pairs

    songs = demo_analyses[:2]
    pairs = judged_pairs(models_dir / "policy_v14.pt", songs, n_edits=8)
    config = RewardTrainConfig(epochs=3, members=1, val_frac=0.0)
    ensemble, report = train_reward_model(pairs, config, analyses={a.song_id: a for a in songs})
    reward = ensemble.save(models_dir / "reward_model_v9_feedback.pt", reward_meta(pairs, config, report))
    trainer = finetune_policy(
        models_dir / "policy_v14.pt",
        reward,
        FinetuneConfig(episodes=16, n_steps=64, batch_size=128, n_epochs=2, reference_edits_per_song=4),
        analyses=songs,
        progress=False,
    )
    return trainer.save_checkpoint(models_dir / "policy_v15.pt")


def test_success_metrics_evaluate_improvement(models_dir, policy_v15, demo_songs_dir, capsys):
    from rl_editor.edit import Edit
    from rl_editor.policy.trainer import PolicyConfig, PPOTrainer
    from rl_editor.raters import load_rater

    config = PolicyConfig()
    models = models_dir

    def load_songs(folder):
        return sorted(Path(folder).glob("*.wav"))

    # A held-out simulated rater stands in for a person; it answers "new" or "old".
    rater = load_rater("musician", seed=99)
    judged = []  # (song, old edit, new edit, answer) of every human_rate call

    def human_rate(edit_old, edit_new, song):
        from rl_editor.audio import analyze_song

        analysis = analyze_song(song)
        j = rater.judge(analysis, Edit(analysis.song_id, edit_old), Edit(analysis.song_id, edit_new))
        answer = {"a": "old", "b": "new", "tie": "tie"}[j.preference]
        judged.append((analysis, edit_old, edit_new, answer))
        return answer

    # Compare edits
    def evaluate_improvement():
        policy_old = PPOTrainer(config)
        policy_old.load_checkpoint(models / "policy_v14.pt")

        policy_new = PPOTrainer(config)
        policy_new.load_checkpoint(models / "policy_v15.pt")

        test_songs = load_songs(demo_songs_dir)

        # For each song, generate edits with both policies
        win_count = 0
        for song in test_songs:
            edit_old = policy_old.generate_edit(song)
            edit_new = policy_new.generate_edit(song)

            # A/B test with held-out raters (human_rate also needs the song the edits are of)
            preference = human_rate(edit_old, edit_new, song)
            if preference == "new":
                win_count += 1

        improvement = win_count / len(test_songs)
        print(f"New policy wins: {improvement * 100:.1f}%")
        # Target: >60% win rate = significant improvement
        return improvement

    improvement = evaluate_improvement()

    # One judgment per test song, each of an old and a new edit of that song, and
    # the figure is the share the rater gave to the new policy's edit.
    assert [Path(a.path).name for a, *_ in judged] == [p.name for p in load_songs(demo_songs_dir)]
    assert all(len(old) == len(new) == a.n_beats for a, old, new, _ in judged)
    assert improvement == sum(answer == "new" for *_, answer in judged) / len(judged)
    assert f"New policy wins: {improvement * 100:.1f}%" in capsys.readouterr().out
    # "new" is the fine-tuned policy, not a second copy of the old one: it descends
    # from policy_v14 and, given the same sampling seed, edits the songs differently.
    old, new = PPOTrainer.from_checkpoint(models / "policy_v14.pt"), PPOTrainer.from_checkpoint(policy_v15)
    assert new.meta.parent == old.meta.version
    assert any(not np.array_equal(old.generate_edit(a, seed=0), new.generate_edit(a, seed=0)) for a, *_ in judged)
