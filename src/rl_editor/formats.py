"""One file-format layer: the judgment vocabulary, a pydantic base for every file rl-editor writes, shared field types.

Preference files (:mod:`rl_editor.preferences`), the candidate manifest
(:mod:`rl_editor.generate.manifest`) and evaluation results
(:mod:`rl_editor.rlhf.evaluate`) are :class:`FormatModel` subclasses (model
metadata, a plain dataclass, goes through :mod:`rl_editor.config`'s
serializer). :func:`read_format` validates decoded JSON against one and raises
the caller's error with one line naming the place and the field, for example::

    prefs.json: entry 3.edit_b.actions[7]: must be 0 (keep), 1 (cut) or 2 (repeat), got 5

:meth:`FormatModel.to_json` writes the same JSON back: optional keys a file
did not have are not added. Formats that are only ours refuse unknown keys;
formats others write too (:class:`OpenFormatModel`) keep them.

Example
-------
>>> from rl_editor.preferences import PreferenceFormatError, PreferencePair
>>> read_format(PreferencePair, {"song_id": "s"}, where="entry 0", error=PreferenceFormatError)
Traceback (most recent call last):
...
rl_editor.preferences.PreferenceFormatError: entry 0: missing field 'edit_a'
"""

from __future__ import annotations

import enum
import json
import math
import numbers
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Annotated, Any, ClassVar, Self, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from rl_editor.errors import RlEditorError

M = TypeVar("M", bound="FormatModel")


class Preference(enum.StrEnum):
    """Which edit a rater preferred."""

    A = "a"
    B = "b"
    TIE = "tie"


class TieKind(enum.StrEnum):
    """What a tie means: both edits good, or both bad."""

    BOTH_GOOD = "both_good"
    BOTH_BAD = "both_bad"


class Strength(enum.IntEnum):
    """How strongly a rater preferred the edit."""

    SLIGHT = 1
    MODERATE = 2
    STRONG = 3


class PresentedOrder(enum.StrEnum):
    """Which edit the rater heard first: ``ab`` is edit A first."""

    AB = "ab"
    BA = "ba"


ACTION_WORDS = "0 (keep), 1 (cut) or 2 (repeat)"


class FormatModel(BaseModel):
    """Base of every file format: unknown keys refused, optional keys written only when the file had them.

    Fields named in ``omitted_at_default`` are left out of :meth:`to_json` while they hold their default.
    """

    model_config = ConfigDict(extra="forbid")
    omitted_at_default: ClassVar[tuple[str, ...]] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict; a field that defaults to None is left out unless it was given."""
        return self.model_dump(exclude=self._unset_optional_fields() or None)

    @classmethod
    def from_json(cls, data: Any) -> Self:
        """Build from decoded JSON; raises pydantic's ValidationError (a ValueError). Files: :func:`read_format`."""
        return _reading(cls, data)

    def _unset_optional_fields(self) -> dict[str, Any]:
        fields = type(self).model_fields
        unset: dict[str, Any] = {
            name: True for name, info in fields.items() if info.default is None and name not in self.model_fields_set
        }
        unset.update({name: True for name in self.omitted_at_default if getattr(self, name) == fields[name].default})
        for name in fields:
            value = getattr(self, name)
            if isinstance(value, FormatModel) and (inner := value._unset_optional_fields()):
                unset[name] = inner
            elif isinstance(value, list) and value and isinstance(value[0], FormatModel):
                per_item = {i: inner for i, item in enumerate(value) if (inner := item._unset_optional_fields())}
                if per_item:
                    unset[name] = per_item
        return unset


class OpenFormatModel(FormatModel):
    """A format with room for keys it does not declare: they are kept (in :attr:`extra`) and written back.

    Fields can also be given by position, in the order of ``positional_fields``
    (the last may be ``"extra"``: a dict of further keys, read like the file's own keys).
    """

    model_config = ConfigDict(extra="allow")
    positional_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args: Any, **data: Any) -> None:
        if len(args) > len(self.positional_fields):
            raise TypeError(f"{type(self).__name__} takes at most {len(self.positional_fields)} positional arguments")
        super().__init__(**dict(zip(self.positional_fields, args, strict=False)), **data)

    @model_validator(mode="before")
    @classmethod
    def _read_extra(cls, data: Any) -> Any:
        """Keys given in code as ``extra={...}`` are read like the file's own keys."""
        if isinstance(data, dict) and isinstance(data.get("extra"), Mapping):
            data = dict(data)
            data = {**data.pop("extra"), **data}
        return data

    @property
    def extra(self) -> dict[str, Any]:
        """The keys the format does not declare (a live dict: a key set here is written to the file)."""
        if self.__pydantic_extra__ is None:
            self.__pydantic_extra__ = {}
        return self.__pydantic_extra__


def read_format(
    cls: type[M], data: Any, *, where: str, error: type[RlEditorError], label: Callable[[Any], str] | None = None
) -> M:
    """Validate decoded JSON ``data`` as ``cls``; raise ``error`` with one line naming ``where`` and the field.

    Parameters
    ----------
    cls : FormatModel subclass
    data : object
        Decoded JSON.
    where : str
        Names the place of ``data`` (a file, an entry), the start of every message.
    error : RlEditorError subclass
        The caller's error type.
    label : callable, optional
        ``label(data)`` is added after ``where`` for errors other than a missing
        top-level field (the manifest names the song, `` (song 'a')``).
    """
    try:
        return _reading(cls, data)
    except ValidationError as exc:
        raise error(error_line(exc, where, data, label)) from None


