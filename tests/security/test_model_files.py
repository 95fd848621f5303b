"""Model files cannot run code: crafted ``.pt`` files and crafted SB3 zips are refused on every load path.

Each crafted file is first shown to run code when loaded the unsafe way (so the
attack is real), then every rl-editor command that opens a model file refuses
it with one line and the marker file the payload would create never appears.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from rl_editor.config import config_to_json
from rl_editor.policy.errors import PolicyError
from rl_editor.policy.trainer import PolicyConfig, PPOTrainer
from rl_editor.preferences import EditRef, PreferencePair, save_preferences
from rl_editor.registry import ModelFileError, ModelMeta, load_model_file, new_version, save_model_file

pytestmark = pytest.mark.security


class MarkerPayload:
    """Unpickling it creates ``marker`` (stands for any code an attacker wants to run)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def assert_runs_code_when_unpickled_unsafely(path: Path, marker: Path, opener: str) -> None:
    """Open ``path`` the unsafe way in a child process and check the payload really fires."""
    subprocess.run([sys.executable, "-c", opener.format(path=str(path))], capture_output=True, timeout=120)
    assert marker.exists(), f"the crafted file {path} did not run its payload; the test would prove nothing"
    marker.unlink()


def crafted_model_file(path: Path, marker: Path, kind: str = "reward") -> Path:
    """A model file with valid rl-editor metadata whose state hides a code-running object."""
    meta = config_to_json(ModelMeta(kind=kind, version=new_version(kind)))
    torch.save({"rl_editor_model": 1, "meta": meta, "state": {"members": [MarkerPayload(marker)]}}, path)
    assert_runs_code_when_unpickled_unsafely(path, marker, "import torch; torch.load({path!r}, weights_only=False)")
    return path


def synthetic_song(seed: int, n_beats: int = 32):
    """A song known only by its per-beat features (half-second beats in bars of four)."""
    from rl_editor.audio.feature_layout import FEATURE_DIM, GROUP_SLICES, feature_index
    from rl_editor.policy.songs import analysis_from_features

    features = np.random.default_rng(seed).normal(size=(n_beats, FEATURE_DIM)).astype(np.float32)
    features[:, GROUP_SLICES["beat_in_bar_onehot"]] = np.eye(4)[np.arange(n_beats) % 4]
    features[:, feature_index("beat_duration_s")] = 0.5
    return analysis_from_features(features, song_id=f"song-{seed}")


@pytest.fixture(scope="module")
def tiny_trainer() -> PPOTrainer:
    trainer = PPOTrainer(PolicyConfig(seed=0, n_envs=2, n_steps=16, batch_size=32))
    trainer.train(4, analyses=[synthetic_song(s) for s in range(2)], progress=False)
    return trainer


def sb3_zip_policy_file(path: Path, trainer: PPOTrainer, edit_zip=None) -> Path:
    """A policy file in the layout written before weights were stored as tensors: SB3's zip as bytes."""
    buffer = io.BytesIO()
    trainer.model.save(buffer)
    zip_bytes = buffer.getvalue() if edit_zip is None else edit_zip(buffer.getvalue())
    meta = ModelMeta(kind="policy", version=new_version("policy"), config=config_to_json(trainer.config))
    save_model_file(path, {"sb3_zip": zip_bytes, "policy_config": config_to_json(trainer.config)}, meta)
    return path


