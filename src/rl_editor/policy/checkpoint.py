"""A policy's state inside its model file: weights as tensors, settings as plain data.

Stable-Baselines3's own ``save``/``load`` writes a zip whose ``data`` entry
holds cloudpickled objects, and ``MaskablePPO.load`` unpickles them: a crafted
zip runs code. A policy file therefore holds

* ``policy_weights``: ``policy.state_dict()`` (tensors),
* ``optimizer_state``: the Adam state (tensors and numbers),
* ``observation_dim`` and ``progress`` (timesteps, updates): numbers,
* ``policy_config``: the :class:`~rl_editor.policy.trainer.PolicyConfig` as JSON data,

and :func:`restore_policy_model` rebuilds the ``MaskablePPO`` from the config
and loads the tensors into it, so nothing but tensors and plain data is ever
unpickled (``rl_editor.registry`` reads the file with ``weights_only=True``).

Files written before this layout hold the SB3 zip as bytes (``sb3_zip``).
:func:`state_from_sb3_zip` reads their weights the same safe way, and checks
the pickled ``data`` entry without building anything from it: a zip whose
``data`` names anything SB3 itself does not write is refused.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

from rl_editor.policy.errors import PolicyError

POLICY_STATE_FORMAT = 2
_RETRAIN = "re-train it with rl-editor train-policy"
# Everything the cloudpickled entries of a MaskablePPO zip written by SB3 2.x refer to.
_SB3_DATA_GLOBALS = frozenset(
    {
        ("sb3_contrib.common.maskable.policies", "MaskableActorCriticPolicy"),
        ("sb3_contrib.common.maskable.buffers", "MaskableRolloutBuffer"),
        ("stable_baselines3.common.utils", "ConstantSchedule"),
        ("stable_baselines3.common.utils", "FloatSchedule"),
        ("gymnasium.spaces.box", "Box"),
        ("gymnasium.spaces.discrete", "Discrete"),
        ("collections", "deque"),
        ("numpy", "dtype"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy.random._pcg64", "PCG64"),
        ("numpy.random._pickle", "__bit_generator_ctor"),
        ("numpy.random._pickle", "__generator_ctor"),
        ("numpy.random.bit_generator", "SeedSequence"),
        ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
    }
)


def policy_state(model: Any, policy_config: dict[str, Any]) -> dict[str, Any]:
    """The state of a ``MaskablePPO`` as tensors and plain data, for :func:`rl_editor.registry.save_model_file`.

    Parameters
    ----------
    model : sb3_contrib.MaskablePPO
    policy_config : dict
        ``config_to_json(PolicyConfig)`` of the trainer that owns ``model``.
    """
    return {
        "format": POLICY_STATE_FORMAT,
        "policy_config": policy_config,
        "observation_dim": int(model.observation_space.shape[0]),
        "policy_weights": model.policy.state_dict(),
        "optimizer_state": model.policy.optimizer.state_dict(),
        "progress": {"num_timesteps": int(model.num_timesteps), "n_updates": int(model._n_updates)},
    }


def copy_policy_state(source: Any, target: Any) -> None:
    """Give ``target`` the weights, optimizer state and training progress of ``source`` (two ``MaskablePPO``).

    ``target`` may be built with other PPO settings (rollout length, learning
    rate, ...) but the same network; SB3's ``set_parameters`` loads the tensors
    (copies: training ``target`` leaves ``source`` as it was).
    """
    import copy

    target.set_parameters(copy.deepcopy(source.get_parameters()), exact_match=True)
    target.num_timesteps = int(source.num_timesteps)
    target._n_updates = int(source._n_updates)


def restore_policy_model(model: Any, state: dict[str, Any], path: str | Path) -> Any:
    """Give an unbuilt ``MaskablePPO`` (``_init_setup_model=False``) its spaces, then load the stored tensors.

    Parameters
    ----------
    model : sb3_contrib.MaskablePPO
        Made from the stored config, without an environment and not yet set up.
    state : dict
        As written by :func:`policy_state` (or converted by :func:`state_from_sb3_zip`).
    path : str or Path
        The model file, named in errors.

    Returns
    -------
    sb3_contrib.MaskablePPO
        ``model``, set up, holding the stored weights and optimizer state.
    """
    import gymnasium as gym
    import numpy as np

    dim = state.get("observation_dim")
    if not isinstance(dim, int) or dim < 1:
        raise PolicyError(f"{path}: policy file lacks its observation size; {_RETRAIN}")
    _check_layer_shapes(state, path)
    model.observation_space = gym.spaces.Box(low=-np.inf, high=np.inf, shape=(dim,), dtype=np.float32)
    model.action_space = gym.spaces.Discrete(3)
    model.n_envs = int(state["policy_config"].get("n_envs", 1))
    model._setup_model()
    try:
        model.policy.load_state_dict(state["policy_weights"])
        if state.get("optimizer_state"):
            model.policy.optimizer.load_state_dict(state["optimizer_state"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PolicyError(f"{path}: policy weights do not fit its config ({reason}); {_RETRAIN}") from None
    progress = state.get("progress") or {}
    model.num_timesteps = int(progress.get("num_timesteps", 0))
    model._n_updates = int(progress.get("n_updates", 0))
    return model


def _check_layer_shapes(state: dict[str, Any], path: str | Path) -> None:
    """Refuse weights whose layer shapes differ from what the config builds (before building anything)."""
    weights = state.get("policy_weights")
    arch = state["policy_config"].get("net_arch", [])
    if not isinstance(weights, dict) or not isinstance(arch, list) or not all(isinstance(n, int) for n in arch):
        raise PolicyError(f"{path}: policy file lacks its weights or network layout; {_RETRAIN}")
    sizes = [state["observation_dim"], *arch]
    expected = {
        f"mlp_extractor.{net}.{2 * i}.weight": (n_out, n_in)
        for net in ("policy_net", "value_net")
        for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]))
    }
    expected["action_net.weight"] = (3, sizes[-1])
    for name, shape in expected.items():
        found = tuple(getattr(weights.get(name), "shape", ()))
        if found != shape:
            raise PolicyError(f"{path}: policy weight {name} has shape {found}, its config builds {shape}; {_RETRAIN}")


def state_from_sb3_zip(zip_bytes: bytes, policy_config: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """The :func:`policy_state` of a policy file that stores SB3's zip (files written before format 2).

    Weights come from the zip's ``policy.pth`` and ``policy.optimizer.pth``
    (``weights_only=True``); of ``data`` only plain JSON numbers are read, and
    its pickled entries are checked against what SB3 writes without building any object.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
            data = json.loads(archive.read("data"))
            weights = _tensors_in(archive, "policy.pth", path)
            optimizer = (
                _tensors_in(archive, "policy.optimizer.pth", path)
                if "policy.optimizer.pth" in archive.namelist()
                else None
            )
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError):
        raise PolicyError(f"{path}: the stored SB3 policy is damaged; {_RETRAIN}") from None
    if not isinstance(data, dict) or not isinstance(weights, dict):
        raise PolicyError(f"{path}: the stored SB3 policy is damaged; {_RETRAIN}")
    _check_sb3_data(data, path)
    first_layer = weights.get("mlp_extractor.policy_net.0.weight", weights.get("action_net.weight"))
    if first_layer is None or getattr(first_layer, "ndim", 0) != 2:
        raise PolicyError(f"{path}: the stored SB3 policy has no policy network; {_RETRAIN}")
    return {
        "format": POLICY_STATE_FORMAT,
        "policy_config": policy_config,
        "observation_dim": int(first_layer.shape[1]),
        "policy_weights": weights,
        "optimizer_state": optimizer,
        "progress": {
            "num_timesteps": _plain_int(data.get("num_timesteps")),
            "n_updates": _plain_int(data.get("_n_updates")),
        },
    }