def error_line(exc: ValidationError, where: str, data: Any = None, label: Callable[[Any], str] | None = None) -> str:
    """The first problem of ``exc`` as ``"{where}{field}: {what}, got {value}"``."""
    problems = exc.errors()
    first = next((p for p in problems if p["type"] == "missing"), problems[0])
    loc = list(first["loc"])
    kind = first["type"]
    if kind in ("missing", "extra_forbidden"):
        field = loc.pop() if loc else "?"
        what = "missing field" if kind == "missing" else "unknown field"
        if label is not None and loc:
            where += label(data)
        return f"{where}{_place(loc)}: {what} {field!r}"
    if label is not None and (loc or kind != "model_type"):
        where += label(data)
    ctx = first.get("ctx") or {}
    if "at" in ctx:
        loc.append(int(ctx["at"]))
    got = ctx.get("got", first.get("input"))
    return f"{where}{_place(loc)}: {_what(first)}, got {shown(got)}"


def _place(loc: list[Any]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def _what(problem: Any) -> str:
    kind = problem["type"]
    if kind in ("model_type", "dict_type", "model_attributes_type", "dataclass_type"):
        return "must be an object"
    if kind == "format":
        return str(problem["msg"])
    if kind == "list_type":
        return "must be a list"
    if kind == "enum":
        return f"must be {problem['ctx']['expected']}"
    message = str(problem["msg"])
    return "must be " + message[len("Input should be ") :] if message.startswith("Input should be ") else message


def shown(value: Any, limit: int = 40) -> str:
    """A short one-line rendering of a bad value for an error message."""
    text = json.dumps(value, default=repr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _problem(what: str, got: Any, at: int | None = None) -> PydanticCustomError:
    ctx: dict[str, Any] = {"got": got}
    if at is not None:
        ctx["at"] = at
    return PydanticCustomError("format", what, ctx)


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _text(allow_empty: bool) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not (value or allow_empty):
            raise _problem("must be a non-empty string" if not allow_empty else "must be a string", value)
        return value

    return check


# Set while a file is validated (a model with positional fields validates through its __init__, which gets no
# pydantic context).
_READING_A_FILE: ContextVar[bool] = ContextVar("reading_a_file", default=False)


def _reading(cls: type[M], data: Any) -> M:
    token = _READING_A_FILE.set(True)
    try:
        return cls.model_validate(data)
    finally:
        _READING_A_FILE.reset(token)


def _number(unit: str = "", minimum: float | None = None) -> Callable[[Any], float]:
    """A finite number; ``minimum`` is checked on files read with :func:`read_format` (code is trusted)."""
    bound = "" if minimum is None else f" >= {minimum:g}"

    def check(value: Any) -> float:
        reading = _READING_A_FILE.get()
        if not _is_number(value) or (reading and minimum is not None and value < minimum):
            raise _problem(f"must be a number{unit}{bound}", value)
        return float(value)

    return check


def _integer(value: Any) -> int:
    if not _is_integer(value):
        raise _problem("must be an integer", value)
    return int(value)


def _list_of(
    what: str, item_ok: Callable[[Any], bool], item_what: str, convert: Callable[[Any], Any]
) -> Callable[[Any], list[Any]]:
    """A list check done in one pass (fast for long lists), naming the first bad item's index."""

    def check(values: Any) -> list[Any]:
        if not isinstance(values, list):
            raise _problem(f"must be a list of {what}", values)
        if not all(map(item_ok, values)):
            at = next(i for i, v in enumerate(values) if not item_ok(v))
            raise _problem(f"must be {item_what}", values[at], at)
        return [convert(v) for v in values]

    return check


def _is_action(value: Any) -> bool:
    return _is_integer(value) and 0 <= value <= 2


Text = Annotated[str, BeforeValidator(_text(allow_empty=False))]
"""A non-empty string."""
AnyText = Annotated[str, BeforeValidator(_text(allow_empty=True))]
"""A string, maybe empty."""
Number = Annotated[float, BeforeValidator(_number())]
"""A finite number."""
Seconds = Annotated[float, BeforeValidator(_number(" of seconds"))]
"""A finite number of seconds."""
NonNegativeSeconds = Annotated[float, BeforeValidator(_number(" of seconds", minimum=0))]
"""A finite, non-negative number of seconds."""
Integer = Annotated[int, BeforeValidator(_integer)]
"""A whole number (not a bool)."""
Actions = Annotated[list[int], BeforeValidator(_list_of(ACTION_WORDS, _is_action, ACTION_WORDS, int))]
"""Per-beat actions: 0 keep, 1 cut, 2 repeat."""
Times = Annotated[list[float], BeforeValidator(_list_of("times in seconds", _is_number, "a time in seconds", float))]
"""Times in seconds."""


__all__ = [
    "ACTION_WORDS",
    "Actions",
    "AnyText",
    "FormatModel",
    "Integer",
    "NonNegativeSeconds",
    "OpenFormatModel",
    "Number",
    "Preference",
    "PresentedOrder",
    "Seconds",
    "Strength",
    "Text",
    "Times",
    "TieKind",
    "error_line",
    "read_format",
    "shown",
]
