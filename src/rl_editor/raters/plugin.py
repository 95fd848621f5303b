"""Pluggable raters: one string names any rater, built in or external.

Spec forms accepted by :func:`load_rater`:

- ``musician``: a taste from :data:`~rl_editor.raters.tastes.TASTES` with the default noise
  (``NOISE_PRESETS["default"]``: perfectly rational, ties below a gap of 0.1).
- ``musician:mistake=0.1,beta=5``: the same with noise overrides. Keys: ``beta``,
  ``mistake`` (alias ``epsilon``), ``tie`` (``tie_threshold``), ``myopia``
  (``gamma``), ``position_bias`` (``bias``), plus ``noise=<preset>`` (oracle,
  default, human, careless), ``name=<rater name>`` and ``seed=<int>``.
- ``package.module:factory``: any importable callable. If it takes three
  positional arguments it is a judge function ``(song, edit_a, edit_b) -> Judgment | str``
  (a string is ``"a"``, ``"b"`` or ``"tie"``); otherwise it is called (with
  ``seed=`` when it accepts it) and must return an object with a ``judge`` method.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from rl_editor.audio.song import SongAnalysis
from rl_editor.edit import Edit
from rl_editor.formats import Preference
from rl_editor.preferences import PREFERENCES
from rl_editor.raters.simulated import NOISE_PRESETS, Judgment, Rater, SimulatedRater
from rl_editor.raters.tastes import TASTES, RaterError

NOISE_KEYS = {
    "beta": "beta",
    "mistake": "mistake",
    "epsilon": "mistake",
    "tie": "tie_threshold",
    "tie_threshold": "tie_threshold",
    "myopia": "myopia",
    "gamma": "myopia",
    "position_bias": "position_bias",
    "bias": "position_bias",
}


@dataclass
class FunctionRater:
    """Wraps a judge function ``(song, edit_a, edit_b) -> Judgment | str`` as a rater."""

    name: str
    function: Callable[[SongAnalysis, Edit, Edit], Any]

    def judge(self, song: SongAnalysis, edit_a: Edit, edit_b: Edit) -> Judgment:
        return as_judgment(self.function(song, edit_a, edit_b), self.name)


def as_judgment(answer: Any, rater_name: str) -> Judgment:
    """Accept a :class:`Judgment`, or ``"a"``/``"b"``/``"tie"`` (strength 1), from any rater."""
    if isinstance(answer, Judgment):
        return answer
    if isinstance(answer, str) and answer in PREFERENCES:
        return Judgment(Preference(answer), 1, None)
    for attr in ("preference", "strength"):
        if not hasattr(answer, attr):
            raise RaterError(f"rater {rater_name!r} returned {answer!r}; expected a Judgment or 'a', 'b', 'tie'")
    return Judgment(
        answer.preference,
        int(answer.strength),
        getattr(answer, "tie_kind", None),
        str(getattr(answer, "notes", "") or ""),
    )


def _parse_value(key: str, text: str, spec: str) -> float:
    lowered = text.strip().lower()
    if lowered in ("inf", "infinity"):
        return math.inf
    try:
        return float(lowered)
    except ValueError:
        raise RaterError(f"rater spec {spec!r}: {key}={text!r} is not a number") from None


def _simulated_from_spec(
    taste_name: str, options: str, seed: int, overrides: dict[str, Any], spec: str
) -> SimulatedRater:
    noise = NOISE_PRESETS["default"]
    name = taste_name
    changes: dict[str, float] = {}
    items = [item for item in options.split(",") if item.strip()] if options else []
    pairs = []
    for item in items:
        if "=" not in item:
            raise RaterError(f"rater spec {spec!r}: {item!r} should be key=value (e.g. musician:mistake=0.1,beta=5)")
        key, value = item.split("=", 1)
        pairs.append((key.strip(), value.strip()))
    pairs.extend((key, str(value)) for key, value in overrides.items())
    for key, value in pairs:
        if key == "noise":
            if value not in NOISE_PRESETS:
                raise RaterError(
                    f"rater spec {spec!r}: unknown noise preset {value!r}; known: {', '.join(NOISE_PRESETS)}"
                )
            noise = NOISE_PRESETS[value]
        elif key == "name":
            if not value:
                raise RaterError(f"rater spec {spec!r}: name must not be empty")
            name = value
        elif key == "seed":
            try:
                seed = int(value)
            except ValueError:
                raise RaterError(f"rater spec {spec!r}: seed={value!r} is not an integer") from None
        elif key in NOISE_KEYS:
            changes[NOISE_KEYS[key]] = _parse_value(key, value, spec)
        else:
            known = ", ".join(sorted(set(NOISE_KEYS) | {"noise", "name", "seed"}))
            raise RaterError(f"rater spec {spec!r}: unknown key {key!r}; known: {known}")
    try:
        noise = replace(noise, **changes)
    except RaterError as exc:
        raise RaterError(f"rater spec {spec!r}: {exc}") from None
    return SimulatedRater(name=name, taste=TASTES[taste_name], noise=noise, seed=seed)


def _positional_arity(fn: Callable) -> int | None:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return None
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty for p in params)


def _external_rater(module_name: str, attr_path: str, seed: int, spec: str) -> Rater:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise RaterError(
            f"rater spec {spec!r}: cannot import module {module_name!r} ({exc}); known tastes: {', '.join(TASTES)}"
        ) from None
    obj: Any = module
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            raise RaterError(f"rater spec {spec!r}: module {module_name!r} has no attribute {attr_path!r}")
        obj = getattr(obj, part)
    if hasattr(obj, "judge") and not inspect.isclass(obj):
        rater = obj
    elif not callable(obj):
        raise RaterError(f"rater spec {spec!r}: {attr_path!r} is neither callable nor a rater with judge()")
    elif _positional_arity(obj) == 3 and not inspect.isclass(obj):
        return FunctionRater(name=spec, function=obj)
    else:
        try:
            accepts_seed = "seed" in inspect.signature(obj).parameters
        except (TypeError, ValueError):
            accepts_seed = False
        rater = obj(seed=seed) if accepts_seed else obj()
    if not callable(getattr(rater, "judge", None)):
        raise RaterError(
            f"rater spec {spec!r}: {attr_path}() returned {type(rater).__name__}, which has no judge() method"
        )
    if not getattr(rater, "name", None):
        try:
            rater.name = spec
        except AttributeError:
            pass
    return rater


def load_rater(spec: str, seed: int = 0, **noise_overrides: Any) -> Rater:
    """Build a rater from a spec string (see the module docstring for the forms).

    Parameters
    ----------
    spec : str
        ``taste``, ``taste:key=value,...`` or ``module:callable``.
    seed : int
        Seed of the rater's noise (a ``seed=`` in the spec wins).
    **noise_overrides
        Noise parameters for a built-in taste, e.g. ``mistake=0.1``; applied after the spec's.

    Raises
    ------
    RaterError
        For an empty or malformed spec, an unknown taste or key, or an import that fails.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise RaterError(f"rater spec must be a taste name ({', '.join(TASTES)}) or module:callable, got {spec!r}")
    spec = spec.strip()
    head, sep, tail = spec.partition(":")
    if head in TASTES:
        return _simulated_from_spec(head, tail, seed, noise_overrides, spec)
    if not sep:
        raise RaterError(f"unknown rater {spec!r}: known tastes are {', '.join(TASTES)}, or give module:callable")
    if not tail or "=" in tail:
        raise RaterError(f"unknown taste {head!r} in rater spec {spec!r}; known tastes: {', '.join(TASTES)}")
    if noise_overrides:
        raise RaterError(f"rater spec {spec!r}: noise overrides only apply to built-in tastes")
    return _external_rater(head, tail, seed, spec)
