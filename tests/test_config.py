"""One JSON form for every config dataclass: round trips, unknown keys and wrong types refused."""

from __future__ import annotations

import json

import pytest

from rl_editor.config import ConfigError, config_from_json, config_to_json
from rl_editor.policy.config import EnvConfig
from rl_editor.policy.errors import PolicyError
from rl_editor.policy.trainer import PolicyConfig


def test_nested_configs_round_trip_through_json():
    config = PolicyConfig(seed=3, net_arch=[64, 32])
    config.env.target_range = (0.4, 0.8)
    config.env.reward.w_splice = 1.5
    data = json.loads(json.dumps(config_to_json(config)))
    assert data["env"]["target_range"] == [0.4, 0.8]
    assert config_from_json(PolicyConfig, data) == config


@pytest.mark.parametrize("path", [("surprise",), ("env", "surprise"), ("env", "reward", "surprise")])
def test_unknown_keys_are_refused_at_every_level(path):
    data = config_to_json(PolicyConfig())
    inner = data
    for key in path[:-1]:
        inner = inner[key]
    inner[path[-1]] = 1
    with pytest.raises(ConfigError, match="surprise"):
        config_from_json(PolicyConfig, data)


def test_wrong_types_name_the_field_in_the_caller_s_error():
    data = config_to_json(EnvConfig())
    data["reward"]["w_splice"] = "lots"
    with pytest.raises(PolicyError, match=r"env config\.reward\.w_splice"):
        config_from_json(EnvConfig, data, what="env config", error=PolicyError)


def test_policy_config_reads_its_own_files_strictly():
    data = config_to_json(PolicyConfig())
    data["max_cut_run"] = 8  # a field of an older layout
    with pytest.raises(PolicyError, match="max_cut_run"):
        config_from_json(PolicyConfig, data, what="policy config", error=PolicyError)


def test_fine_tuning_and_loop_settings_use_the_one_serializer():
    from rl_editor.rlhf.finetune import FinetuneConfig, RewardStatistics
    from rl_editor.rlhf.loop_config import LoopConfig

    loop = LoopConfig(songs_dir="songs", finetune=FinetuneConfig(kl_coef=0.2, length_grid=(0.5, 0.7)))
    data = json.loads(json.dumps(config_to_json(loop)))
    assert data["finetune"]["length_grid"] == [0.5, 0.7] and data["targets"][0] is None
    assert config_from_json(LoopConfig, data) == loop
    assert config_from_json(RewardStatistics, config_to_json(RewardStatistics({"a": 0.5}, 2.0))).song_mean == {"a": 0.5}
    data["finetune"]["log_dir"] = "logs"  # a runtime flag, no longer a setting
    with pytest.raises(ConfigError, match=r"finetune: unknown field\(s\) \['log_dir'\]"):
        config_from_json(LoopConfig, data)