def replace_zip_entry(zip_bytes: bytes, name: str, content: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.namelist():
            target.writestr(item, content if item == name else source.read(item))
    return out.getvalue()


def with_payload_in_sb3_data(marker: Path):
    def edit(zip_bytes: bytes) -> bytes:
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
            data = json.loads(archive.read("data"))
        data["observation_space"] = {
            ":type:": "<class 'gymnasium.spaces.box.Box'>",
            ":serialized:": base64.b64encode(pickle.dumps(MarkerPayload(marker))).decode(),
        }
        return replace_zip_entry(zip_bytes, "data", json.dumps(data).encode())

    return edit


def with_payload_in_sb3_weights(marker: Path):
    def edit(zip_bytes: bytes) -> bytes:
        weights = io.BytesIO()
        torch.save({"action_net.weight": MarkerPayload(marker)}, weights)
        return replace_zip_entry(zip_bytes, "policy.pth", weights.getvalue())

    return edit


SB3_ZIP_OF = "io.BytesIO(torch.load({path!r}, weights_only=False)['state']['sb3_zip'])"
UNSAFE_SB3_LOAD = f"import io, torch; from sb3_contrib import MaskablePPO; MaskablePPO.load({SB3_ZIP_OF})"
UNSAFE_WEIGHTS_LOAD = (
    f"import io, torch, zipfile; "
    f"torch.load(io.BytesIO(zipfile.ZipFile({SB3_ZIP_OF}).read('policy.pth')), weights_only=False)"
)


def test_a_crafted_model_file_is_refused_without_running_code(tmp_path):
    marker = tmp_path / "pwned"
    path = crafted_model_file(tmp_path / "reward.pt", marker)
    with pytest.raises(ModelFileError, match=r"reward.pt: refused: the file asks to build [\w.]*exec\b") as info:
        load_model_file(path)
    assert "\n" not in str(info.value)
    assert not marker.exists()


def test_models_lists_good_files_names_bad_ones_and_exits_nonzero(tmp_path, rl_editor_main, tiny_trainer):
    marker = tmp_path / "pwned"
    good = tiny_trainer.save_checkpoint(tmp_path / "models" / "policy.pt")
    crafted_model_file(tmp_path / "models" / "crafted.pt", marker)
    torch.save({"layer.weight": torch.zeros(2, 2)}, tmp_path / "models" / "foreign.pt")
    (tmp_path / "models" / "junk.pt").write_bytes(b"not a model at all")

    code, out, err = rl_editor_main("models", tmp_path / "models")

    assert code == 1
    assert not marker.exists()
    assert tiny_trainer.meta.version in out and str(good) in out
    skipped = err.strip().splitlines()
    assert len(skipped) == 3 and all(line.startswith("skipped ") for line in skipped)
    assert any("crafted.pt: refused" in line for line in skipped)
    assert any("foreign.pt: not an rl-editor model file (no rl-editor metadata)" in line for line in skipped)
    assert any("junk.pt: not a readable model file" in line for line in skipped)
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "craft, unsafe_open",
    [(with_payload_in_sb3_data, UNSAFE_SB3_LOAD), (with_payload_in_sb3_weights, UNSAFE_WEIGHTS_LOAD)],
    ids=["pickle-in-sb3-data", "pickle-in-sb3-weights"],
)
def test_a_crafted_sb3_zip_inside_a_policy_file_is_refused(tmp_path, tiny_trainer, craft, unsafe_open):
    marker = tmp_path / "pwned"
    path = sb3_zip_policy_file(tmp_path / "policy.pt", tiny_trainer, craft(marker))
    assert_runs_code_when_unpickled_unsafely(path, marker, unsafe_open)

    with pytest.raises(PolicyError, match=r"policy.pt: refused: .*re-train it") as info:
        PPOTrainer.from_checkpoint(path)
    assert "\n" not in str(info.value)
    assert not marker.exists()


def test_policy_files_written_with_an_sb3_zip_still_load_with_the_same_weights(tmp_path, tiny_trainer):
    path = sb3_zip_policy_file(tmp_path / "old-layout.pt", tiny_trainer)
    observations = np.random.default_rng(0).normal(size=(6, tiny_trainer.model.observation_space.shape[0]))

    loaded = PPOTrainer.from_checkpoint(path)

    np.testing.assert_array_equal(loaded.action_logits(observations), tiny_trainer.action_logits(observations))
    assert loaded.model.num_timesteps == tiny_trainer.model.num_timesteps


def test_a_fine_tuned_policy_file_with_the_older_metadata_still_loads_and_trains_on(tmp_path, tiny_trainer):
    """Fine-tuned policy files record their fine-tuning settings as the older FinetuneConfig wrote them,
    with the runtime flags (log folder, progress bars) that have since left the config."""
    from rl_editor.policy.checkpoint import policy_state

    older_finetune_config = {
        "episodes": 2000,
        "kl_coef": 0.05,
        "uncertainty_coef": 0.0,
        "reward_scale": 1.0,
        "dense_reward_scale": 0.0,
        "free_share": 0.0,
        "length_grid": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
        "reference_edits_per_song": 16,
        "n_steps": 32,
        "batch_size": 128,
        "n_epochs": 4,
        "learning_rate": 0.001,
        "ent_coef": 0.05,
        "gamma": 1.0,
        "gae_lambda": 1.0,
        "seed": 1,
        "log_dir": "/runs/iter-01/policy_logs",
        "progress": True,
    }
    policy_config = {
        **config_to_json(tiny_trainer.config),
        "n_steps": 32,
        "batch_size": 128,
        "gamma": 1.0,
        "gae_lambda": 1.0,
        "seed": 1,
        "preferred_target": 0.6,
    }
    meta = ModelMeta(
        kind="policy",
        version=new_version("policy"),
        config=policy_config,
        metrics={"finetune_config": older_finetune_config, "preferred_target": 0.6},
        trained_on={"reward_model": "reward-older", "episodes": 8},
    )
    path = save_model_file(tmp_path / "older.pt", policy_state(tiny_trainer.model, policy_config), meta)
    observations = np.random.default_rng(0).normal(size=(6, tiny_trainer.model.observation_space.shape[0]))

    loaded = PPOTrainer.from_checkpoint(path)

    np.testing.assert_array_equal(loaded.action_logits(observations), tiny_trainer.action_logits(observations))
    assert loaded.config.preferred_target == 0.6 and loaded.config.n_steps == 32
    child = loaded.continued(seed=2).train(2, analyses=[synthetic_song(s) for s in range(2)], progress=False)
    _, child_meta = load_model_file(child.save_checkpoint(tmp_path / "child.pt"), kind="policy")
    assert child_meta.parent == meta.version
    assert child_meta.trained_on["episodes"] > 8  # counted on from the older file's lineage


