"""One JSON form for every config dataclass: round trips, unknown keys and wrong types refused."""

from __future__ import annotations

import json

import pytest

from rl_editor.config import ConfigError, config_from_json, config_to_json
from rl_editor.policy.env import EnvConfig, PolicyError
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
    data = PolicyConfig().to_json()
    data["max_cut_run"] = 8  # a field of an older layout
    with pytest.raises(PolicyError, match="max_cut_run"):
        PolicyConfig.from_json(data)
