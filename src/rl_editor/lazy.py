"""Packages whose public names load on first use, so importing them (and ``rl-editor --help``) stays cheap.

>>> __all__, __getattr__, __dir__ = lazy_exports(__name__, {"model": ["LearnedRewardModel"]})  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(
    package: str, names_by_module: Mapping[str, Sequence[str]]
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` of ``package``, importing a name's module on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names_by_module : mapping of str to sequence of str
        ``{submodule: [names it exports]}``, submodules relative to ``package``.

    Returns
    -------
    tuple
        ``(__all__, __getattr__, __dir__)`` to assign in the package's ``__init__``.
    """
    module_of = {name: f"{package}.{module}" for module, names in names_by_module.items() for name in names}
    public = sorted(module_of)

    def getattr_(name: str) -> Any:
        module_name = module_of.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_name), name)
        setattr(sys.modules[package], name, value)  # later look-ups skip this function
        return value

    def dir_() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(public))

    return public, getattr_, dir_


__all__ = ["lazy_exports"]