def _plain_int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _tensors_in(archive: zipfile.ZipFile, name: str, path: str | Path) -> Any:
    import torch

    try:
        return torch.load(io.BytesIO(archive.read(name)), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise PolicyError(
            f"{path}: refused: the stored SB3 {name} holds objects other than tensors (loading it could run code); "
            f"{_RETRAIN}"
        ) from None


class _ForbiddenGlobal(pickle.UnpicklingError):
    """A pickle names a global that SB3 never writes."""


class _GlobalsOnly(pickle.Unpickler):
    """Walks a pickle and records the globals it names; builds nothing (each global becomes a no-op stand-in)."""

    def __init__(self, raw: bytes) -> None:
        super().__init__(io.BytesIO(raw))
        self.named: list[tuple[str, str]] = []

    def find_class(self, module: str, name: str) -> Any:
        self.named.append((module, name))
        if (module, name) not in _SB3_DATA_GLOBALS:
            raise _ForbiddenGlobal(f"{module}.{name}")
        return _StandIn

    def persistent_load(self, pid: Any) -> Any:
        raise _ForbiddenGlobal(f"persistent id {pid!r}")


class _StandIn:
    """Accepts whatever a pickle passes to a class or function and keeps none of it."""

    def __new__(cls, *args: Any, **kwargs: Any) -> _StandIn:
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> _StandIn:
        return _StandIn()

    def __setstate__(self, state: Any) -> None:
        pass

    def append(self, item: Any) -> None:
        pass

    def extend(self, items: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


def _check_sb3_data(data: dict[str, Any], path: str | Path) -> None:
    """Refuse an SB3 ``data`` entry whose pickled values name anything SB3 does not write."""
    for key, item in data.items():
        if not (isinstance(item, dict) and ":serialized:" in item):
            continue
        try:
            raw = base64.b64decode(str(item[":serialized:"]).encode(), validate=True)
            _GlobalsOnly(raw).load()
        except _ForbiddenGlobal as exc:
            raise PolicyError(
                f"{path}: refused: the stored SB3 data entry {key!r} names {exc}, which SB3 never writes "
                f"(loading it could run code); {_RETRAIN}"
            ) from None
        except (
            pickle.UnpicklingError,
            binascii.Error,
            EOFError,
            ValueError,
            TypeError,
            AttributeError,
            IndexError,
            KeyError,
        ):
            raise PolicyError(f"{path}: the stored SB3 data entry {key!r} is damaged; {_RETRAIN}") from None
