"""One way to write and read configuration dataclasses as JSON.

Configs are plain (nested) dataclasses. :func:`config_to_json` turns one into
JSON-ready dicts; :func:`config_from_json` validates a dict against the
dataclass with pydantic (types coerced as pydantic does, nested configs built,
unknown keys refused) and raises the caller's error type with one line naming
the field.

Example
-------
>>> data = config_to_json(PolicyConfig())           # doctest: +SKIP
>>> config_from_json(PolicyConfig, data) == PolicyConfig()  # doctest: +SKIP
True
"""

from __future__ import annotations

import dataclasses
from functools import cache
from typing import Any, TypeVar, cast

from rl_editor.errors import RlEditorError

C = TypeVar("C")


class ConfigError(RlEditorError, ValueError):
    """A configuration dict that does not fit its dataclass."""


def config_to_json(config: Any) -> dict[str, Any]:
    """JSON-ready dict of a (nested) config dataclass; tuples become lists."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"{type(config).__name__} is not a dataclass")

    def plain(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return {name: plain(value) for name, value in dataclasses.asdict(config).items()}


@cache
def _adapter(cls: type) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(cls)


def _forbid_extra_everywhere(cls: type, data: Any, where: str) -> None:
    """Refuse unknown keys at every level (pydantic ignores them in stdlib dataclasses)."""
    if not isinstance(data, dict) or not dataclasses.is_dataclass(cls):
        return
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {unknown}; known: {sorted(fields)}")
    hints = _type_hints(cls)
    for name, value in data.items():
        inner = hints.get(name)
        if isinstance(inner, type) and dataclasses.is_dataclass(inner):
            _forbid_extra_everywhere(inner, value, f"{where}.{name}")


def _type_hints(cls: type) -> dict[str, Any]:
    import typing

    return typing.get_type_hints(cls)


def config_from_json(
    cls: type[C], data: Any, *, what: str | None = None, error: type[RlEditorError] = ConfigError
) -> C:
    """Build ``cls`` from ``data``, refusing unknown keys and wrong types.

    Parameters
    ----------
    cls : dataclass type
    data : dict
    what : str, optional
        Names the config in error messages (default: the class name).
    error : RlEditorError subclass
        Raised with a one-line message when ``data`` does not fit.
    """
    from pydantic import ValidationError

    where = what or cls.__name__
    try:
        _forbid_extra_everywhere(cls, data, where)
    except ConfigError as exc:
        raise error(str(exc)) from None
    adapted: type = cls  # a class is hashable, as the adapter cache needs
    try:
        return cast(C, _adapter(adapted).validate_python(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise error(f"{where}.{field}: {first['msg']}") from None


__all__ = ["ConfigError", "config_from_json", "config_to_json"]