def test_policy_files_hold_only_tensors_and_plain_data(tmp_path, tiny_trainer):
    path = tiny_trainer.save_checkpoint(tmp_path / "policy.pt")
    blob = torch.load(path, weights_only=True)  # would raise on any pickled Python object
    assert "sb3_zip" not in blob["state"]
    observations = np.random.default_rng(1).normal(size=(6, tiny_trainer.model.observation_space.shape[0]))

    loaded = PPOTrainer.from_checkpoint(path)

    np.testing.assert_array_equal(loaded.action_logits(observations), tiny_trainer.action_logits(observations))
    original_adam = tiny_trainer.model.policy.optimizer.state_dict()["state"]
    loaded_adam = loaded.model.policy.optimizer.state_dict()["state"]
    assert loaded_adam.keys() == original_adam.keys()
    assert all(torch.equal(loaded_adam[k]["exp_avg"], original_adam[k]["exp_avg"]) for k in original_adam)


@pytest.fixture(scope="module")
def songs_dir(tmp_path_factory) -> Path:
    from rl_editor.audio.demo_songs import synthesize_corpus

    folder = tmp_path_factory.mktemp("songs")
    synthesize_corpus(folder, n_songs=2, seed=5, duration_range_s=(20.0, 24.0))
    return folder


def preferences_file(path: Path) -> Path:
    def edit(name: str) -> EditRef:
        return EditRef(path=name, actions=[0, 1, 0, 0], duration_seconds=1.5)

    save_preferences(
        path,
        [
            PreferencePair(
                song_id="song",
                edit_a=edit("a.wav"),
                edit_b=edit("b.wav"),
                preference="a",
                strength=2,
                rater="ana",
                timestamp="2026-01-01T00:00:00",
            )
        ],
    )
    return path


def command_lines(kind: str, crafted: Path, good_policy: Path, songs: Path, tmp_path: Path) -> list[list[object]]:
    if kind == "policy":
        return [
            ["generate", "--policy", crafted, "--songs", songs, "--out", tmp_path / "cands"],
            ["train-policy", "--init", crafted, "--songs", songs, "--episodes", 1, "--out", tmp_path / "p2.pt"],
            ["evaluate", "--old", good_policy, "--new", crafted, "--songs", songs],
        ]
    reward = ["--reward-model", crafted, "--songs", songs, "--episodes", 1]
    return [
        ["finetune-policy", "--init", good_policy, *reward, "--out", tmp_path / "p2.pt"],
        ["train-policy", "--init", good_policy, *reward, "--out", tmp_path / "p3.pt"],
        [
            "train-reward",
            "--preferences",
            preferences_file(tmp_path / "prefs.json"),
            "--init",
            crafted,
            "--out",
            tmp_path / "r2.pt",
        ],
    ]


@pytest.mark.parametrize("kind", ["policy", "reward"])
def test_every_command_that_opens_a_model_file_refuses_a_crafted_one(
    tmp_path, rl_editor_main, tiny_trainer, songs_dir, kind
):
    marker = tmp_path / "pwned"
    good_policy = tiny_trainer.save_checkpoint(tmp_path / "good.pt")
    crafted = crafted_model_file(tmp_path / f"crafted-{kind}.pt", marker, kind=kind)

    for args in command_lines(kind, crafted, good_policy, songs_dir, tmp_path):
        code, _, err = rl_editor_main(*args)
        assert code == 2, (args[0], err)
        last_line = err.strip().splitlines()[-1]  # progress bars may come before it
        assert last_line.startswith("error: ") and "refused" in last_line and "Traceback" not in err, (args[0], err)
        assert not marker.exists(), args[0]


def test_a_policy_whose_config_asks_for_a_bigger_network_than_its_weights_is_refused(tmp_path, tiny_trainer):
    """The network is built from the config, so a tiny file must not make rl-editor allocate a huge one."""
    from rl_editor.policy.checkpoint import policy_state

    config = {**config_to_json(tiny_trainer.config), "net_arch": [1_000_000, 1_000_000]}
    path = save_model_file(
        tmp_path / "policy.pt",
        policy_state(tiny_trainer.model, config),
        ModelMeta(kind="policy", version=new_version("policy")),
    )
    with pytest.raises(
        PolicyError,
        match=r"policy.pt: policy weight mlp_extractor.policy_net.0.weight has shape "
        r"\(128, \d+\), its config builds \(1000000, \d+\); re-train it",
    ):
        PPOTrainer.from_checkpoint(path)
